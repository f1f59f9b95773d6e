#!/usr/bin/env bash
# The application role confined: a NOSUPERUSER LOGIN role holding only
# authguard_app (reached over its own connection, not SET ROLE):
#   - every app function works (login, validate, refresh, reissue, replay via
#     rotation and via handle_token_replay, logout);
#   - SELECT/INSERT/UPDATE/DELETE/TRUNCATE on every table, view and sequence of
#     schema authguard (from pg_class: tables added later, e.g. the keyring,
#     are covered) is denied with 42501;
#   - every SECURITY DEFINER function it may run is one of the documented app
#     functions; every other function touching tables is denied with 42501;
#   - it cannot change the SUSET settings, and the secret settings
#     (hash_key, master_key, master_key_command) are invisible to it: SHOW and
#     current_setting fail, pg_settings and SHOW ALL do not list them, and the
#     configured secret value appears nowhere it can read.
# Usage: privileges.sh SOCKET_DIR PORT
source "$(dirname "$0")/lib/rel.bash"
host=$1 port=$2
db=authguard_priv
app=rel_app_login
secret=c0ffee$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

restore_conf() {
    q postgres -c "LOAD 'pg_authguard'" -c "ALTER SYSTEM RESET authguard.hash_key" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
rel_at_exit restore_conf
q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" -c "DROP ROLE IF EXISTS $app"
q "$db" -c "CREATE EXTENSION pg_authguard" -c "CREATE ROLE $app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" \
        -c "GRANT authguard_app TO $app"
# Memberships: only authguard_app.
check "the app role's memberships" \
    "$(qv "$db" "SELECT string_agg(r.rolname, ',') FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = '$app'::regrole")" \
    authguard_app
check "the app role is not a superuser" "$(qv "$db" "SELECT rolsuper FROM pg_roles WHERE rolname = '$app'")" f

# 1. The app functions work, over the app role's own connection.
appq() { PGUSER_REL=$app q "$db" -At "$@"; }
out=$(appq <<'SQL'
CREATE TEMP TABLE t AS SELECT * FROM authguard.create_session('11111111-1111-4111-8111-111111111111', user_agent => 'ua', ip => '198.51.100.9');
SELECT 'validate', status FROM t, authguard.validate_session(t.family_id, t.jti);
CREATE TEMP TABLE r1 AS SELECT r.* FROM t, authguard.rotate_session_token(t.family_id, t.jti, user_agent => 'ua') r;
SELECT 'rotate', status FROM r1;
SELECT 'reissue', r.status, r.jti = r1.jti FROM t, r1, authguard.rotate_session_token(t.family_id, t.jti) r;
CREATE TEMP TABLE r2 AS SELECT r.* FROM t, r1, authguard.rotate_session_token(t.family_id, r1.jti) r;
SELECT 'replay', r.status FROM t, authguard.rotate_session_token(t.family_id, t.jti) r;
SELECT 'validate_after_replay', v.status FROM t, r2, authguard.validate_session(t.family_id, r2.jti) v;
CREATE TEMP TABLE t2 AS SELECT * FROM authguard.create_session('11111111-1111-4111-8111-111111111111');
CREATE TEMP TABLE t3 AS SELECT * FROM authguard.create_session('11111111-1111-4111-8111-111111111111', family_id => (SELECT family_id FROM t2));
SELECT 'handle_replay', authguard.handle_token_replay(gen_random_uuid(), family_id) FROM t2;
CREATE TEMP TABLE t4 AS SELECT * FROM authguard.create_session('11111111-1111-4111-8111-111111111111');
SELECT 'logout', authguard.revoke_session_family(family_id, 'logout') FROM t4;
SELECT 'logout_again', authguard.revoke_session_family(family_id, 'logout') FROM t4;
SELECT 'hashes', length(authguard.device_hash('x')), length(authguard.hash_token('y'));
SQL
) || fail "an app function failed for the app role"
want="validate|valid
rotate|rotated
reissue|reissued|t
replay|replay_detected
validate_after_replay|revoked
handle_replay|t
logout|1
logout_again|0
hashes|64|64"
[ "$out" = "$want" ] && pass "app functions work for the app role" || { fail "app functions for the app role"; diff <(echo "$want") <(echo "$out") || true; }

# 2. No direct access to any relation of the schema.
denied=0 total=0
while IFS='|' read -r rel kind col; do
    case "$kind" in
        r|p) stmts=("SELECT * FROM $rel LIMIT 1" "INSERT INTO $rel DEFAULT VALUES" "UPDATE $rel SET $col = $col"
                    "DELETE FROM $rel" "TRUNCATE $rel" "COPY $rel TO STDOUT") ;;
        v|m) stmts=("SELECT * FROM $rel LIMIT 1") ;;
        S)   stmts=("SELECT nextval('$rel')" "SELECT * FROM $rel" "SELECT setval('$rel', 1)") ;;
        *)   continue ;;
    esac
    for s in "${stmts[@]}"; do
        total=$((total + 1))
        st=$(sqlstate "$db" "$app" "$s")
        if [ "$st" = 42501 ]; then denied=$((denied + 1)); else fail "app role: '$s' ended with $st, want 42501"; fi
    done
done < <(qv "$db" "SELECT c.oid::regclass, c.relkind,
                           (SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = c.oid AND attnum = 1)
                      FROM pg_class c WHERE c.relnamespace = 'authguard'::regnamespace AND c.relkind IN ('r','p','v','m','S') ORDER BY 1")
check "direct statements on authguard relations denied with 42501" "$denied/$total" "$total/$total"
rels=$(qv "$db" "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY 1) FROM pg_class c WHERE c.relnamespace = 'authguard'::regnamespace AND c.relkind IN ('r','p')")
echo "tables covered: $rels"
# Row data does not leak through the statistics views either.
check "pg_stats rows of authguard tables visible to the app role" \
    "$(PGUSER_REL=$app qv "$db" "SELECT count(*) FROM pg_stats WHERE schemaname = 'authguard'")" 0

# 3. Functions: the SECURITY DEFINER ones it may run are exactly documented app functions.
extra=$(qv "$db" "SELECT coalesce(string_agg(p.proname, ','), '') FROM pg_proc p
                   WHERE p.pronamespace = 'authguard'::regnamespace AND p.prosecdef
                     AND has_function_privilege('$app', p.oid, 'EXECUTE')
                     AND p.proname <> ALL (ARRAY['create_session','rotate_session_token','validate_session',
                          '_validate_session','handle_token_replay','revoke_session_family','encrypt_with_key','decrypt_with_key','key_version_of'])")
check "SECURITY DEFINER functions the app role may run beyond the app set" "$extra" ""
ndenied=0 nother=0
while IFS='|' read -r call; do
    nother=$((nother + 1))
    st=$(sqlstate "$db" "$app" "SELECT $call")
    if [ "$st" = 42501 ]; then ndenied=$((ndenied + 1)); else fail "app role: $call ended with $st, want 42501"; fi
# Arguments are scalar subqueries, not NULL constants: the planner folds a
# STRICT function of a NULL constant to NULL before any privilege check.
done < <(qv "$db" "SELECT format('%s(%s)', p.oid::regproc,
                           coalesce((SELECT string_agg(format('(SELECT NULL::%s)', format_type(t, NULL)), ', ')
                                       FROM unnest(p.proargtypes::oid[]) t), ''))
                     FROM pg_proc p WHERE p.pronamespace = 'authguard'::regnamespace AND p.prokind = 'f'
                      AND p.prorettype <> 'trigger'::regtype
                      AND NOT has_function_privilege('$app', p.oid, 'EXECUTE') ORDER BY 1")
check "functions outside the app set denied with 42501" "$ndenied/$nother" "$nother/$nother"
[ "$nother" -gt 0 ] || fail "expected admin-only functions (revoke_user_sessions, cleanup_expired_sessions, session_stats)"

# 4. Settings. The SUSET ones: refused once the library is loaded, and a value
# set before it was loaded is discarded when it loads.
load="SELECT authguard.device_hash('x');"
for g in reuse_interval idle_timeout ipv4_prefix ipv6_prefix audit_rotations; do
    st=$(sqlstate "$db" "$app" "$load SET authguard.$g = '1'")
    check "app role: SET authguard.$g" "$st" 42501
done
early=$(PGUSER_REL=$app q "$db" -At -c "SET authguard.reuse_interval = '1h'" -c "$load" -c "SHOW authguard.reuse_interval" 2>/dev/null | tail -1)
check "app role: reuse_interval set before the library loaded is discarded" "$early" 10s

# Secrets, without preloading (this cluster): once a session has loaded the
# library they are hidden; before that they sit in a placeholder anyone can
# SHOW, which the library reports with a WARNING at load, and it refuses to
# use such a hash key (55000) rather than hash with a key others may know.
q "$db" -c "LOAD 'pg_authguard'" -c "ALTER SYSTEM SET authguard.hash_key = '$secret'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
load="SELECT authguard.sha256('x');"
PGUSER_REL=$app q "$db" -At -c "$load" >/dev/null 2>"$REL_TMP/load.err" || true
check "without preload a configured hash_key is refused" "$(sqlstate "$db" "$app" "SELECT authguard.device_hash('x')")" 55000
grep -q 'authguard.hash_key set in the configuration but pg_authguard is not preloaded' "$REL_TMP/load.err" \
    && pass "loading the library without preload warns that the configured hash_key was exposed" \
    || { fail "no warning about a configured secret without shared_preload_libraries"; cat "$REL_TMP/load.err"; }
check_secrets_hidden() { # DB USER PREFIX-SQL LABEL
    local d=$1 u=$2 pre=$3 label=$4 g st
    for g in hash_key master_key master_key_command; do
        st=$(sqlstate "$d" "$u" "$pre SHOW authguard.$g")
        case "$st" in 42501|42704) pass "$label: SHOW authguard.$g refused ($st)" ;; *) fail "$label: SHOW authguard.$g ended with $st" ;; esac
        st=$(sqlstate "$d" "$u" "$pre SELECT current_setting('authguard.$g')")
        case "$st" in 42501|42704) pass "$label: current_setting('authguard.$g') refused ($st)" ;; *) fail "$label: current_setting('authguard.$g') ended with $st" ;; esac
    done
    PGUSER_REL=$u q "$d" -At -c "$pre SELECT 1" -c "SELECT name || '=' || setting FROM pg_settings" -c "SHOW ALL" >"$REL_TMP/settings.out" 2>/dev/null || true
    check "$label: secret settings or the secret value listed in pg_settings / SHOW ALL" \
        "$(grep -c -E "authguard\.(hash_key|master_key)|$secret" "$REL_TMP/settings.out" || true)" 0
    local leak
    leak=$(PGUSER_REL=$u qv "$d" "SELECT count(*) FROM pg_file_settings WHERE setting LIKE '%$secret%'" 2>/dev/null || echo denied)
    case "$leak" in 0|denied) pass "$label: secret not readable from pg_file_settings ($leak)" ;; *) fail "$label: secret readable from pg_file_settings" ;; esac
    check "$label: secret in pg_db_role_setting" \
        "$(PGUSER_REL=$u qv "$d" "SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%$secret%'")" 0
}
check_secrets_hidden "$db" "$app" "$load" "app role (library loaded)"
check "the superuser sees the configured hash_key" "$(q "$db" -At -c "$load" -c "SHOW authguard.hash_key" | tail -1)" "$secret"

# Secrets with shared_preload_libraries (the supported configuration for
# secrets in postgresql.conf): hidden from the very first statement.
major=$(rel_major)
read -r pdir pport < <(bash "$REPO_ROOT/scripts/cluster.sh" start "$major" privpreload)
rel_at_exit "bash '$REPO_ROOT/scripts/cluster.sh' stop '$pdir'; rm -rf '$pdir'"
bindir=$(rel_bindir)
printf "shared_preload_libraries = 'pg_authguard'\nauthguard.hash_key = '%s'\n" "$secret" >>"$pdir/data/postgresql.conf"
runpg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
runpg "$bindir/pg_ctl" -D "$pdir/data" -l "$pdir/server.log" -w -t 60 restart >/dev/null
( host=$pdir port=$pport
  q postgres -c "CREATE EXTENSION pg_authguard" -c "CREATE ROLE $app LOGIN NOSUPERUSER" -c "GRANT authguard_app TO $app" >/dev/null
  check_secrets_hidden postgres "$app" "" "preloaded, fresh session"
  check "preloaded: hash_key in force" "$(PGUSER_REL=$app qv postgres "SELECT authguard.hash_token('x') <> encode(sha256('x'), 'hex')")" t
  exit "$rel_fail" ) || rel_fail=1

q "$db" -c "DROP OWNED BY $app" >/dev/null
q postgres -c "DROP DATABASE $db" -c "DROP ROLE $app" >/dev/null
exit "$rel_fail"
