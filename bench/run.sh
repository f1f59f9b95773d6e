#!/usr/bin/env bash
# `make bench`: pg_authguard against the PL/pgSQL baseline and the bare-SQL floor.
#
#   make bench                      100 k sessions, 5 rounds of 6 s per script
#   make bench SCALE=1000000        1 M sessions (10 M: SCALE=10000000, see docs/benchmarks.md)
#   ROUNDS=5 DURATION=20 make bench more rounds / longer runs
#   PHASES="validate crypto" ...    a subset (validate memory rotate revoke create cleanup crypto)
#   SKIP_BUILD=1 ...                reuse the build last installed by this script
#   KEEP_CLUSTER=1 ...              leave the loaded cluster running (profiling)
#
# One throwaway Postgres 15 holds the extension and ../shared/baseline/plpgsql_helpers.sql
# in one database with the same data. pgbench runs of the extension (A), the
# baseline (B) and the floor (F) are interleaved round by round; bench/report.py
# turns the raw figures into bench/results/{results.md,results.json,chart.png}
# and the results section of docs/benchmarks.md.
source "$(dirname "$0")/../scripts/common.sh"
cd "$REPO_ROOT"

SCALE=${SCALE:-100000}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-6}
CLIENTS=${CLIENTS:-2}
PHASES=${PHASES:-validate memory rotate revoke create cleanup crypto}
SKIP_BUILD=${SKIP_BUILD:-0}
BASELINE_SQL=${BASELINE_SQL:-$REPO_ROOT/../shared/baseline/plpgsql_helpers.sql}
[ -f "$BASELINE_SQL" ] || BASELINE_SQL=/work/shared/baseline/plpgsql_helpers.sql

for v in SCALE ROUNDS DURATION CLIENTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer (got '${!v}')"
done
[ "$SCALE" -ge 1000 ] || die "SCALE must be at least 1000"
[ "$ROUNDS" -le 20 ] || die "ROUNDS above 20 is not a modest run"
[ -f "$BASELINE_SQL" ] || die "baseline not found: $BASELINE_SQL"
command -v pgbench >/dev/null || die "pgbench not found (postgresql-client-15)"
[ -f /usr/share/postgresql/15/extension/pgcrypto.control ] || die "pgcrypto missing: apt-get install postgresql-contrib-15"
case " ${RUSTFLAGS:-} ${CARGO_ENCODED_RUSTFLAGS:-} " in
    *target-cpu*) die "RUSTFLAGS sets target-cpu: the benchmark measures the portable build" ;;
esac

WORK=$REPO_ROOT/bench/work
RESULTS=$REPO_ROOT/bench/results
mkdir -p "$WORK" "$RESULTS"
RAW=$WORK/raw-$SCALE.jsonl
: >"$RAW"
emit() { printf '%s\n' "$1" >>"$RAW"; }   # one JSON object per line

# The benchmark runs on a private copy of the Postgres 15 installation under
# the cache dir, and installs the extension there. The system installation is
# shared: test runs of the other checkouts install their own (debug) builds
# into it at any time, and a backend loads the .so at first use, so a bench
# there could measure someone else's build. Postgres finds its lib and share
# directories relative to its binaries, so a copy of bin/lib/share (+ server
# headers for the build) is a complete installation. Nothing shared is written,
# so no lock is taken (test.lock stays free for the test runs).
SYS_PG=/usr/lib/postgresql/15
PRIV=$CACHE_DIR/bench-pg15
sys_ver=$("$SYS_PG/bin/postgres" --version)
if [ ! -x "$PRIV/usr/lib/postgresql/15/bin/postgres" ] || [ "$(cat "$PRIV/.version" 2>/dev/null)" != "$sys_ver" ]; then
    say "making a private copy of the Postgres 15 installation in $PRIV"
    rm -rf "$PRIV"
    mkdir -p "$PRIV/usr/lib/postgresql" "$PRIV/usr/share/postgresql" "$PRIV/usr/include/postgresql"
    cp -a "$SYS_PG" "$PRIV/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$PRIV/usr/share/postgresql/"
    cp -a /usr/include/postgresql/15 "$PRIV/usr/include/postgresql/"
    rm -f "$PRIV"/usr/lib/postgresql/15/lib/pg_authguard* "$PRIV"/usr/share/postgresql/15/extension/pg_authguard*
    echo "$sys_ver" >"$PRIV/.version"
fi
export PG_AUTHGUARD_PG15_BIN=$PRIV/usr/lib/postgresql/15/bin
PG15_CONFIG=$PG_AUTHGUARD_PG15_BIN/pg_config
[ "$("$PG15_CONFIG" --pkglibdir)" = "$PRIV/usr/lib/postgresql/15/lib" ] \
    || die "the private Postgres copy does not relocate (pkglibdir: $("$PG15_CONFIG" --pkglibdir))"

if [ "$SKIP_BUILD" = 1 ]; then
    [ -f "$PRIV/usr/lib/postgresql/15/lib/pg_authguard.so" ] || die "SKIP_BUILD=1 but nothing installed in $PRIV yet"
    say "SKIP_BUILD=1: using the extension last installed into $PRIV"
else
    say "release build + install into $PRIV (portable: no target-cpu)"
    cargo pgrx install --release --pg-config "$PG15_CONFIG" >"$WORK/install.log" 2>&1 \
        || { tail -30 "$WORK/install.log" >&2; die "cargo pgrx install --release failed"; }
fi

read -r DIR PORT < <(bash scripts/cluster.sh start 15 bench)
cleanup() { bash "$REPO_ROOT/scripts/cluster.sh" stop "$DIR"; rm -rf "$DIR"; }
# KEEP_CLUSTER=1 leaves the loaded cluster running for profiling (stop it with
# `bash scripts/cluster.sh stop DIR`); it holds no lock once this script exits.
[ "${KEEP_CLUSTER:-0}" = 1 ] && cleanup() { say "cluster kept: DIR=$DIR PORT=$PORT (psql -h $DIR -p $PORT -U postgres bench)"; }
trap cleanup EXIT
BINDIR=$("$PG15_CONFIG" --bindir)

# Settings: the same for A, B and F. fsync/synchronous_commit off: the machine's
# disk is shared and not what is compared; this measures CPU per call.
# shared_buffers holds the working set: 40 % of RAM, between 1 and 8 GB. With
# 10 M sessions the two schemas' tables and indexes are ~6 GB; sized smaller,
# the 10 M run measures OS page-cache copies instead of the extension.
MEM_MB=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
SB_MB=$((MEM_MB * 40 / 100)); [ "$SB_MB" -gt 8192 ] && SB_MB=8192; [ "$SB_MB" -lt 1024 ] && SB_MB=1024
SETTINGS=(
    "shared_buffers=${SB_MB}MB" "synchronous_commit=off" "fsync=off" "full_page_writes=off"
    "max_wal_size=8GB" "checkpoint_timeout=30min" "wal_level=minimal" "max_wal_senders=0"
    "jit=off" "work_mem=16MB" "maintenance_work_mem=512MB" "autovacuum=on"
)
for s in "${SETTINGS[@]}"; do echo "${s%%=*} = '${s#*=}'" >>"$DIR/data/postgresql.conf"; done
chown postgres: "$DIR/data/postgresql.conf" 2>/dev/null || true
as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 120 restart >/dev/null \
    || { tail -20 "$DIR/server.log" >&2; die "restart with bench settings failed"; }

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres)
q() { "${PSQL[@]}" -At -d bench -c "$1"; }
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null

say "schema: CREATE EXTENSION pg_authguard + baseline"
"${PSQL[@]}" -d bench -c "CREATE EXTENSION pg_authguard" >/dev/null
"${PSQL[@]}" -d bench -f "$BASELINE_SQL" >/dev/null

t0=$(date +%s.%N)
say "loading $SCALE sessions into authguard.auth_sessions and baseline.auth_sessions"
"${PSQL[@]}" -d bench -v scale="$SCALE" -f bench/sql/load.sql >/dev/null
# The runs vacuum before each pgbench run instead (see pgbench_run).
for t in authguard.auth_sessions authguard.auth_audit_log baseline.auth_sessions baseline.auth_audit_log; do
    q "ALTER TABLE $t SET (autovacuum_enabled = off)" >/dev/null
done
NLIVE=$(q "SELECT count(*) FROM bench.pairs")
LOAD_S=$(echo "$(date +%s.%N) - $t0" | bc)
say "loaded in ${LOAD_S}s; $NLIVE live sessions"
REVOKE_PER_CLIENT=$((NLIVE * 9 / 10 / CLIENTS))
[ "$REVOKE_PER_CLIENT" -le 25000 ] || REVOKE_PER_CLIENT=25000

# Machine and settings, for the report.
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
PGVER=$(q "SELECT version()")
SET_JSON=$(q "SELECT json_object_agg(name, current_setting(name)) FROM pg_settings
              WHERE name IN ('shared_buffers','synchronous_commit','fsync','full_page_writes','max_wal_size',
                             'wal_level','jit','work_mem','autovacuum','max_connections','checkpoint_timeout')")
SIZES=$(q "SELECT json_build_object('authguard', pg_total_relation_size('authguard.auth_sessions'),
                                    'baseline', pg_total_relation_size('baseline.auth_sessions'))")
emit "$(printf '{"kind":"meta","scale":%d,"nlive":%d,"rounds":%d,"duration_s":%d,"clients":%d,"load_s":%.3f,"nproc":%d,"cpu":"%s","pg_version":"%s","settings":%s,"table_bytes":%s,"rustflags":"%s","git":"%s","date":"%s","loadavg":"%s"}' \
    "$SCALE" "$NLIVE" "$ROUNDS" "$DURATION" "$CLIENTS" "$LOAD_S" "$(nproc)" "$CPU" "$PGVER" "$SET_JSON" "$SIZES" \
    "${RUSTFLAGS:-}" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sql || echo +dirty)" \
    "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)")"

prepare_tables() {  # vacuum + checkpoint so each run starts from the same state
    q "VACUUM (ANALYZE) authguard.auth_sessions" >/dev/null
    q "VACUUM (ANALYZE) baseline.auth_sessions" >/dev/null
    q "VACUUM (ANALYZE) authguard.auth_audit_log" >/dev/null
    q "VACUUM (ANALYZE) baseline.auth_audit_log" >/dev/null
    q "CHECKPOINT" >/dev/null
}

# CPU seconds used so far by (a) the server's exited backends, from the
# postmaster's cutime+cstime (a backend's CPU is added when it is reaped), and
# (b) this shell's exited children (pgbench). CPU per transaction hardly moves
# when other work shares the machine, unlike TPS: it is the steadier figure.
CLK_TCK=$(getconf CLK_TCK)
server_cpu_s() {
    local pm; pm=$(head -1 "$DIR/data/postmaster.pid")
    awk -v t="$CLK_TCK" '{ sub(/^.*\) /, ""); print ($14 + $15) / t }' "/proc/$pm/stat"
}
# `times` must run in this shell, not in a $(...) subshell (whose children
# times start at zero): it writes to a file, which is then parsed.
client_cpu_s() {
    times >"$WORK/times"
    awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } print n }' "$WORK/times"
}

n_tup_upd() { q "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = '$1.auth_sessions'::regclass"; }

before_run() {  # workload variant
    case "$1" in
    revoke)   # re-arm: un-revoke what the previous run revoked, start at family 1
        q "UPDATE authguard.auth_sessions SET revoked_at = NULL, revoked_reason = NULL WHERE revoked_reason = 'bench'" >/dev/null
        q "UPDATE baseline.auth_sessions SET revoked_at = NULL, revoked_reason = NULL WHERE revoked_reason = 'bench'" >/dev/null
        q "SELECT setval('bench.rv_seq', 1, false)" >/dev/null ;;
    esac
}

# One pgbench run; prints nothing, emits a JSON line.
pgbench_run() {  # workload variant round
    local w=$1 v=$2 r=$3 table=authguard out upd0 upd1 extra=""
    [ "$v" = baseline ] && table=baseline
    before_run "$w"
    # Every run starts from a vacuumed table: A and F share authguard's table
    # and B has its own, so without this the shared one would carry twice the
    # dead versions of the other into later rounds. (Autovacuum is off for
    # these tables for the same reason; the sleep lets the VACUUM's backend be
    # reaped before the CPU counters are read.)
    prepare_tables
    sleep 1
    upd0=$(n_tup_upd "$table")
    local scpu0 ccpu0 scpu1 ccpu1
    client_cpu_s >"$WORK/ccpu0"; scpu0=$(server_cpu_s); ccpu0=$(cat "$WORK/ccpu0")
    # Revocation consumes families: a fixed number of calls per client (at most
    # 90 % of the live families in all) instead of a fixed time, so that no call
    # ever lands on an already-revoked family.
    local length=(-T "$DURATION")
    [ "$w" = revoke ] && length=(-t "$REVOKE_PER_CLIENT")
    out=$(pgbench -h "$DIR" -p "$PORT" -U postgres -n -M prepared -c "$CLIENTS" -j "$CLIENTS" \
        "${length[@]}" -D nlive="$NLIVE" -f "bench/sql/${w}_${v}.sql" bench 2>&1) \
        || { echo "$out" >&2; die "pgbench $w/$v failed"; }
    local tps lat txns failed
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$tps" ] && [ -n "$lat" ] || { echo "$out" >&2; die "could not parse pgbench output"; }
    client_cpu_s >"$WORK/ccpu1"; ccpu1=$(cat "$WORK/ccpu1")
    sleep 1   # exiting backends flush their table statistics and are reaped
    scpu1=$(server_cpu_s)
    upd1=$(n_tup_upd "$table")
    [ "$w" = revoke ] && extra=$(printf ',"families_taken":%s' "$(q "SELECT last_value FROM bench.rv_seq")")
    emit "$(printf '{"kind":"pgbench","workload":"%s","variant":"%s","round":%d,"tps":%s,"latency_ms":%s,"transactions":%s,"failed":%s,"rows_updated":%s,"server_cpu_s":%.3f,"client_cpu_s":%.3f%s}' \
        "$w" "$v" "$r" "$tps" "$lat" "$txns" "${failed:-0}" "$((upd1 - upd0))" \
        "$(echo "$scpu1 - $scpu0" | bc -l)" "$(echo "$ccpu1 - $ccpu0" | bc -l)" "$extra")"
    printf '    %-9s %-8s round %d: %10.1f tps  %7.3f ms  %6.1f us server CPU/txn\n' "$w" "$v" "$r" "$tps" "$lat" \
        "$(echo "($scpu1 - $scpu0) * 1000000 / $txns" | bc -l)" >&2
}

# Rounds interleave A, B, F; the order turns each round so no variant always
# runs first.
pgbench_workload() {  # workload
    local w=$1 r i
    local variants=(ext baseline floor)
    say "$w: $ROUNDS rounds x ${DURATION}s x 3 scripts, -c $CLIENTS -j $CLIENTS -M prepared"
    prepare_tables
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < 3; i++)); do
            pgbench_run "$w" "${variants[$(((i + r - 1) % 3))]}" "$r"
        done
    done
}

status_sample() {  # label sql: statuses of a sample, as a JSON object
    emit "$(printf '{"kind":"statuses","label":"%s","counts":%s}' "$1" \
        "$(q "SELECT coalesce(json_object_agg(status, n), '{}') FROM ($2) s")")"
}

phase_validate() {
    status_sample validate_ext "SELECT v.status, count(*) n FROM bench.pairs p,
        LATERAL authguard.validate_session(p.family_id, p.jti) v WHERE p.id <= 2000 GROUP BY 1"
    status_sample validate_baseline "SELECT v.status, count(*) n FROM bench.pairs p,
        LATERAL baseline.validate_session(p.family_id, p.jti) v WHERE p.id <= 2000 GROUP BY 1"
    pgbench_workload validate
}

phase_rotate() {
    pgbench_workload rotate
    # Rotation must not have degraded into replays, revocations or not_found.
    emit "$(printf '{"kind":"rotate_check","replays_ext":%s,"replays_baseline":%s,"token_replay_revoked_ext":%s,"token_replay_revoked_baseline":%s}' \
        "$(q "SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_replay_detected'")" \
        "$(q "SELECT count(*) FROM baseline.auth_audit_log WHERE action = 'token_replay_detected'")" \
        "$(q "SELECT count(*) FROM authguard.auth_sessions WHERE revoked_reason = 'token_replay'")" \
        "$(q "SELECT count(*) FROM baseline.auth_sessions WHERE revoked_reason = 'token_replay'")")"
    local sample="SELECT r.status, count(*) n FROM bench.pairs p
        JOIN %s.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL,
        LATERAL %s.rotate_session_token(p.family_id, c.current_jti) r WHERE p.id BETWEEN 1001 AND 2000 GROUP BY 1"
    # shellcheck disable=SC2059
    status_sample rotate_ext "$(printf "$sample" authguard authguard)"
    # shellcheck disable=SC2059
    status_sample rotate_baseline "$(printf "$sample" baseline baseline)"
}

phase_revoke() { pgbench_workload revoke; }
phase_create() { pgbench_workload create; }

# Cleanup: min(10 x SCALE, 1 M) sessions expired more than 7 days ago, deleted
# once by each of A, B and F (one timed statement each, not pgbench).
phase_cleanup() {
    local n=${CLEANUP_ROWS:-$((SCALE * 10 < 1000000 ? SCALE * 10 : 1000000))} v schema stmt res
    say "cleanup: $n expired rows, one timed call each"
    for v in ext baseline floor; do
        schema=authguard; [ "$v" = baseline ] && schema=baseline
        case $v in
        ext)      stmt="SELECT authguard.cleanup_expired_sessions()" ;;
        baseline) stmt="SELECT baseline.cleanup_expired_sessions()" ;;
        floor)    stmt="WITH d AS (DELETE FROM authguard.auth_sessions WHERE expires_at < now() - interval ''7 days'' OR revoked_at < now() - interval ''7 days'' RETURNING 1) SELECT count(*) FROM d" ;;
        esac
        "${PSQL[@]}" -d bench -v n="$n" -v schema="$schema" -f bench/sql/expired.sql >/dev/null
        q "VACUUM (ANALYZE) $schema.auth_sessions" >/dev/null
        q "CHECKPOINT" >/dev/null
        res=$(q "SELECT ms || '|' || result FROM bench.time_ms('$stmt')")
        emit "$(printf '{"kind":"cleanup","variant":"%s","rows_inserted":%d,"rows_deleted":%s,"ms":%s}' "$v" "$n" "${res#*|}" "${res%|*}")"
        printf '    cleanup   %-8s %8.0f ms, %s rows deleted\n' "$v" "${res%|*}" "${res#*|}" >&2
    done
}

# Crypto per call: N calls in one query, minus the same query with a no-op
# (the loop: row generation and a fresh input per row, so nothing is folded).
# A case whose function is not installed is reported as such and skipped.
K32="'\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'::bytea"
N12="'\\x000102030405060708090a0b'::bytea"
CRYPTO_CASES=(
    # label|group|impl|requires|n|size|expr (x is the input)|base (optional)
    "sha256 32 B|sha256|pg_authguard|sha256|1000000|32|authguard.sha256(x)"
    "sha256 32 B|sha256|pgcrypto digest|-|1000000|32|digest(x, 'sha256')"
    "hmac_sha256 32 B|hmac|pg_authguard|hmac_sha256|1000000|32|authguard.hmac_sha256($K32, x)"
    "hmac_sha256 32 B|hmac|pgcrypto hmac|-|1000000|32|hmac(x, $K32, 'sha256')"
    "chacha20poly1305 1 KiB|aead|pg_authguard|chacha20poly1305_encrypt|200000|1024|authguard.chacha20poly1305_encrypt(x, $K32, $N12)"
    "chacha20poly1305_decrypt 1 KiB|aead|pg_authguard|chacha20poly1305_decrypt|200000|1024|authguard.chacha20poly1305_decrypt(x, $K32, $N12)|(SELECT authguard.chacha20poly1305_encrypt(decode(repeat('61', 1024), 'hex'), $K32, $N12))"
    "xchacha encrypt 1 KiB|aead|pg_authguard|encrypt|200000|1024|authguard.encrypt(x, $K32)"
    "pgp_sym_encrypt 1 KiB default|aead|pgcrypto|-|2000|1024|pgp_sym_encrypt_bytea(x, 'bench-password')"
    "pgp_sym_encrypt 1 KiB s2k0 aes256|aead|pgcrypto|-|50000|1024|pgp_sym_encrypt_bytea(x, 'bench-password', 's2k-mode=0, cipher-algo=aes256')"
    "hkdf_sha256 32 B|kdf|pg_authguard|hkdf_sha256|500000|32|authguard.hkdf_sha256(x, '\\x00'::bytea, '\\x00'::bytea, 32)"
    "x25519_public_key|x25519|pg_authguard|x25519_public_key|50000|32|authguard.x25519_public_key(x)"
    "sha256 1 MiB|bulk|pg_authguard|sha256|100|1048576|authguard.sha256(x)"
    "sha256 1 MiB|bulk|pgcrypto digest|-|100|1048576|digest(x, 'sha256')"
    "hmac_sha256 1 MiB|bulk|pg_authguard|hmac_sha256|100|1048576|authguard.hmac_sha256($K32, x)"
    "hmac_sha256 1 MiB|bulk|pgcrypto hmac|-|100|1048576|hmac(x, $K32, 'sha256')"
    "chacha20poly1305 1 MiB|bulk|pg_authguard|chacha20poly1305_encrypt|100|1048576|authguard.chacha20poly1305_encrypt(x, $K32, $N12)"
    "xchacha encrypt 1 MiB|bulk|pg_authguard|encrypt|100|1048576|authguard.encrypt(x, $K32)"
    "pgp_sym_encrypt 1 MiB s2k0 aes256|bulk|pgcrypto|-|50|1048576|pgp_sym_encrypt_bytea(x, 'bench-password', 's2k-mode=0, cipher-algo=aes256')"
)

phase_crypto() {
    q "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
    local c label group impl req n size expr base installed r src loopq fq res_l res_f
    local -a runnable=()
    for c in "${CRYPTO_CASES[@]}"; do
        IFS='|' read -r label group impl req n size expr base <<<"$c"
        if [ "$req" != - ]; then
            installed=$(q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'authguard'::regnamespace AND proname = '$req'")
            if [ "$installed" = 0 ]; then
                printf '    crypto    %-36s %-16s not installed (authguard.%s)\n' "$label" "$impl" "$req" >&2
                emit "$(printf '{"kind":"crypto","label":"%s","group":"%s","impl":"%s","status":"not installed","requires":"%s"}' "$label" "$group" "$impl" "$req")"
                continue
            fi
        fi
        runnable+=("$c")
    done
    say "crypto: ${#runnable[@]} cases x $ROUNDS rounds (loop cost subtracted)"
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in "${runnable[@]}"; do
            IFS='|' read -r label group impl req n size expr base <<<"$c"
            if [ -n "$base" ]; then src="b.base"; else src="set_byte(b.base, 0, i % 256)"; base="decode(repeat('61', $size), 'hex')"; fi
            loopq="SELECT count(x) FROM (SELECT $src AS x FROM (SELECT $base AS base) b, generate_series(1, $n) i) s"
            fq="SELECT count($expr) FROM (SELECT $src AS x FROM (SELECT $base AS base) b, generate_series(1, $n) i) s"
            if ! res_l=$(q "SELECT ms FROM bench.time_ms(\$q\$$loopq\$q\$)" 2>&1) \
               || ! res_f=$(q "SELECT ms FROM bench.time_ms(\$q\$$fq\$q\$)" 2>&1); then
                warn "crypto case '$label' ($impl) failed: $res_l $res_f"
                emit "$(printf '{"kind":"crypto","label":"%s","group":"%s","impl":"%s","status":"error","round":%d}' "$label" "$group" "$impl" "$r")"
                continue
            fi
            emit "$(printf '{"kind":"crypto","label":"%s","group":"%s","impl":"%s","status":"ok","round":%d,"n":%d,"bytes":%d,"loop_ms":%s,"total_ms":%s}' \
                "$label" "$group" "$impl" "$r" "$n" "$size" "$res_l" "$res_f")"
            printf '    crypto    %-36s %-16s round %d: %9.3f us/call\n' "$label" "$impl" "$r" \
                "$(echo "($res_f - $res_l) * 1000 / $n" | bc -l)" >&2
        done
    done
}

# Memory: many calls of each hot function in one backend; RSS before and after.
phase_memory() {
    local nrot=$((NLIVE < 100000 ? NLIVE : 100000))
    say "memory: 2 x 1 M validate_session, $nrot rotate_session_token, 1 M sha256, 1 M hmac_sha256 in one backend"
    local out
    out=$("${PSQL[@]}" -At -d bench -v nlive="$NLIVE" -v nrot="$nrot" <<'SQL'
-- warm-up: plans, caches, the .so
SELECT count(*) FROM bench.pairs p, LATERAL authguard.validate_session(p.family_id, p.jti) v WHERE p.id <= 1000 \g /dev/null
SELECT count(authguard.sha256(set_byte('\x00000000'::bytea, 0, i % 256))) FROM generate_series(1, 1000) i \g /dev/null
SELECT count(authguard.hmac_sha256('\x01'::bytea, set_byte('\x00000000'::bytea, 0, i % 256))) FROM generate_series(1, 1000) i \g /dev/null
-- control pass: the same loops without the extension's functions. Their
-- in-statement readings show what the loops alone hold (generate_series
-- materializes its rows, joins build hash tables), and afterwards the
-- allocator's high-water marks of the loops themselves are reached before start.
SELECT 'control: validate loop', count(p.jti), bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}'
  FROM generate_series(0, 999999) g JOIN bench.pairs p ON p.id = 1 + g % :nlive;
SELECT 'control: hash loop', count(set_byte('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, 0, i % 256)),
       bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}'
  FROM generate_series(1, 1000000) i;
SELECT 'control: rotate loop', count(c.current_jti), bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}'
  FROM bench.pairs p JOIN authguard.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL WHERE p.id <= :nrot;
SELECT 'start', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
SELECT 'validate_session', 1000000, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), json_object_agg(status, n)
  FROM (SELECT v.status, count(*) n
          FROM generate_series(0, 999999) g
          JOIN bench.pairs p ON p.id = 1 + g % :nlive,
               LATERAL authguard.validate_session(p.family_id, p.jti) v
         GROUP BY 1) s;
SELECT 'validate_session', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
-- the same million again: a leak grows again, a high-water mark does not
SELECT 'validate_session (again)', 1000000, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), json_object_agg(status, n)
  FROM (SELECT v.status, count(*) n
          FROM generate_series(0, 999999) g
          JOIN bench.pairs p ON p.id = 1 + g % :nlive,
               LATERAL authguard.validate_session(p.family_id, p.jti) v
         GROUP BY 1) s;
SELECT 'validate_session (again)', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
SELECT 'sha256', 1000000, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), json_build_object('calls', count(authguard.sha256(set_byte('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, 0, i % 256))))
  FROM generate_series(1, 1000000) i;
SELECT 'sha256', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
SELECT 'hmac_sha256', 1000000, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), json_build_object('calls', count(authguard.hmac_sha256('\x0102030405060708090a0b0c0d0e0f10'::bytea, set_byte('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, 0, i % 256))))
  FROM generate_series(1, 1000000) i;
SELECT 'hmac_sha256', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
-- Rotations run in committed batches of 5000, as a refresh endpoint runs
-- each one in its own transaction: every rotation holds its family's lock
-- until commit, so one transaction rotating 100k families would exhaust the
-- shared lock table (max_locks_per_transaction).
CREATE TEMP TABLE rot_status (status text);
SELECT format($$INSERT INTO rot_status SELECT r.status FROM bench.pairs p
                  JOIN authguard.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL,
                       LATERAL authguard.rotate_session_token(p.family_id, c.current_jti) r
                 WHERE p.id > %s AND p.id <= %s$$, b, least(b + 5000, :nrot))
  FROM generate_series(0, :nrot - 1, 5000) b \gexec
SELECT 'rotate_session_token', :nrot, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), json_object_agg(status, n)
  FROM (SELECT status, count(*) n FROM rot_status GROUP BY 1) s;
SELECT 'rotate_session_token', 0, bench.mem_kb('VmRSS'), bench.mem_kb('RssAnon'), '{}';
SQL
)
    # Two readings per function: inside its statement (mem_kb() in the select
    # list is computed on the aggregate's result row, after all the calls, while
    # the statement's memory is still held: calls > 0) and in the next
    # statement (calls = 0), which shows what outlives the statement.
    local label calls rss anon extra
    while IFS='|' read -r label calls rss anon extra; do
        emit "$(printf '{"kind":"memory","label":"%s","calls":%d,"vmrss_kb":%d,"rssanon_kb":%d,"statuses":%s}' "$label" "$calls" "$rss" "$anon" "$extra")"
        printf '    memory    %-22s after %8d calls: VmRSS %7d kB, RssAnon %7d kB\n' "$label" "$calls" "$rss" "$anon" >&2
    done <<<"$out"
}

for p in $PHASES; do
    case $p in
    validate|memory|rotate|revoke|create|cleanup|crypto) "phase_$p" ;;
    *) die "unknown phase '$p'" ;;
    esac
done

say "report"
REPORT_PY=python3
VENV=$CACHE_DIR/bench-venv
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
        say "installing matplotlib into $VENV"
        python3 -m venv "$VENV" && "$VENV/bin/pip" install -q matplotlib \
            || die "could not install matplotlib (pip install matplotlib)"
    fi
    REPORT_PY=$VENV/bin/python
fi
"$REPORT_PY" bench/report.py "$RAW"
say "done: bench/results/results.md, results.json, chart.png; docs/benchmarks.md"
