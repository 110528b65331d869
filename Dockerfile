# Multi-stage build: compile in the Rust image, run from a small Debian base.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migration ./migration
COPY src ./src
# Every target the manifest names must exist for cargo to read it.
COPY tests ./tests
COPY bench ./bench
RUN cargo build --release --locked --bin embhub

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data embhub \
 && mkdir -p /data && chown embhub /data
COPY --from=build /src/target/release/embhub /usr/local/bin/embhub
USER embhub
ENV EMBHUB_BIND=0.0.0.0:8080 \
    EMBHUB_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["embhub"]
CMD ["serve"]
