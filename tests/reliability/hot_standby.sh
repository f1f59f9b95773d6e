#!/usr/bin/env bash
# Hot standby: a streaming replica of the test cluster (pg_basebackup -R, same
# machine, Unix socket only, another port). Once it has replayed the sessions
# made on the primary:
#   - validate_session on the standby answers valid / stale_token / revoked /
#     not_found exactly as on the primary, and sees a rotation made later;
#   - every writer (create_session, rotate_session_token, handle_token_replay,
#     revoke_session_family, revoke_user_sessions, cleanup_expired_sessions)
#     fails there with SQLSTATE 25006 and says it cannot run on a hot standby;
#   - session_stats and the pure functions answer there.
# Usage: hot_standby.sh SOCKET_DIR PORT
source "$(dirname "$0")/lib/rel.bash"
host=$1 port=$2
db=authguard_standby
bindir=$(rel_bindir)
runpg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
primary=(-h "$host" -p "$port")

q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q "$db" >/dev/null <<'SQL'
CREATE EXTENSION pg_authguard;
CREATE TABLE keep AS SELECT 'live'::text AS k, family_id, jti FROM authguard.create_session(gen_random_uuid());
INSERT INTO keep SELECT 'old', family_id, jti FROM authguard.create_session(gen_random_uuid());
INSERT INTO keep SELECT 'new', k.family_id, r.jti FROM keep k, authguard.rotate_session_token(k.family_id, k.jti) r WHERE k.k = 'old';
INSERT INTO keep SELECT 'gone', family_id, jti FROM authguard.create_session(gen_random_uuid());
SELECT authguard.revoke_session_family(family_id) FROM keep WHERE k = 'gone';
INSERT INTO keep VALUES ('unknown', gen_random_uuid(), gen_random_uuid());
SQL
check "primary wal_level allows a standby" "$(qv postgres "SELECT setting IN ('replica','logical') FROM pg_settings WHERE name = 'wal_level'")" t

sdir=$(dirname "$host")/$(basename "$host")-standby
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
rm -rf "$sdir"; mkdir -p "$sdir"; chmod 755 "$sdir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$sdir"
rel_at_exit "runpg '$bindir/pg_ctl' -D '$sdir/data' -m immediate -w stop >/dev/null 2>&1; rm -rf '$sdir'"
started=$(date +%s)
runpg timeout 120 "$bindir/pg_basebackup" "${primary[@]}" -U postgres -D "$sdir/data" -R -X stream -c fast \
    || { fail "pg_basebackup"; exit 1; }
cat >>"$sdir/data/postgresql.conf" <<CONF
port = $sport
unix_socket_directories = '$sdir'
hot_standby = on
CONF
runpg "$bindir/pg_ctl" -D "$sdir/data" -l "$sdir/server.log" -w -t 60 start >/dev/null \
    || { cat "$sdir/server.log"; fail "standby did not start"; exit 1; }
echo "standby up in $(( $(date +%s) - started )) s on port $sport"
sq() { (host=$sdir port=$sport q "$@"); }
sqv() { (host=$sdir port=$sport qv "$@"); }
check "the standby is in recovery" "$(sqv postgres "SELECT pg_is_in_recovery()")" t

# A rotation made after the base backup must reach the standby by streaming.
q "$db" >/dev/null <<'SQL'
INSERT INTO keep SELECT 'streamed', k.family_id, r.jti FROM keep k, authguard.rotate_session_token(k.family_id, k.jti) r WHERE k.k = 'new';
UPDATE keep SET k = 'new_now_stale' WHERE k = 'new';
SQL
lsn=$(qv postgres "SELECT pg_current_wal_lsn()")
caught=no
for _ in $(seq 100); do
    if [ "$(sqv postgres "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ]; then caught=yes; break; fi
    sleep 0.2
done
check "the standby replayed the primary's last change" "$caught" yes

answers() { "$@" "$db" "SELECT string_agg(k.k || '=' || v.status || ':' || v.valid, ' ' ORDER BY k.k)
                          FROM keep k, LATERAL authguard.validate_session(k.family_id, k.jti) v"; }
on_primary=$(answers qv)
on_standby=$(answers sqv)
check "validate_session on the standby = on the primary" "$on_standby" "$on_primary"
check "validate_session answers on the standby" "$on_standby" \
    "gone=revoked:false live=valid:true new_now_stale=stale_token:false old=stale_token:false streamed=valid:true unknown=not_found:false"

for call in \
    "authguard.create_session(gen_random_uuid())" \
    "authguard.rotate_session_token(k.family_id, k.jti)" \
    "authguard.handle_token_replay(gen_random_uuid(), k.family_id)" \
    "authguard.revoke_session_family(k.family_id)" \
    "authguard.revoke_user_sessions(gen_random_uuid())" \
    "authguard.cleanup_expired_sessions()"; do
    st=$(host=$sdir port=$sport sqlstate "$db" postgres "SELECT * FROM keep k, LATERAL $call x WHERE k.k = 'live'")
    fn=${call%%(*}
    if [ "$st" = 25006 ]; then pass "standby: $fn refused with 25006"; else fail "standby: $fn ended with $st, want 25006"; fi
done
# The wording, checked once in full.
host=$sdir port=$sport PGOPTIONS="-c client_min_messages=error" psql -X -q -h "$sdir" -p "$sport" -U postgres -d "$db" \
    -c "SELECT * FROM authguard.rotate_session_token(gen_random_uuid(), gen_random_uuid())" 2>"$REL_TMP/msg" >/dev/null || true
grep -q 'cannot run in a read-only transaction or on a hot standby' "$REL_TMP/msg" \
    && pass "standby: the error says it cannot run on a hot standby" || { fail "standby error wording"; cat "$REL_TMP/msg"; }
check "standby: session_stats answers" "$(sqv "$db" "SELECT (authguard.session_stats()->>'active_sessions')::int >= 2")" t
check "standby: pure functions answer" "$(sqv "$db" "SELECT length(authguard.device_hash('x'))")" 64
check "standby log has no crash" "$(log_crashes "$sdir/server.log")" ""
echo "hot standby test took $(( $(date +%s) - started )) s"
[ "$rel_fail" -ne 0 ] || q postgres -c "DROP DATABASE $db"
exit "$rel_fail"
