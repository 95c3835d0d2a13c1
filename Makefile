# Developer entry points. `make run` starts the product, `make test` runs every test.

SHELL := /bin/bash
-include .env
export

CARGO ?= cargo
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
VENV := .venv
API := target/debug/mailing-api

.PHONY: run build migrate fixtures test check-services unit openapi openapi-check validate-openapi fmt lint clean-venv

## run: migrate the local PostgreSQL, load fixtures and serve the API on :8000
run: build migrate fixtures
	$(API) serve

build:
	$(CARGO) build --bins

## migrate: create the database if needed and apply migrations
migrate: build
	$(API) migrate

## fixtures: load fixtures/dev.json (idempotent)
fixtures: build
	$(API) load-fixtures fixtures/dev.json

## test: unit, storage and black-box HTTP tests, then OpenAPI validation
test: check-services
	$(CARGO) test --workspace --all-targets
	$(MAKE) validate-openapi

check-services:
	@pg_isready -q -h $(PG_HOST) -p $(PG_PORT) || { \
	  echo "PostgreSQL is not answering on $(PG_HOST):$(PG_PORT)."; \
	  echo "Start it with: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; \
	  exit 1; }

## openapi: regenerate docs/openapi.json from the code
openapi: build
	$(API) openapi > docs/openapi.json

$(VENV)/bin/openapi-spec-validator:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet openapi-spec-validator==0.9.0

## validate-openapi: check docs/openapi.json against the OpenAPI 3 schema
validate-openapi: $(VENV)/bin/openapi-spec-validator
	$(VENV)/bin/openapi-spec-validator docs/openapi.json

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean-venv:
	rm -rf $(VENV)
