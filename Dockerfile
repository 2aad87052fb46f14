# Image of the AxonFlow services: axonflow-agent (the default command), axonflow-orchestrator and
# axonflow-portal, built in a Rust builder stage and copied onto a slim Debian base that runs them as an
# unprivileged user. compose/docker-compose.yml builds it once for the agent and the orchestrator.
# The workspace declares Rust 1.89, but the locked dependencies need Rust 1.94.1 or newer.

FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins

FROM debian:12.11-slim
# curl is what the Compose healthchecks run (GET /health); ca-certificates lets the services reach
# providers over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
# The audit fallback journal (AUDIT_FALLBACK_PATH) lives under /var/lib/axonflow, owned by the service
# user so that a volume mounted there starts out writable.
RUN groupadd --system --gid 10001 axonflow \
    && useradd --system --uid 10001 --gid axonflow --home-dir /var/lib/axonflow --no-create-home \
        --shell /usr/sbin/nologin axonflow \
    && mkdir -p /var/lib/axonflow/audit \
    && chown -R axonflow:axonflow /var/lib/axonflow
COPY --from=builder /src/target/release/axonflow-agent /src/target/release/axonflow-orchestrator \
    /src/target/release/axonflow-portal /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/axonflow
EXPOSE 8080 8081
CMD ["axonflow-agent"]
