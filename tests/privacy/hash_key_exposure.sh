#!/usr/bin/env bash
# authguard.hash_key set in the server configuration is readable by every role
# in a backend that has not loaded pg_authguard yet, so without preloading the
# extension refuses to use it (55000); a session's own SET is fine.
# Usage: hash_key_exposure.sh SOCKET_DIR PORT
set -euo pipefail
host=$1 port=$2
db=authguard_hash_key
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -h "$host" -p "$port" -U postgres "$@"; }
cleanup() {
    psql_ -d postgres -c "LOAD 'pg_authguard'" -c "ALTER SYSTEM RESET authguard.hash_key" -c "SELECT pg_reload_conf()" >/dev/null || true
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
}
trap cleanup EXIT
psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_ -d "$db" -c "CREATE EXTENSION pg_authguard"
fail=0
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAILED: $1: expected '$2', got '$3'"; fail=1; fi
}
sqlstate_of() { # sql -> SQLSTATE or 'ok'
    psql_ -d "$db" -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN PERFORM $1; RAISE WARNING 'ok'; EXCEPTION WHEN OTHERS THEN RAISE WARNING '%', SQLSTATE; END \$\$" 2>&1 \
        | sed -n 's/^WARNING: *//p' | tail -1
}
check "session SET hash_key is usable" ok \
    "$(psql_ -d "$db" -c "SET authguard.hash_key = 'pepper'" -c "SELECT CASE WHEN authguard.device_hash('ua') = encode(authguard.hmac_sha256('pepper', 'ua'), 'hex') THEN 'ok' ELSE 'wrong' END")"
psql_ -d postgres -c "LOAD 'pg_authguard'" -c "ALTER SYSTEM SET authguard.hash_key = 'pepper'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
check "a config-file hash_key is visible to SHOW before the library loads" pepper \
    "$(psql_ -d "$db" -c "SHOW authguard.hash_key")"
check "so device_hash refuses it without preloading" 55000 "$(sqlstate_of "authguard.device_hash('ua')")"
check "and so does create_session with a user agent" 55000 \
    "$(sqlstate_of "authguard.create_session(gen_random_uuid(), user_agent => 'ua')")"
check "create_session without client data still works" ok "$(sqlstate_of "authguard.create_session(gen_random_uuid())")"
exit $fail
