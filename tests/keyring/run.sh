#!/usr/bin/env bash
# Keyring scenario on a real cluster, the master key set by ALTER SYSTEM + reload:
#   100 k ciphertexts, rotation, CALL reencrypt_column cancelled mid-way and
#   resumed, every value decryptable throughout; a NOSUPERUSER authguard_app
#   role can encrypt/decrypt but cannot see the master key or the keys table;
#   pg_dump/restore into a fresh database decrypts with the same master key;
#   wrong / malformed / command-supplied master keys.
#
#   tests/keyring/run.sh MAJOR      (the extension must be installed for MAJOR)
#
# Prints PASS/FAIL lines and exits non-zero when anything failed.
source "$(dirname "$0")/../../scripts/common.sh"
set +e

major=${1:-15}
ROWS=${KEYRING_ROWS:-100000}
MK=5f2b0c9a61e34d7f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071
MK2=aa2b0c9a61e34d7f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071
bindir=$("$(pg_config_for "$major")" --bindir)

read -r dir port < <("$REPO_ROOT/scripts/cluster.sh" start "$major" keyring) || die "cluster did not start"
trap '"$REPO_ROOT/scripts/cluster.sh" stop "$dir"' EXIT

fails=0
pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; fails=$((fails + 1)); }
check() { # name, expected, actual
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
# psql as USER on DB, unaligned, tuples only; stderr kept apart.
q() { local user=$1 db=$2; shift 2; "$bindir/psql" -X -q -At -h "$dir" -p "$port" -U "$user" -d "$db" "$@"; }
# Run SQL expected to fail; prints "SQLSTATE: message".
err() { # user db sql
    q "$1" "$2" -v VERBOSITY=verbose -c "$3" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): \(.*\)$/\1: \2/p' | head -1
}
reload_with() { # SQL run by the superuser, then reload. Postgres 15 knows
    # authguard.* in ALTER SYSTEM only once the library is loaded: LOAD it.
    q postgres postgres -c "LOAD 'pg_authguard'" -c "$1" -c "SELECT pg_catalog.pg_reload_conf()" >/dev/null
    sleep 0.3
}

q postgres postgres -c "CREATE DATABASE kr" >/dev/null || die "createdb failed"
q postgres kr -c "CREATE EXTENSION pg_authguard" >/dev/null || die "CREATE EXTENSION failed"

# --- no master key yet: a clear error naming the setting
e=$(err postgres kr "SELECT authguard.create_key('pii')")
case "$e" in 55000:*authguard.master_key*) pass "missing master key -> $e" ;; *) fail "missing master key: '$e'" ;; esac

# --- set by ALTER SYSTEM without preloading: Postgres keeps the value as a
# placeholder readable by every role until the library loads, so it is refused.
reload_with "ALTER SYSTEM SET authguard.master_key = '$MK'"
e=$(err postgres kr "SELECT authguard.create_key('pii')")
case "$e" in 55000:*"not preloaded"*) pass "master key in the configuration without preload is refused" ;; *) fail "no preload: '$e'" ;; esac

# shared_preload_libraries (one restart) also keeps the postmaster from
# logging the new value on every reload (see docs/keyring.md).
q postgres postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_authguard'" >/dev/null
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -m fast restart >/dev/null || die "restart failed"
log_from=$(wc -l <"$dir/server.log")
reload_with "ALTER SYSTEM SET authguard.master_key = '$MK'"
check "create_key after ALTER SYSTEM + reload" 1 "$(q postgres kr -c "SELECT authguard.create_key('pii')")"

# --- 100 k ciphertexts at version 1, then rotation and a few rows at version 2
t0=$(date +%s.%N)
q postgres kr -c "CREATE TABLE t (id int PRIMARY KEY, c bytea)" \
    -c "INSERT INTO t SELECT g, authguard.encrypt_with_key('pii', convert_to('value-' || g, 'UTF8')) FROM generate_series(1, $ROWS) g" \
    >/dev/null || fail "filling the table"
t1=$(date +%s.%N)
echo "      info: inserting $ROWS ciphertexts took $(echo "$t1 - $t0" | bc) s"
check "rotate_key -> 2" 2 "$(q postgres kr -c "SELECT authguard.rotate_key('pii')")"
q postgres kr -c "UPDATE t SET c = authguard.encrypt_with_key('pii', convert_to('value-' || id, 'UTF8')) WHERE id % 1000 = 0" >/dev/null
check "mixed versions before re-encryption" "1:$((ROWS - ROWS / 1000)),2:$((ROWS / 1000))" \
    "$(q postgres kr -c "SELECT string_agg(v || ':' || n, ',' ORDER BY v) FROM (SELECT authguard.key_version_of(c) v, count(*) n FROM t GROUP BY 1) s")"

all_decrypt() {
    q postgres kr -c "SELECT count(*) FROM t WHERE convert_from(authguard.decrypt_with_key(c), 'UTF8') = 'value-' || id"
}
at_v2() { q postgres kr -c "SELECT count(*) FROM t WHERE authguard.key_version_of(c) = 2"; }

# --- reencrypt_column, cancelled from a second session once batches have committed
PGAPPNAME=reencrypt_victim q postgres kr -c "CALL authguard.reencrypt_column('t', 'c', 1000)" \
    >"$dir/reenc1.out" 2>&1 &
victim=$!
cancelled=no
for _ in $(seq 1 600); do
    n=$(at_v2)
    if [ "${n:-0}" -ge $((ROWS / 1000 + 10000)) ]; then
        q postgres postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'reencrypt_victim'" >/dev/null
        cancelled=yes
        break
    fi
    kill -0 $victim 2>/dev/null || break
    sleep 0.1
done
wait $victim
grep -q "canceling statement due to user request" "$dir/reenc1.out" && [ $cancelled = yes ] \
    && pass "reencrypt_column cancelled mid-way" || { fail "reencrypt_column was not cancelled mid-way"; cat "$dir/reenc1.out"; }
grep -q "NOTICE:  reencrypt_column: [0-9]*/$ROWS rows" "$dir/reenc1.out" \
    && pass "progress NOTICEs per batch ($(grep -c 'NOTICE:  reencrypt_column: [0-9]*/[0-9]* rows$' "$dir/reenc1.out") before the cancel)" \
    || fail "no progress NOTICE"
partial=$(at_v2)
if [ "$partial" -gt $((ROWS / 1000)) ] && [ "$partial" -lt "$ROWS" ]; then
    pass "committed batches survive the cancel ($partial/$ROWS at version 2)"
else
    fail "partial progress after cancel: $partial"
fi
check "every value decrypts after the interruption" "$ROWS" "$(all_decrypt)"

# --- resume
t0=$(date +%s.%N)
q postgres kr -c "CALL authguard.reencrypt_column('t', 'c', 1000)" >"$dir/reenc2.out" 2>&1 || fail "resumed reencrypt_column failed"
t1=$(date +%s.%N)
first=$(grep -m1 'NOTICE:  reencrypt_column:' "$dir/reenc2.out")
case "$first" in *"$partial/$ROWS rows at the active version, $((ROWS - partial)) to re-encrypt"*) pass "re-run resumes: $first" ;;
                 *) fail "re-run did not resume from $partial: $first" ;; esac
grep -q "finished, $ROWS/$ROWS rows at the active version" "$dir/reenc2.out" && pass "re-run finishes" || { fail "re-run did not finish"; cat "$dir/reenc2.out"; }
echo "      info: resumed run re-encrypted $((ROWS - partial)) rows in $(echo "$t1 - $t0" | bc) s ($(echo "($ROWS - $partial) / ($t1 - $t0)" | bc) rows/s, debug build)"
check "all rows at version 2" "$ROWS" "$(at_v2)"
check "every value decrypts after re-encryption" "$ROWS" "$(all_decrypt)"
out=$(q postgres kr -c "CALL authguard.reencrypt_column('t', 'c', 1000)" 2>&1)
case "$out" in *"$ROWS/$ROWS rows at the active version, 0 to re-encrypt"*) pass "third run has nothing to do" ;; *) fail "third run: $out" ;; esac
e=$(err postgres kr "CALL authguard.reencrypt_column('t', 'nope')"); case "$e" in 42703:*) pass "unknown column -> $e" ;; *) fail "unknown column: '$e'" ;; esac
e=$(err postgres kr "CALL authguard.reencrypt_column('t', 'id')"); case "$e" in 42804:*) pass "non-bytea column -> $e" ;; *) fail "non-bytea column: '$e'" ;; esac

# --- a NOSUPERUSER application role
q postgres postgres -c "CREATE ROLE app LOGIN NOSUPERUSER IN ROLE authguard_app" >/dev/null
check "app encrypts and decrypts" "hello" \
    "$(q app kr -c "SELECT convert_from(authguard.decrypt_with_key(authguard.encrypt_with_key('pii', 'hello'::bytea)), 'UTF8')")"
e=$(err app kr "SHOW authguard.master_key"); case "$e" in 42501:*) pass "app cannot SHOW the master key" ;; *) fail "app SHOW master key: '$e'" ;; esac
e=$(err app kr "SELECT current_setting('authguard.master_key')"); case "$e" in 42501:*) pass "app cannot current_setting() the master key" ;; *) fail "app current_setting: '$e'" ;; esac
check "app sees no master key in pg_settings" 0 "$(q app kr -c "SELECT count(*) FROM pg_settings WHERE name LIKE 'authguard.master_key%'")"
q app kr -c "SHOW ALL" | grep -q "$MK" && fail "master key visible in SHOW ALL" || pass "master key not in SHOW ALL"
e=$(err app kr "SELECT * FROM authguard.keys"); case "$e" in 42501:*) pass "app cannot SELECT authguard.keys" ;; *) fail "app reads keys: '$e'" ;; esac
e=$(err app kr "SELECT authguard.create_key('x')"); case "$e" in 42501:*) pass "app cannot create keys" ;; *) fail "app create_key: '$e'" ;; esac

# --- pg_dump / restore into a fresh database
"$bindir/pg_dump" -h "$dir" -p "$port" -U postgres -d kr -f "$dir/kr.sql" || fail "pg_dump"
q postgres postgres -c "CREATE DATABASE kr_restored" >/dev/null
q postgres kr_restored -v ON_ERROR_STOP=1 -f "$dir/kr.sql" >/dev/null 2>"$dir/restore.err" || { fail "restore"; cat "$dir/restore.err"; }
check "restored keyring has both versions" 2 "$(q postgres kr_restored -c "SELECT count(*) FROM authguard.keys")"
check "every value decrypts after restore" "$ROWS" \
    "$(q postgres kr_restored -c "SELECT count(*) FROM t WHERE convert_from(authguard.decrypt_with_key(c), 'UTF8') = 'value-' || id")"
check "restored database encrypts with the restored key" 3 "$(q postgres kr_restored -c "SELECT authguard.rotate_key('pii')")"

# --- wrong and malformed master keys, after ALTER SYSTEM + reload
reload_with "ALTER SYSTEM SET authguard.master_key = '$MK2'"
e=$(err postgres kr "SELECT authguard.decrypt_with_key(c) FROM t LIMIT 1")
case "$e" in 55000:*"wrong master key"*) pass "wrong master key -> $e" ;; *) fail "wrong master key: '$e'" ;; esac
reload_with "ALTER SYSTEM SET authguard.master_key = 'abc'"
e=$(err postgres kr "SELECT authguard.decrypt_with_key(c) FROM t LIMIT 1")
case "$e" in 55000:*"authguard.master_key is malformed"*) pass "malformed master key -> $e" ;; *) fail "malformed master key: '$e'" ;; esac
tail -n +$((log_from + 1)) "$dir/server.log" | grep -q -e "$MK" -e "$MK2" \
    && fail "a master key appears in the server log" || pass "no master key in the server log after preloading (reloads included)"

# --- master key from a command
echo "$MK" >"$dir/master.key"; chown postgres: "$dir/master.key" 2>/dev/null; chmod 600 "$dir/master.key"
reload_with "ALTER SYSTEM RESET authguard.master_key"
reload_with "ALTER SYSTEM SET authguard.master_key_command = 'cat $dir/master.key'"
check "master_key_command supplies the key" "value-1" "$(q postgres kr -c "SELECT convert_from(authguard.decrypt_with_key(c), 'UTF8') FROM t WHERE id = 1")"
reload_with "ALTER SYSTEM SET authguard.master_key_command = 'exit 3'"
e=$(err postgres kr "SELECT authguard.decrypt_with_key(c) FROM t LIMIT 1")
case "$e" in 55000:*authguard.master_key_command*) pass "failing command -> $e" ;; *) fail "failing command: '$e'" ;; esac

# --- rotate the master key itself (the documented recipe)
reload_with "ALTER SYSTEM RESET authguard.master_key_command"
reload_with "ALTER SYSTEM SET authguard.master_key = '$MK'"
check "rotate_master_key re-wraps every key version" 2 "$(q postgres kr -c "SET log_statement = 'none'" -c "SELECT authguard.rotate_master_key('$MK2')")"
reload_with "ALTER SYSTEM SET authguard.master_key = '$MK2'"
check "every value decrypts under the new master key" "$ROWS" "$(all_decrypt)"

grep -E 'PANIC|terminated by signal' "$dir/server.log" && fail "server crashed" || pass "no crash in the server log"

echo
if [ $fails -eq 0 ]; then echo "keyring scenario: all passed"; else echo "keyring scenario: $fails failed"; fi
[ $fails -eq 0 ]
