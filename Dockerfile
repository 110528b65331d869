# Multi-stage build: compile in the Rust image, run from a small Debian base.
#
# Layers, so that a source change rebuilds only embhub's own crates:
#   skeleton  the manifests, Cargo.lock and stub targets (scripts/docker/skeleton.sh);
#             it reruns on any change but its output changes only with the manifests
#   build     dependencies compiled against the skeleton (cached while it is
#             unchanged), then the whole workspace copied over it and built for real
#   runtime   debian:bookworm-slim, the binary, a non-root user; nothing else
#
# It copies the whole workspace (less .dockerignore), so new workspace members, tests
# or benches need no change here.

FROM rust:1.95-slim-bookworm AS skeleton
WORKDIR /src
COPY . .
RUN sh scripts/docker/skeleton.sh /skeleton

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY --from=skeleton /skeleton/ ./
RUN cargo build --release --locked --bin embhub
COPY . .
# The copied sources can be older than the stub build's outputs (COPY keeps their
# times), and cargo would then keep the stubs: make them newer.
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin embhub \
 && cp target/release/embhub /usr/local/bin/embhub

FROM debian:bookworm-slim
# No ca-certificates: embhub's TLS (rustls) carries its own root certificates.
RUN groupadd --system --gid 10001 embhub \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin embhub \
 && mkdir -p /data \
 && chown embhub:embhub /data \
 && chmod 0700 /data
COPY --from=build /usr/local/bin/embhub /usr/local/bin/embhub
# Numeric, so that orchestrators can verify it is not root (runAsNonRoot).
USER 10001:10001
ENV EMBHUB_BIND=0.0.0.0:8080 \
    EMBHUB_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["embhub"]
CMD ["serve"]
