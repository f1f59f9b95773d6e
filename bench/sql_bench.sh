#!/usr/bin/env bash
# Per-call cost of the AEAD functions through SQL, on a cluster where the
# extension is installed (release build: cargo pgrx install --release).
#
#   bash bench/sql_bench.sh DIR PORT        (DIR PORT as printed by scripts/cluster.sh start)
#
# Each figure: one query calling the function N times on a per-row input
# (int4send(g) || value, so nothing is folded to a constant), best of 3, minus
# the same query with length() in place of the function (the loop cost).
# Prints µs per call and MB/s (10^6 bytes of plaintext per second).
set -euo pipefail
dir=${1:?DIR}; port=${2:?PORT}
psql_() { psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

psql_ <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_authguard;
SQL

KEY="'\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea"
NONCE="'\\x000000000000004a00000000'::bytea"
MASTER=$(printf '%064x' 7)

# best-of-3 milliseconds of one statement (run after the setup statements, in one session)
best_ms() { # setup, statement
    { echo "$1"; echo '\timing on'; for _ in 1 2 3; do echo "$2"; done; } | psql_ -t \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -g | head -1
}

measure() { # label, calls, value bytes, value expression, call (with $V for the value), setup
    local label=$1 n=$2 bytes=$3 value=$4 call=$5 setup=${6:-}
    local from="FROM generate_series(1, $n) g, (SELECT $value AS v) s"
    local with_fn base
    with_fn=$(best_ms "$setup" "SELECT sum(length(${call//\$V/int4send(g) || v})) $from;")
    base=$(best_ms "$setup" "SELECT sum(length(int4send(g) || v)) $from;")
    awk -v l="$label" -v n="$n" -v b="$bytes" -v f="$with_fn" -v z="$base" 'BEGIN {
        us = (f - z) * 1000 / n
        printf "%-44s %9.3f us/call %8.0f MB/s   (%.0f ms - %.0f ms loop, %d calls)\n", l, us, (b + 4) / us, f, z, n }'
}

KIB="decode(repeat('5a', 1020), 'hex')"     # + 4 bytes of int4send(g) = 1 KiB
MIB="decode(repeat('5a', 1048572), 'hex')"  # + 4 = 1 MiB
SETUP_KEYRING="SET authguard.master_key = '$MASTER';"
psql_ -c "$SETUP_KEYRING SELECT authguard.create_key('bench_k');" >/dev/null 2>&1 || true

measure "chacha20poly1305_encrypt, 1 KiB" 1000000 1020 "$KIB" "authguard.chacha20poly1305_encrypt(\$V, $KEY, $NONCE)"
measure "encrypt (XChaCha20-Poly1305), 1 KiB" 1000000 1020 "$KIB" "authguard.encrypt(\$V, $KEY)"
measure "encrypt_with_key (keyring), 1 KiB" 1000000 1020 "$KIB" "authguard.encrypt_with_key('bench_k', \$V)" "$SETUP_KEYRING"
measure "chacha20poly1305_encrypt, 1 MiB" 1000 1048572 "$MIB" "authguard.chacha20poly1305_encrypt(\$V, $KEY, $NONCE)"
measure "encrypt (XChaCha20-Poly1305), 1 MiB" 1000 1048572 "$MIB" "authguard.encrypt(\$V, $KEY)"
measure "encrypt_with_key (keyring), 1 MiB" 1000 1048572 "$MIB" "authguard.encrypt_with_key('bench_k', \$V)" "$SETUP_KEYRING"
