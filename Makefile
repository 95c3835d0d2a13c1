# Developer entry points: `make` lists them, `make run` starts the product, `make test` runs
# every test. Each target a person runs has a `## name: summary` comment; `make help` prints
# the first line of each, so keep that line a summary on its own.

SHELL := /bin/bash
# This file, before .env joins the list.
MAKEFILE := $(lastword $(MAKEFILE_LIST))
-include .env
export

.DEFAULT_GOAL := help

CARGO ?= cargo
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
VENV := .venv
BIN := $(or $(CARGO_TARGET_DIR),target)/debug
API := $(BIN)/mailing-api
BROWSER_DIR := crates/api/browser
CHROMIUM ?= /usr/bin/chromium

.PHONY: help run run-distributed mail-sink build migrate fixtures test bench faults check-services openapi validate-openapi validate-deploy generated-client fuzz-api browser-deps test-browser promtool-deps check-alerts check-metrics up down fmt lint clean-venv

## help: list the targets with what each does (the default goal)
help:
	@awk ' \
	  /^## / { \
	    if (!in_comment && match($$0, /^## [a-z][a-z-]*: /)) { \
	      n++; name[n] = substr($$0, 4, RLENGTH - 5); text[n] = substr($$0, RLENGTH + 1); \
	      if (RLENGTH - 5 > width) width = RLENGTH - 5; \
	    } \
	    in_comment = 1; next; \
	  } \
	  { in_comment = 0 } \
	  END { \
	    print "Usage: make <target>   (README.md: the first hour; docs/: the rest)"; print ""; \
	    for (i = 1; i <= n; i++) printf "  %-" width "s  %s\n", name[i], text[i]; \
	  }' $(MAKEFILE)

## run: build and start the whole product in one process: api and /admin on :8000
## `mailing`: the api on :8000, the scheduler, the sender and the probe simulator on :8090, on
## ./data/mailing.db and the in-process bus; needs nothing but the Rust toolchain. Ctrl-C stops
## it; the data stays for the next run. MAILING_HTTP_ADDR and PROBE_SIM_ADDR move its ports,
## e.g. make run MAILING_HTTP_ADDR=127.0.0.1:8001 PROBE_SIM_ADDR=127.0.0.1:8091
run:
	$(CARGO) build --bin mailing
	$(BIN)/mailing

## run-distributed: run the production layout here, on the local PostgreSQL and RabbitMQ
## Migrates the local PostgreSQL, loads the fixtures, then runs probe-sim (:8090), the api
## (:8000), the scheduler and the sender as separate processes until Ctrl-C.
run-distributed: build migrate fixtures check-services
	@trap 'kill 0' INT TERM EXIT; \
	export MAILING_PROBE_URL=$${MAILING_PROBE_URL:-http://127.0.0.1:8090}; \
	export MAILING_PROBE_TOKEN=$${MAILING_PROBE_TOKEN:-$$($(BIN)/probe-sim token)}; \
	$(BIN)/probe-sim & \
	$(BIN)/mailing-scheduler & \
	$(BIN)/mailing-sender & \
	$(API) serve & \
	wait

## mail-sink: a local SMTP server on 127.0.0.1:2525 that prints every e-mail it gets
## For trying the daily report e-mail: aiosmtpd from .venv (installed on first use). Point the
## product at it with MAILING_SMTP_URL='smtp://127.0.0.1:2525?tls=none'. Ctrl-C stops it.
mail-sink: $(VENV)/smtp-requirements.txt
	$(VENV)/bin/python -m aiosmtpd -n -l 127.0.0.1:2525

## build: build every binary (debug) into target/debug
build:
	$(CARGO) build --bins

## migrate: create the PostgreSQL database if needed and apply the migrations
migrate: build
	$(API) migrate

## fixtures: load fixtures/dev.json into the PostgreSQL database (idempotent)
fixtures: build
	$(API) load-fixtures fixtures/dev.json

## test: lint and run every test (needs PostgreSQL and RabbitMQ; installs the rest)
## `make lint` first, then unit, storage and black-box HTTP tests (both setups), end-to-end
## scenarios (each service's fresh /metrics through `promtool check metrics` among them) and a
## short fault run, then the alert rules (`make check-alerts`), then the admin UI in a headless
## browser, then OpenAPI and deployment file validation, then a Python client generated from
## the OpenAPI document driving the api, then fuzzing the api against its document. Installs
## what the tests need first (promtool, Chromium and npm packages for the browser tests, Python
## packages in .venv), each only when missing. CI (.ci/run) runs nothing else.
test: check-services promtool-deps browser-deps $(VENV)/oidc-requirements.txt $(VENV)/smtp-requirements.txt
	$(MAKE) lint
	$(CARGO) build --bins
	$(CARGO) test --workspace --all-targets
	$(MAKE) check-alerts
	$(MAKE) test-browser
	$(MAKE) validate-openapi
	$(MAKE) validate-deploy
	$(MAKE) generated-client
	$(MAKE) fuzz-api

## bench: measure the performance targets of docs/performance.md on release binaries
## Both setups, a table per setup (JSON in target/bench/); the distributed half needs
## PostgreSQL and RabbitMQ. Options through ARGS, e.g. make bench ARGS="--runs 3 --clients
## 1000000"; make bench ARGS=--help lists them.
bench:
	$(CARGO) build --release --bins
	target/release/mailing-bench $(ARGS)

## faults: run the fault-injection suite of docs/faults.md on release binaries
## Three runs of a 100,000-recipient mailing through SIGKILLed services, PostgreSQL and RabbitMQ restarts and
## a slow, failing and absent probe, with two schedulers and three senders; each run prints
## what it did and every promise's count beside its bound, and fails if one is broken. Each
## run starts PostgreSQL and RabbitMQ servers of its own from the installed binaries, so the
## machine's servers need not run. Options through ARGS, e.g. make faults ARGS="--runs 1
## --seed 7"; make faults ARGS=--help lists them.
faults:
	$(CARGO) build --release --bins
	$(or $(CARGO_TARGET_DIR),target)/release/mailing-faults $(ARGS)

## check-services: check that PostgreSQL and RabbitMQ answer, and say how to start them
check-services:
	@pg_isready -q -h $(PG_HOST) -p $(PG_PORT) || { \
	  echo "PostgreSQL is not answering on $(PG_HOST):$(PG_PORT)."; \
	  echo "Start it with: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; \
	  exit 1; }
	@(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { \
	  echo "RabbitMQ is not answering on 127.0.0.1:5672."; \
	  echo "Start it with: rabbitmq-server -detached"; \
	  exit 1; }

## openapi: regenerate docs/openapi.json from the code
openapi: build
	$(API) openapi > docs/openapi.json

$(VENV)/bin/openapi-spec-validator:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet openapi-spec-validator==0.9.0

## validate-openapi: check docs/openapi.json and docs/probe-api.yaml against the OpenAPI 3 schema
validate-openapi: $(VENV)/bin/openapi-spec-validator
	$(VENV)/bin/openapi-spec-validator docs/openapi.json docs/probe-api.yaml

$(VENV)/deploy-requirements.txt: deploy/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r deploy/requirements.txt
	cp deploy/requirements.txt $@

## validate-deploy: check the Kubernetes manifests, the Dockerfile and the compose file
## The manifests (kustomize base and overlays, built here) against the Kubernetes schemas
## offline, and the Dockerfile and compose file for consistency.
validate-deploy: $(VENV)/deploy-requirements.txt
	$(VENV)/bin/python deploy/validate.py

$(VENV)/client-requirements.txt: crates/api/client-test/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r crates/api/client-test/requirements.txt
	cp crates/api/client-test/requirements.txt $@

## generated-client: generate a Python client from the OpenAPI document and drive the api with it
## With the pinned openapi-python-client, into target/generated-client/ (under CARGO_TARGET_DIR
## if set); then, on a fresh PostgreSQL database, as an integrator would: log in, create an
## operator, a client and a mailing, read its statistics, read a 422's field details, retry a
## write with its Idempotency-Key. Fails if the generator warns. See
## crates/api/client-test/README.md.
generated-client: $(VENV)/client-requirements.txt
	$(CARGO) build --bin mailing-api
	$(VENV)/bin/python crates/api/client-test/run.py --api $(API) \
	  --out $(or $(CARGO_TARGET_DIR),target)/generated-client

$(VENV)/oidc-requirements.txt: crates/api/oidc-provider/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r crates/api/oidc-provider/requirements.txt
	cp crates/api/oidc-provider/requirements.txt $@

$(VENV)/smtp-requirements.txt: crates/reports/smtp-sink/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r crates/reports/smtp-sink/requirements.txt
	cp crates/reports/smtp-sink/requirements.txt $@

$(VENV)/fuzz-requirements.txt: crates/api/fuzz/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r crates/api/fuzz/requirements.txt
	cp crates/api/fuzz/requirements.txt $@

FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= 20261128

## fuzz-api: fuzz every operation of the api's OpenAPI document with schemathesis
## On a fresh PostgreSQL database, logged in (FUZZ_EXAMPLES cases per operation, seed
## FUZZ_SEED): no 5xx and every response as documented. See crates/api/fuzz/README.md.
fuzz-api: $(VENV)/fuzz-requirements.txt
	$(CARGO) build --bin mailing-api
	$(VENV)/bin/python crates/api/fuzz/run.py --api $(API) \
	  --max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

$(BROWSER_DIR)/node_modules/.package-lock.json: $(BROWSER_DIR)/package-lock.json $(BROWSER_DIR)/package.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	touch $@

## browser-deps: install what test-browser needs (Chromium, npm packages) when missing
## Debian's chromium (only if /usr/bin/chromium is missing) and the browser tests' npm packages
## (playwright-core, no browser download; only if node_modules is missing or older than
## package-lock.json).
browser-deps: $(BROWSER_DIR)/node_modules/.package-lock.json
	@if [ ! -x /usr/bin/chromium ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's chromium"; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends chromium; \
	fi
	@$(CHROMIUM) --version 2>/dev/null

## promtool-deps: install promtool (Debian's prometheus package) when missing
## Only if `promtool` is not on PATH; with sudo when not root. The metrics end-to-end test and
## `make check-alerts` need it.
promtool-deps:
	@if ! command -v promtool >/dev/null; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's prometheus (for promtool)"; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends prometheus; \
	fi
	@promtool --version 2>&1 | head -1

## check-alerts: check and unit-test the shipped alert rules with promtool
## `promtool check rules` on deploy/prometheus/alerts.yml, `promtool test rules` on
## deploy/prometheus/alerts.test.yml (each alert fires when it should and only then), and a check
## that deploy/k8s/optional/prometheusrule.yaml carries the same groups. Needs `make
## promtool-deps` once (`make test` runs it).
check-alerts: $(VENV)/deploy-requirements.txt
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts.test.yml
	$(VENV)/bin/python deploy/prometheus/check_rules_in_sync.py

## check-metrics: check the alert rules and every service's live /metrics with promtool
## `make check-alerts`, then the end-to-end test that starts each setup (PostgreSQL and
## RabbitMQ needed for the distributed one), scrapes each service's /metrics right after start,
## finds every series of docs/metrics.md there (counters at 0) and passes each page through
## `promtool check metrics`. `make test` runs both as part of its suites.
check-metrics: check-services promtool-deps check-alerts
	$(CARGO) build --bins
	$(CARGO) test -p mailing-e2e --test e2e metrics::fresh_pages

## test-browser: test the admin web UI (/admin) in headless Chromium
## Starts its own `mailing` on a fresh SQLite database and free ports, logs in, creates operators, tags, clients, a client
## filter and a mailing, watches it deliver, checks CSRF refusals and logs out; screenshots
## and the instance's log in target/browser-artifacts/ (under CARGO_TARGET_DIR if set). Needs
## `make browser-deps` once (`make test` runs it); see crates/api/browser/README.md
test-browser:
	$(CARGO) build --bin mailing
	@[ -x "$(CHROMIUM)" ] || { \
	  echo "No Chromium at $(CHROMIUM): run \`make browser-deps\` first (or set CHROMIUM)."; \
	  exit 1; }
	@[ -d $(BROWSER_DIR)/node_modules/playwright-core ] || { \
	  echo "$(BROWSER_DIR)/node_modules is missing: run \`make browser-deps\` first."; \
	  exit 1; }
	cd $(BROWSER_DIR) && MAILING_BIN=$${MAILING_BIN:-$(abspath $(BIN))/mailing} \
	  CHROMIUM=$(CHROMIUM) node --test --test-concurrency=1 tests/*.test.js

## up: build the images and start the distributed setup in docker compose
## PostgreSQL, RabbitMQ, the migration, the fixtures, the api on :8000, the scheduler, the
## sender and probe-sim on :8090; needs Docker with the compose plugin. See docs/deploy.md.
up:
	docker compose -f deploy/docker-compose.yml up --build

## down: stop and remove the compose containers (the data volumes stay)
down:
	docker compose -f deploy/docker-compose.yml down

## fmt: format the Rust code
fmt:
	$(CARGO) fmt --all

## lint: check formatting and run clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## clean-venv: remove .venv, the Python packages the checks installed
clean-venv:
	rm -rf $(VENV)
