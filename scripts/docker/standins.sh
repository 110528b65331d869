#!/usr/bin/env bash
# Builds local stand-ins for the base images that the Dockerfile and docker-compose.yml
# name, for machines that cannot pull from Docker Hub. An image that is already present
# (the real one, or a stand-in built earlier) is left alone; STANDINS_REBUILD=1 rebuilds
# the stand-ins anyway.
#
#   debian:bookworm-slim    debootstrap --variant=minbase bookworm, slimmed like the
#                           real image (no docs, man pages or locales), docker import
#   rust:<v>-slim-bookworm  that base + gcc/libc6-dev + this machine's own Rust
#                           toolchain (rustup cannot download one here); its version
#                           must match the tag. It also trusts the CAs this machine
#                           added (/usr/local/share/ca-certificates): egress here goes
#                           through a TLS-inspecting proxy, and without them cargo in
#                           the container fails on crates.io with "self-signed
#                           certificate in certificate chain".
#   postgres:<major>        that base + Debian's postgresql-<major> + an entrypoint
#                           honouring POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB
#
# Needs root (debootstrap), docker, and Debian's package mirror.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker="${DOCKER:-docker}"

log() { printf '[standins] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
have_image() { [ "${STANDINS_REBUILD:-0}" != 1 ] && "$docker" image inspect "$1" >/dev/null 2>&1; }

# Image names as the project's files spell them.
rust_image="$(sed -n 's/^FROM \(rust:[^ ]*\).*/\1/p' "$root/Dockerfile" | head -n1)"
runtime_image="$(sed -n 's/^FROM \(debian:[^ ]*\).*/\1/p' "$root/Dockerfile" | head -n1)"
postgres_image="$(sed -n 's/^ *image: *\(postgres:[^ ]*\) *$/\1/p' "$root/docker-compose.yml" | head -n1)"
[ -n "$rust_image" ] || die "no 'FROM rust:…' line in Dockerfile"
[ -n "$runtime_image" ] || die "no 'FROM debian:…' line in Dockerfile"
[ -n "$postgres_image" ] || die "no 'image: postgres:…' line in docker-compose.yml"
[ "$runtime_image" = debian:bookworm-slim ] || die "the stand-in base is bookworm; the Dockerfile wants $runtime_image"

build_base() {
  if have_image debian:bookworm-slim; then log "debian:bookworm-slim is present"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  local dir; dir="$(mktemp -d /tmp/embhub-rootfs.XXXXXX)"
  log "debootstrap --variant=minbase bookworm into $dir (about a minute)"
  if ! debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2; rm -rf "$dir"; die "debootstrap failed (log: $dir.log)"
  fi
  # What the real slim image does: no documentation, man pages or translations, now
  # or in packages installed later; apt keeps no package lists or downloaded .debs.
  cat > "$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
  cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  echo 'APT::Install-Recommends "false";' > "$dir/etc/apt/apt.conf.d/docker-no-recommends"
  rm -f "$dir/etc/apt/sources.list"
  cat > "$dir/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/{man,groff,info,lintian,linda,locale}/* \
         "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/tmp/* \
         "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old
  : > "$dir/etc/resolv.conf"   # docker supplies its own
  : > "$dir/etc/hostname"
  log "importing as debian:bookworm-slim"
  tar --numeric-owner -C "$dir" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message 'stand-in for debian:bookworm-slim (debootstrap minbase)' \
    - debian:bookworm-slim >/dev/null
  rm -rf "$dir" "$dir.log"
}

build_rust() {
  if have_image "$rust_image"; then log "$rust_image is present"; return; fi
  # rust:1.95-slim-bookworm -> 1.95
  local want="${rust_image#rust:}"; want="${want%%-*}"
  local sysroot have
  command -v rustc >/dev/null || die "no rustc on this machine to copy into $rust_image"
  sysroot="$(rustc --print sysroot)"
  have="$(rustc --version | awk '{print $2}')"
  case "$have" in
    "$want"|"$want".*) ;;
    *) die "$rust_image needs Rust $want; this machine's toolchain is $have" ;;
  esac
  log "building $rust_image from $sysroot (rustc $have)"
  # The build context is the Dockerfile plus the toolchain, streamed as one tar
  # (no second copy on disk); documentation is left out.
  local ctx; ctx="$(mktemp -d /tmp/embhub-rustctx.XXXXXX)"
  cp "$here/rust.Dockerfile" "$ctx/Dockerfile"
  mkdir "$ctx/extra-ca"
  for crt in /usr/local/share/ca-certificates/*.crt; do
    if [ -f "$crt" ]; then
      cp "$crt" "$ctx/extra-ca/"
      log "  trusting this machine's $(basename "$crt")"
    fi
  done
  tar -c -C "$ctx" Dockerfile extra-ca \
      -C "$(dirname "$sysroot")" --exclude='share/doc' --exclude='*/share/doc' \
      --transform "s|^$(basename "$sysroot")|toolchain|" "$(basename "$sysroot")" \
    | "$docker" build -q --build-arg "RUST_VERSION=$have" -t "$rust_image" - >/dev/null
  rm -rf "$ctx"
}

build_postgres() {
  if have_image "$postgres_image"; then log "$postgres_image is present"; return; fi
  local major="${postgres_image#postgres:}"; major="${major%%[.-]*}"
  [ "$major" = 15 ] || die "Debian bookworm ships PostgreSQL 15; the compose file wants $postgres_image"
  log "building $postgres_image (Debian's postgresql-$major)"
  "$docker" build -q --build-arg "PG_MAJOR=$major" -t "$postgres_image" \
    -f "$here/postgres.Dockerfile" "$here" >/dev/null
}

build_base
build_rust
build_postgres
log "ready: debian:bookworm-slim $rust_image $postgres_image"
