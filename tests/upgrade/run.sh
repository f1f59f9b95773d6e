#!/usr/bin/env bash
# Upgrade test: for every archived release older than the current version,
# install it, put data through its functions, ALTER EXTENSION ... UPDATE, and
# require (1) the same catalog as a fresh install of the current version and
# (2) the old data to keep working with the new functions.
# Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
host=$1 port=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres "$@"; }

current=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
sharedir=$(psql_ -d postgres -At -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
fail=0
tested=0

psql_ -d postgres -c "DROP DATABASE IF EXISTS upgrade_fresh" -c "CREATE DATABASE upgrade_fresh"
psql_ -d upgrade_fresh -c "CREATE EXTENSION pg_authguard"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fresh="$work/fresh.txt"
psql_ -d upgrade_fresh -At -F ' ' -f "$here/catalog_fingerprint.sql" >"$fresh"

for archived in "$repo"/sql/archive/pg_authguard--*.sql; do
    old=$(basename "$archived" .sql); old=${old#pg_authguard--}
    [ "$old" != "$current" ] || continue
    if [ ! -w "$sharedir/extension" ]; then
        echo "FAILED: cannot install the archived $old script into $sharedir/extension (run as its owner)"
        fail=1; continue
    fi
    cp "$archived" "$sharedir/extension/pg_authguard--$old.sql"
    db=upgrade_from_${old//./_}
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_ -d "$db" -c "CREATE EXTENSION pg_authguard VERSION '$old'"
    # Data made by the old version's functions: a live lineage, a replayed one.
    psql_ -d "$db" >/dev/null <<'SQL'
CREATE TABLE upgrade_tokens AS
SELECT 'live' AS name, s.family_id, r.jti
  FROM authguard.create_session('00000000-0000-4000-8000-00000000a001', user_agent => 'UA', ip => '192.0.2.1') s,
       LATERAL authguard.rotate_session_token(s.family_id, s.jti) r;
INSERT INTO upgrade_tokens
SELECT 'replayed', s.family_id, s.jti
  FROM authguard.create_session('00000000-0000-4000-8000-00000000a002') s;
SET authguard.reuse_interval = 0;
SELECT authguard.rotate_session_token(family_id, jti) FROM upgrade_tokens WHERE name = 'replayed';
SELECT authguard.rotate_session_token(family_id, jti) FROM upgrade_tokens WHERE name = 'replayed';
SQL
    before=$(psql_ -d "$db" -At -c "SELECT count(*) || '/' || (SELECT count(*) FROM authguard.auth_audit_log) FROM authguard.auth_sessions")
    psql_ -d "$db" -c "ALTER EXTENSION pg_authguard UPDATE"
    version=$(psql_ -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_authguard'")
    after=$(psql_ -d "$db" -At -c "SELECT count(*) || '/' || (SELECT count(*) FROM authguard.auth_audit_log) FROM authguard.auth_sessions")
    statuses=$(psql_ -d "$db" -At -c "SELECT string_agg(t.name || '=' || v.status, ' ' ORDER BY t.name) FROM upgrade_tokens t, LATERAL authguard.validate_session(t.family_id, t.jti) v")
    rotated=$(psql_ -d "$db" -At -c "SELECT r.status FROM upgrade_tokens t, LATERAL authguard.rotate_session_token(t.family_id, t.jti) r WHERE t.name = 'live'")
    psql_ -d "$db" -At -F ' ' -f "$here/catalog_fingerprint.sql" >"$fresh.$old"
    tested=$((tested + 1))
    if [ "$version" != "$current" ]; then echo "FAILED: $old -> $version, expected $current"; fail=1; fi
    if [ "$before" != "$after" ]; then echo "FAILED: $old: rows before/after update differ: $before vs $after"; fail=1; fi
    if [ "$statuses" != "live=valid replayed=revoked" ]; then echo "FAILED: $old: old data validates as '$statuses'"; fail=1; fi
    if [ "$rotated" != "rotated" ]; then echo "FAILED: $old: rotating an old session gave '$rotated'"; fail=1; fi
    if ! diff -u "$fresh" "$fresh.$old" >"$fresh.diff"; then
        echo "FAILED: $old -> $current: the upgraded catalog differs from a fresh install:"
        cat "$fresh.diff"; fail=1
    else
        echo "ok: $old -> $current: catalog identical to a fresh install ($(wc -l <"$fresh") objects), data kept ($after sessions/audit rows)"
    fi
    rm -f "$sharedir/extension/pg_authguard--$old.sql"
    psql_ -d postgres -c "DROP DATABASE $db"
done
psql_ -d postgres -c "DROP DATABASE upgrade_fresh"
[ "$tested" -gt 0 ] || echo "ok: no release older than $current to upgrade from"
exit $fail
