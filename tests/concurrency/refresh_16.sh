#!/usr/bin/env bash
# 16 clients refresh the same token at the same instant (real parallel
# sessions, released together by an advisory-lock "starting gun").
#   grace on : exactly 1 rotated, 15 reissued, all 16 handed the same jti
#   grace off: exactly 1 rotated, 1 replay_detected, 14 revoked, one audit row
# Usage: refresh_16.sh SOCKET_DIR PORT
set -euo pipefail
host=$1 port=$2
N=16
db=authguard_concurrency
psql_() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_ -d "$db" -c "CREATE EXTENSION pg_authguard"

cat >"$work/refresh.sql" <<'SQL'
SELECT pg_advisory_lock_shared(4242);
INSERT INTO results SELECT r.status, r.jti FROM tok, LATERAL authguard.rotate_session_token(tok.family_id, tok.jti) r;
SELECT pg_advisory_unlock_shared(4242);
SQL

fail=0
run_case() { # name, reuse_interval, expected "status:count ..." string, expected distinct jtis
    local name=$1 grace=$2 expected=$3 want_jtis=$4
    psql_ -d "$db" <<SQL
DROP TABLE IF EXISTS tok, results;
DELETE FROM authguard.auth_sessions; DELETE FROM authguard.auth_audit_log;
CREATE TABLE tok AS SELECT family_id, jti FROM authguard.create_session(gen_random_uuid());
CREATE TABLE results (status text, jti uuid);
SQL
    # The gun: hold the exclusive lock while the clients connect and queue.
    psql_ -d "$db" -c "SELECT pg_advisory_lock(4242), pg_sleep(2)" >/dev/null &
    local gun=$!
    sleep 0.5
    PGOPTIONS="-c authguard.reuse_interval=$grace" \
        pgbench -n -h "$host" -p "$port" -U postgres -c $N -j 2 -t 1 -f "$work/refresh.sql" "$db" \
        >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log"; fail=1; }
    local processed
    processed=$(grep -Eo 'actually processed: [0-9]+/[0-9]+' "$work/pgbench.log" || echo "no summary")
    [ "$processed" = "actually processed: $N/$N" ] || { echo "pgbench: $processed"; cat "$work/pgbench.log"; fail=1; }
    wait $gun
    local got jtis replays
    got=$(psql_ -d "$db" -At -c "SELECT string_agg(status || ':' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) n FROM results GROUP BY status) s")
    jtis=$(psql_ -d "$db" -At -c "SELECT count(DISTINCT jti) FROM results WHERE jti IS NOT NULL")
    replays=$(psql_ -d "$db" -At -c "SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_replay_detected'")
    if [ "$got" = "$expected" ] && [ "$jtis" = "$want_jtis" ]; then
        echo "ok: $name: $got; distinct jtis $jtis; replay audits $replays"
    else
        echo "FAILED: $name: got '$got' (distinct jtis $jtis), expected '$expected' ($want_jtis)"
        fail=1
    fi
    if [ "$grace" = 0 ] && [ "$replays" != 1 ]; then
        echo "FAILED: $name: $replays replay audit rows, expected exactly 1"; fail=1
    fi
}

run_case "16-way refresh, reuse_interval 10s" 10s "reissued:15 rotated:1" 1
run_case "16-way refresh, reuse_interval 0" 0 "replay_detected:1 revoked:14 rotated:1" 1
psql_ -d postgres -c "DROP DATABASE $db"
exit $fail
