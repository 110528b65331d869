#!/bin/sh
# Writes the dependency skeleton of the Cargo workspace in the current folder to OUT:
# Cargo.lock, every package's Cargo.toml (and .cargo/, rust-toolchain files if any)
# and a stub `fn main() {}` at the path of every target those manifests name or cargo
# discovers (libraries, binaries, tests, benches, build scripts). The Dockerfile
# builds the dependencies from it in a layer of their own, which is reused until a
# manifest, the lock file or the set of targets changes, the way cargo-chef does.
# Reading the targets from `cargo metadata` keeps it right when workspace members or
# targets are added (e.g. a new member under bench/).
#
#   usage: sh scripts/docker/skeleton.sh OUT
set -eu
out="$1"
root="$(pwd)"
mkdir -p "$out"
cp Cargo.toml Cargo.lock "$out/"
for extra in .cargo rust-toolchain rust-toolchain.toml; do
  if [ -e "$extra" ]; then cp -R "$extra" "$out/"; fi
done

cargo metadata --no-deps --format-version 1 --offline > /tmp/skeleton-metadata.json
grep -o '"\(manifest_path\|src_path\)":"[^"]*"' /tmp/skeleton-metadata.json |
  while IFS= read -r entry; do
    kind="${entry%%\":*}"; kind="${kind#\"}"
    path="${entry#*\":\"}"; path="${path%\"}"
    rel="${path#"$root"/}"
    case "$rel" in /*) echo "skeleton: $path is outside the workspace" >&2; exit 1 ;; esac
    mkdir -p "$out/$(dirname "$rel")"
    if [ "$kind" = manifest_path ]; then
      cp "$path" "$out/$rel"
    else
      # Valid as a library, a binary, a bench without harness and a test (where the
      # harness replaces main).
      printf '#![allow(dead_code)]\n// Stub: the Docker dependency layer builds against it.\nfn main() {}\n' > "$out/$rel"
    fi
  done
rm -f /tmp/skeleton-metadata.json
