#!/usr/bin/env bash
# make demo: build (release), install into a throwaway Postgres 15 on a free
# port, run examples/demo.sql plus a real concurrent refresh, and leave the
# server running so you can connect and explore.
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/scripts/setup.sh" 15
say "building pg_authguard (release) and installing it into Postgres 15"
(
    flock 9
    cargo pgrx install --release --pg-config "$PG15_CONFIG" >"$CACHE_DIR/demo-install.log" 2>&1 \
        || { tail -30 "$CACHE_DIR/demo-install.log"; die "cargo pgrx install failed (log: $CACHE_DIR/demo-install.log)"; }
) 9>"$CACHE_DIR/test.lock"

read -r dir port < <("$REPO_ROOT/scripts/cluster.sh" start 15 demo)
say "throwaway Postgres 15 running: socket $dir, port $port"
psql_() { psql -X -h "$dir" -p "$port" -U postgres "$@"; }
psql_ -q -d postgres -c "CREATE DATABASE authguard_demo"

say "running examples/demo.sql"
psql_ -d authguard_demo -f examples/demo.sql

echo
say "a real concurrent refresh: 8 clients present the same jti at the same instant"
psql_ -q -d authguard_demo <<'SQL'
CREATE TABLE demo_tok AS SELECT family_id, jti FROM authguard.create_session(gen_random_uuid());
CREATE TABLE demo_results (status text, jti uuid);
SQL
script=$(mktemp)
cat >"$script" <<'SQL'
SELECT pg_advisory_lock_shared(77);
INSERT INTO demo_results SELECT r.status, r.jti FROM demo_tok t, LATERAL authguard.rotate_session_token(t.family_id, t.jti) r;
SELECT pg_advisory_unlock_shared(77);
SQL
psql_ -q -d authguard_demo -c "SELECT pg_advisory_lock(77), pg_sleep(1.5)" >/dev/null &
sleep 0.3
pgbench -n -h "$dir" -p "$port" -U postgres -c 8 -j 2 -t 1 -f "$script" authguard_demo >"$CACHE_DIR/demo-pgbench.log" 2>&1 \
    || { cat "$CACHE_DIR/demo-pgbench.log"; warn "pgbench reported an error"; }
wait
rm -f "$script"
psql_ -d authguard_demo -c "SELECT status, count(*) AS clients, count(DISTINCT jti) AS distinct_jtis FROM demo_results GROUP BY status ORDER BY status"

cat <<MSG

pg_authguard demo finished. The server is still running:
  connect:  psql -h $dir -p $port -U postgres -d authguard_demo
  stop:     bash scripts/cluster.sh stop $dir
MSG
