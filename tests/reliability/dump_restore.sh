#!/usr/bin/env bash
# Dump/restore is lossless: a database with sessions (live, rotated, revoked,
# replayed, multi-device, DPoP-bound) and their audit log is dumped with
# pg_dump -Fc and restored with pg_restore into a fresh database. Then:
#   - every table of schema authguard (from pg_class, so the keyring table is
#     covered once it exists) has the same row count and the same md5 over its
#     ordered rows, and every sequence the same last value;
#   - the restored database works: a session valid before is valid after (and
#     a stale/revoked one still is), rotating it gives 'rotated', replaying its
#     parent revokes the family, a new login gets a fresh audit id.
# Usage: dump_restore.sh SOCKET_DIR PORT
source "$(dirname "$0")/lib/rel.bash"
host=$1 port=$2
src=authguard_dump_src dst=authguard_dump_dst
bindir=$(rel_bindir)

q postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src"
# Fill: the workload (logins, joins, rotations, replays, logouts) plus hand-made cases.
workload_setup "$src" 20
workload_run "$src" 4 3 "$REL_TMP/pgbench.log" || { cat "$REL_TMP/pgbench.log"; fail "filling workload"; }
q "$src" >/dev/null <<'SQL'
CREATE TABLE keep AS SELECT 'live'::text AS k, family_id, jti FROM authguard.create_session(gen_random_uuid(), user_agent => 'ua', ip => '2001:db8::1');
INSERT INTO keep SELECT 'dpop', family_id, jti FROM authguard.create_session(gen_random_uuid(), dpop_jkt => 'thumb');
-- rotated once: 'rotated_old' is its parent, 'rotated' its current jti
INSERT INTO keep SELECT 'rotated_old', family_id, jti FROM authguard.create_session(gen_random_uuid());
INSERT INTO keep SELECT 'rotated', k.family_id, r.jti FROM keep k, authguard.rotate_session_token(k.family_id, k.jti) r WHERE k.k = 'rotated_old';
-- replayed: family revoked for token_replay
INSERT INTO keep SELECT 'replayed', family_id, jti FROM authguard.create_session(gen_random_uuid());
INSERT INTO public.rel_events (op, family_id, status)
SELECT 'replay_handle', family_id, CASE WHEN authguard.handle_token_replay(gen_random_uuid(), family_id) THEN 'replay_true' ELSE 'replay_false' END
  FROM keep WHERE k = 'replayed';
INSERT INTO keep SELECT 'logged_out', family_id, jti FROM authguard.create_session(gen_random_uuid());
INSERT INTO public.rel_events (op, family_id, status)
SELECT 'revoke', family_id, authguard.revoke_session_family(family_id, 'logout') FROM keep WHERE k = 'logged_out';
SQL
snapshot() { # DB -> "relation rows md5" lines for every table and sequence of the schema
    local d=$1 rel kind
    while IFS='|' read -r rel kind; do
        if [ "$kind" = S ]; then
            echo "$rel $(qv "$d" "SELECT last_value || '/' || is_called FROM $rel")"
        else
            echo "$rel $(qv "$d" "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '')) FROM $rel t")"
        fi
    done < <(qv "$d" "SELECT c.oid::regclass, c.relkind FROM pg_class c WHERE c.relnamespace = 'authguard'::regnamespace
                        AND c.relkind IN ('r','p','S') ORDER BY c.relname")
}
validate_all() { # DB -> "kind status" lines
    qv "$1" "SELECT string_agg(k.k || '=' || v.status, ' ' ORDER BY k.k)
               FROM keep k, LATERAL authguard.validate_session(k.family_id, k.jti, CASE WHEN k.k = 'dpop' THEN 'thumb' END) v"
}
snapshot "$src" >"$REL_TMP/before"
before_valid=$(validate_all "$src")
echo "before: $(tr '\n' ';' <"$REL_TMP/before")"

"$bindir/pg_dump" -h "$host" -p "$port" -U postgres -Fc -f "$REL_TMP/dump" "$src"
q postgres -c "CREATE DATABASE $dst"
rc=0
"$bindir/pg_restore" -h "$host" -p "$port" -U postgres -d "$dst" --exit-on-error "$REL_TMP/dump" 2>"$REL_TMP/restore.err" || rc=$?
check "pg_restore exit status" "$rc" 0
[ -s "$REL_TMP/restore.err" ] && { echo "pg_restore said:"; cat "$REL_TMP/restore.err"; }
snapshot "$dst" >"$REL_TMP/after"
if diff "$REL_TMP/before" "$REL_TMP/after" >"$REL_TMP/diff"; then
    pass "every authguard table and sequence identical after restore ($(wc -l <"$REL_TMP/before") relations)"
else
    fail "tables differ after restore:"; cat "$REL_TMP/diff"
fi
ntab=$(grep -vc '_seq ' "$REL_TMP/before" || true)
[ "$ntab" -ge 2 ] && pass "tables compared: $ntab" || fail "expected at least 2 tables, got $ntab"
rows=$(awk '$1 == "authguard.auth_sessions" {print $2}' "$REL_TMP/before")
[ "${rows:-0}" -gt 50 ] && pass "sessions dumped: $rows" || fail "too few sessions in the dump: ${rows:-0}"
check "every invariant identical in the restored database" "$(q "$dst" -At -F'|' -f "$REL_DIR/invariants.sql" | md5sum)" \
      "$(q "$src" -At -F'|' -f "$REL_DIR/invariants.sql" | md5sum)"
run_invariants "$dst"
after_valid=$(validate_all "$dst")
check "validate_session answers the same after restore" "$after_valid" "$before_valid"
check "expected answers" "$after_valid" "dpop=valid live=valid logged_out=revoked replayed=revoked rotated=valid rotated_old=stale_token"
# The restored database works.
out=$(q "$dst" -At <<'SQL'
SET authguard.reuse_interval = 0;
SELECT 'rotate', r.status FROM keep k, authguard.rotate_session_token(k.family_id, k.jti, user_agent => 'ua') r WHERE k.k = 'live';
SELECT 'replay', r.status FROM keep k, authguard.rotate_session_token(k.family_id, k.jti) r WHERE k.k = 'rotated_old';
SELECT 'after_replay', v.status FROM keep k, authguard.validate_session(k.family_id, k.jti) v WHERE k.k = 'rotated';
SELECT 'login', count(*) FROM authguard.create_session(gen_random_uuid());
SELECT 'audit_ids_unique', count(*) = count(DISTINCT id) FROM authguard.auth_audit_log;
SQL
) || fail "using the restored database"
check "the restored database works" "$(echo $out)" "rotate|rotated replay|replay_detected after_replay|revoked login|1 audit_ids_unique|t"
[ "$rel_fail" -ne 0 ] || q postgres -c "DROP DATABASE $src" -c "DROP DATABASE $dst"
exit "$rel_fail"
