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
#
# A release build names what it is in the OCI labels of every image:
#
#   docker build --target api -t registry.example.com/mailing/mailing-api:1.2.0 \
#     --build-arg VERSION=1.2.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE_URL="$(git remote get-url origin)" .

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
# The commit mailing_build_info reports: the image holds no .git to read it from.
ARG REVISION=unknown
ENV MAILING_BUILD_COMMIT=${REVISION}
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
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 mailing \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --no-log-init mailing \
 && install -d -o 10001 -g 10001 /var/lib/mailing
# There is no curl in the image: the health checks (each target's HEALTHCHECK, and docker
# compose's) use this bash script (`http-probe PORT PATH`, exit 0 on a 2xx answer). Kubernetes
# ignores HEALTHCHECK and probes with httpGet instead.
COPY --chmod=0755 deploy/docker/http-probe /usr/local/bin/http-probe
WORKDIR /app
USER 10001:10001

FROM runtime AS api
LABEL org.opencontainers.image.title="mailing-api" \
      org.opencontainers.image.description="mailing: the HTTP API, the admin UI and the outbox relay; also migrates the database"
COPY --from=builder /out/mailing-api /usr/local/bin/mailing-api
# For `mailing-api load-fixtures fixtures/dev.json` (relative to /app).
COPY fixtures /app/fixtures
# MAILING_HTTP_ADDR: API, /healthz, /readyz, /metrics.
EXPOSE 8000
# Alive: the process answers on its default address (compose checks /readyz, which also
# needs the database).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/http-probe", "8000", "/healthz"]
ENTRYPOINT ["/usr/local/bin/mailing-api"]
CMD ["serve"]

FROM runtime AS scheduler
LABEL org.opencontainers.image.title="mailing-scheduler" \
      org.opencontainers.image.description="mailing: expands mailings into messages and dispatches send jobs"
COPY --from=builder /out/mailing-scheduler /usr/local/bin/mailing-scheduler
# MAILING_SCHEDULER_HEALTH_ADDR: /healthz, /readyz, /metrics.
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/http-probe", "8081", "/healthz"]
ENTRYPOINT ["/usr/local/bin/mailing-scheduler"]

FROM runtime AS sender
LABEL org.opencontainers.image.title="mailing-sender" \
      org.opencontainers.image.description="mailing: delivers messages to the SMS provider"
COPY --from=builder /out/mailing-sender /usr/local/bin/mailing-sender
# MAILING_SENDER_HEALTH_ADDR: /healthz, /readyz, /metrics.
EXPOSE 8082
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/http-probe", "8082", "/healthz"]
ENTRYPOINT ["/usr/local/bin/mailing-sender"]

FROM runtime AS probe-sim
LABEL org.opencontainers.image.title="mailing-probe-sim" \
      org.opencontainers.image.description="mailing: a simulator of the SMS provider, for development and tests only"
COPY --from=builder /out/probe-sim /usr/local/bin/probe-sim
# PROBE_SIM_ADDR: /v1/send/{id}, /healthz and the unauthenticated /_sim/ admin API.
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/http-probe", "8090", "/healthz"]
ENTRYPOINT ["/usr/local/bin/probe-sim"]
