# Stand-in for the official rust:<version>-slim-bookworm image, built by standins.sh
# from this machine's own toolchain (the build context holds it as toolchain/).
# Same layout as the real image: RUSTUP_HOME, CARGO_HOME, cargo on PATH, gcc and
# libc6-dev for linking and for crates that compile C.
# extra-ca/ holds the certificate authorities this machine added to its own trust
# store (/usr/local/share/ca-certificates): where egress passes a TLS-inspecting
# proxy, cargo in the container must trust what the machine trusts to reach crates.io.
FROM debian:bookworm-slim
ARG RUST_VERSION
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=${RUST_VERSION}
COPY toolchain /usr/local/rustup/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu
RUN mkdir -p /usr/local/cargo/bin \
 && for tool in cargo rustc rustdoc; do \
      ln -s /usr/local/rustup/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu/bin/$tool /usr/local/cargo/bin/$tool; \
    done \
 && chmod -R a+w /usr/local/cargo \
 && cargo --version && rustc --version
