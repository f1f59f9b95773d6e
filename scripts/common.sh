# Shared helpers for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGRX_VERSION=0.18.1
# PG_AUTHGUARD_PG15_BIN: another Postgres 15 installation tree (the benchmark's
# private copy, see bench/run.sh); the system one by default.
PG15_BIN=${PG_AUTHGUARD_PG15_BIN:-/usr/lib/postgresql/15/bin}
PG15_CONFIG=$PG15_BIN/pg_config

say()  { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Where downloaded Postgres builds and throwaway clusters live. As root this
# must be outside /root, which the postgres user cannot traverse.
if is_root; then
    CACHE_DIR=${PG_AUTHGUARD_CACHE:-/var/tmp/pg_authguard}
else
    CACHE_DIR=${PG_AUTHGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg_authguard}
fi
mkdir -p "$CACHE_DIR"
is_root && chmod 755 "$CACHE_DIR"

export PATH="$HOME/.cargo/bin:$PATH"
# A server that inherits RUST_BACKTRACE appends Rust backtraces to error
# details; production servers do not, and test output must not either.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

# Run a command as the OS user that owns throwaway clusters: `postgres` when we
# are root (initdb refuses root), ourselves otherwise.
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_config for a major version: 15 is Debian's; 16 and 18 come from wheels.
pg_config_for() {
    case "$1" in
        15) echo "$PG15_CONFIG" ;;
        16|18) echo "$CACHE_DIR/pg$1/pgserver/pginstall/bin/pg_config" ;;
        *) die "unsupported Postgres major $1 (supported: 15, 16, 18)" ;;
    esac
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
