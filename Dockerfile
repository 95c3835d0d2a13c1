# syntax=docker/dockerfile:1.7
# Images of the distributed services, one target each:
#
#   docker build --target api       -t mailing-api .
#   docker build --target scheduler -t mailing-scheduler .
#   docker build --target sender    -t mailing-sender .
#   docker build --target probe-sim -t probe-sim .      (test tool: never in production)
#
# BuildKit is required (cache mounts). The builder compiles the four binaries once; each target
# is Debian slim with libpq5 and CA certificates, runs as the numeric user 10001 and holds no
# secret: every setting comes from MAILING_* (or PROBE_SIM_*) variables at run time.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads: the workspace, the embedded migrations, the OpenAPI document the
# api embeds and the fixtures the embedded binary's crate includes.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
COPY docs/openapi.json docs/openapi.json
COPY fixtures fixtures
# The target directory is a cache mount (kept between builds, absent from the image), so the
# binaries are copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        --bin mailing-api --bin mailing-scheduler --bin mailing-sender --bin probe-sim \
 && mkdir -p /out \
 && cp target/release/mailing-api target/release/mailing-scheduler \
       target/release/mailing-sender target/release/probe-sim /out/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 mailing \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --no-log-init mailing \
 && install -d -o 10001 -g 10001 /var/lib/mailing
# There is no curl in the image: health checks of docker compose use this bash script
# (`http-probe PORT PATH`, exit 0 on a 2xx answer). Kubernetes probes use httpGet instead.
COPY --chmod=0755 deploy/docker/http-probe /usr/local/bin/http-probe
WORKDIR /app
USER 10001:10001

FROM runtime AS api
COPY --from=builder /out/mailing-api /usr/local/bin/mailing-api
# For `mailing-api load-fixtures fixtures/dev.json` (relative to /app).
COPY fixtures /app/fixtures
# MAILING_HTTP_ADDR: API, /healthz, /readyz, /metrics.
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/mailing-api"]
CMD ["serve"]

FROM runtime AS scheduler
COPY --from=builder /out/mailing-scheduler /usr/local/bin/mailing-scheduler
# MAILING_SCHEDULER_HEALTH_ADDR: /healthz, /readyz, /metrics.
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/mailing-scheduler"]

FROM runtime AS sender
COPY --from=builder /out/mailing-sender /usr/local/bin/mailing-sender
# MAILING_SENDER_HEALTH_ADDR: /healthz, /readyz, /metrics.
EXPOSE 8082
ENTRYPOINT ["/usr/local/bin/mailing-sender"]

FROM runtime AS probe-sim
COPY --from=builder /out/probe-sim /usr/local/bin/probe-sim
# PROBE_SIM_ADDR: /v1/send/{id}, /healthz and the unauthenticated /_sim/ admin API.
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/probe-sim"]
