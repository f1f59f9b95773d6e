#!/usr/bin/env bash
# Hostile-input sweep over every function of schema authguard (from pg_proc,
# so functions added later are covered automatically; trigger functions are
# skipped). lib/hostile_gen.py generates, per function, each hostile value of
# each argument's type (NULLs, empty and wrong-length values, malformed
# base64/UTF-8/uuid/inet, absurd intervals and timestamps, huge values) with
# baseline values elsewhere, all-NULL, a wrong-typed argument, one argument
# too many, and the baseline call in a read-only transaction. Asserts:
#   - every call returns or raises a documented SQLSTATE (never XX000);
#   - no backend crash (every call recorded; server log clean);
#   - successful calls return exactly one row, fixed-size outputs whole;
#   - every session writer refuses a read-only transaction with 25006.
# Usage: hostile_sweep.sh SOCKET_DIR PORT
#   env REL_HUGE_BYTES (default 16 MiB; `make soak` uses 512 MiB), REL_GIANT=1 (adds a ~950 MB text)
source "$(dirname "$0")/lib/rel.bash"
host=$1 port=$2
db=authguard_sweep
serverlog=$host/server.log   # scripts/cluster.sh keeps the log beside the socket
[ -f "$serverlog" ] || fail "no server log at $serverlog (needed for the crash check)"
from=$(log_size "$serverlog")
started=$(date +%s)

q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q "$db" <<'SQL'
CREATE EXTENSION pg_authguard;
CREATE TABLE sweep_fixture (user_id uuid, family_id uuid, jti uuid);
CREATE TABLE sweep_results (id int PRIMARY KEY, fn text, arg text, label text, huge bool, read_only bool,
                            sqlstate text, nrows bigint, lens text, message text);
-- SQLSTATEs a call may end with: README's table, plus Postgres' own input and
-- resolution errors raised before our code runs (documented in docs/reliability.md).
CREATE TABLE sweep_allowed (sqlstate text PRIMARY KEY, why text, only_labels text[]);
INSERT INTO sweep_allowed VALUES
 ('00000','success', NULL), ('22004','NULL required argument', NULL), ('22023','bad length/value', NULL),
 ('22015','interval too long', NULL), ('22P02','malformed encoding / input syntax', NULL), ('22000','authentication failed', NULL),
 ('23514','encryption-version contract', NULL), ('25006','read-only', NULL), ('28000','not authorized', NULL),
 ('40001','serialization', NULL), ('42501','privilege', NULL), ('42703','undefined column', NULL), ('42704','undefined object', NULL),
 ('42710','duplicate object', NULL), ('54000','program limit (input too large)', NULL), ('55000','not configured', NULL),
 -- Postgres' own errors before our code runs: only where the sweep injected that very fault.
 ('42883','Postgres: no function matches the argument types', '{wrong_type,too_many_args}'),
 ('22007','Postgres: invalid datetime input', '{malformed,infinity}'),
 ('22008','Postgres: datetime/interval field overflow', '{out_of_range}'),
 ('22003','Postgres: numeric value out of range', '{overflow}'),
 ('22021','Postgres: invalid byte sequence for UTF8', '{invalid_utf8}'),
 ('42P01','a regclass naming no table: Postgres for a name, pg_authguard for a dangling OID', NULL);
SQL

q "$db" -At -F'|' >"$REL_TMP/functions" <<'SQL'
SELECT p.proname, p.pronargs, p.pronargdefaults,
       coalesce((SELECT string_agg(coalesce(n, ''), ',' ORDER BY i)
                   FROM unnest(p.proargnames) WITH ORDINALITY a(n, i) WHERE i <= p.pronargs), ''),
       coalesce((SELECT string_agg(format_type(t, NULL), ';' ORDER BY i)
                   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i)), ''),
       format_type(p.prorettype, NULL), p.proretset, p.provolatile, p.prosecdef
  FROM pg_proc p
 WHERE p.pronamespace = 'authguard'::regnamespace AND p.prokind = 'f'
   AND p.prorettype <> 'trigger'::regtype
 ORDER BY p.oid::regprocedure::text;
SQL
nfun=$(wc -l <"$REL_TMP/functions")
REL_SWEEP_COUNT="$REL_TMP/count" python3 "$REL_DIR/lib/hostile_gen.py" <"$REL_TMP/functions" >"$REL_TMP/sweep.sql"
ncalls=$(cat "$REL_TMP/count")
echo "sweep: $nfun functions, $ncalls calls (huge values: ${REL_HUGE_BYTES:-16777216} bytes)"

# One psql runs the calls; if a call takes the backend down, psql exits, the
# call is recorded as 'CRASH', and the sweep resumes after it once the server
# accepts connections again (bounded: at most 20 restarts).
next=1 restarts=0
while [ "$next" -le "$ncalls" ] && [ "$restarts" -le 20 ]; do
    awk -v from="$next" '/^-- call [0-9]+$/ { n = $3 } n >= from' "$REL_TMP/sweep.sql" >"$REL_TMP/part.sql"
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -h "$host" -p "$port" -U postgres -d "$db" \
        -f "$REL_TMP/part.sql" >>"$REL_TMP/sweep.out" 2>&1 || true
    last=$(qv "$db" "SELECT coalesce(max(id), 0) FROM sweep_results" 2>/dev/null || echo "")
    for _ in $(seq 60); do [ -n "$last" ] && break; sleep 1
        last=$(qv "$db" "SELECT coalesce(max(id), 0) FROM sweep_results" 2>/dev/null || echo ""); done
    [ -n "$last" ] || { fail "the server did not come back after a crash"; break; }
    [ "$last" -ge "$ncalls" ] && break
    crashed=$((last + 1))
    echo "call $crashed took the backend down:"; grep -A12 -- "^-- call $crashed\$" "$REL_TMP/sweep.sql" | grep -m1 'FROM authguard' | sed 's/^ *//' | cut -c1-300
    qv "$db" "INSERT INTO sweep_results (id, fn, label, sqlstate) VALUES ($crashed, 'call $crashed', 'crash', 'CRASH')" >/dev/null
    next=$((crashed + 1)) restarts=$((restarts + 1))
done
recorded=$(qv "$db" "SELECT count(*) FROM sweep_results")
check "every call recorded" "$recorded" "$ncalls"
crashed_calls=$(qv "$db" "SELECT count(*) FROM sweep_results WHERE sqlstate = 'CRASH'")
check "calls that took the backend down" "$crashed_calls" 0
echo "SQLSTATE histogram:"
q "$db" -At -F' ' -c "SELECT '  ' || sqlstate, count(*), coalesce((SELECT why FROM sweep_allowed a WHERE a.sqlstate = r.sqlstate), 'NOT DOCUMENTED')
                        FROM sweep_results r GROUP BY sqlstate ORDER BY sqlstate"
unexpected=$(qv "$db" "SELECT count(*) FROM sweep_results r
                        WHERE NOT EXISTS (SELECT 1 FROM sweep_allowed a WHERE a.sqlstate = r.sqlstate
                                             AND (a.only_labels IS NULL OR r.label = ANY (a.only_labels)))
                          AND NOT (r.sqlstate = '53200' AND r.huge)")
check "calls ending in an undocumented SQLSTATE (XX000, or a Postgres error the input did not cause)" "$unexpected" 0
q "$db" -At -F' | ' -c "SELECT fn, arg, label, sqlstate, message FROM sweep_results r
                         WHERE NOT EXISTS (SELECT 1 FROM sweep_allowed a WHERE a.sqlstate = r.sqlstate
                                              AND (a.only_labels IS NULL OR r.label = ANY (a.only_labels)))
                           AND NOT (r.sqlstate = '53200' AND r.huge) ORDER BY id LIMIT 30"
oom=$(qv "$db" "SELECT count(*) FROM sweep_results WHERE sqlstate = '53200'")
[ "$oom" = 0 ] || echo "note: $oom huge-value call(s) ended in 53200 out_of_memory (accepted for huge values only)"
prefix=$(qv "$db" "SELECT count(*) FROM sweep_results r WHERE sqlstate IN ('22004','22023','22015','22000','23514','25006','28000','42703','42704','42710','55000')
                     AND message NOT LIKE 'pg_authguard:%'")
check "our errors start with 'pg_authguard:'" "$prefix" 0
q "$db" -At -F' | ' -c "SELECT fn, label, sqlstate, message FROM sweep_results WHERE sqlstate IN ('22004','22023','22015','22000','23514','25006','28000','42703','42704','42710','55000')
                         AND message NOT LIKE 'pg_authguard:%' LIMIT 10"
# (A STRICT set-returning function given a NULL returns no row: that is whole.)
rows=$(qv "$db" "SELECT count(*) FROM sweep_results WHERE sqlstate = '00000' AND nrows <> 1
                   AND NOT (nrows = 0 AND label IN ('null', 'all_null'))")
check "successful calls returning other than exactly one row" "$rows" 0
# Whole outputs: fixed-size results (text form of bytea is \x + 2 hex per byte).
short=$(qv "$db" "SELECT count(*) FROM sweep_results r JOIN (VALUES
                    ('sha256', '66'), ('hmac_sha256', '66'), ('device_hash', '64'), ('hash_token', '64'),
                    ('key_exchange_hash', '66'), ('x25519_public_key', '66'), ('x25519_shared_secret', '66'),
                    ('random_nonce', '26')) k(fn, len) USING (fn)
                   WHERE r.sqlstate = '00000' AND r.lens IS DISTINCT FROM k.len AND r.lens <> 'null'")
check "fixed-size outputs of the wrong size" "$short" 0
# Writers refuse a read-only transaction with 25006 and say so.
ro=$(qv "$db" "SELECT count(*) FROM sweep_results WHERE read_only
                  AND fn IN ('create_session','rotate_session_token','handle_token_replay','revoke_session_family',
                             'revoke_user_sessions','cleanup_expired_sessions','create_key','rotate_key',
                             'reencrypt_column','rotate_master_key')
                  AND (sqlstate <> '25006' OR message NOT LIKE '%read-only transaction%')")
q "$db" -At -F' | ' -c "SELECT fn, label, sqlstate, message FROM sweep_results WHERE read_only
                  AND fn IN ('create_session','rotate_session_token','handle_token_replay','revoke_session_family',
                             'revoke_user_sessions','cleanup_expired_sessions','create_key','rotate_key',
                             'reencrypt_column','rotate_master_key')
                  AND (sqlstate <> '25006' OR message NOT LIKE '%read-only transaction%')"
check "writers not refusing a read-only transaction with 25006" "$ro" 0
rook=$(qv "$db" "SELECT count(*) FROM sweep_results WHERE read_only AND fn IN ('validate_session','session_stats','sha256','device_hash') AND sqlstate <> '00000'")
q "$db" -At -F' | ' -c "SELECT fn, sqlstate, message FROM sweep_results WHERE read_only AND fn IN ('validate_session','session_stats','sha256','device_hash') AND sqlstate <> '00000'"
check "readers failing in a read-only transaction" "$rook" 0
crashes=$(log_crashes "$serverlog" "$from")
[ -z "$crashes" ] && pass "no crash in the server log" || fail "crash in the server log: $crashes"
echo "sweep took $(( $(date +%s) - started )) s"
[ "$rel_fail" -ne 0 ] || q postgres -c "DROP DATABASE $db"
exit "$rel_fail"
