#!/usr/bin/env bash
# Throwaway Postgres clusters under the cache dir, on a free port, socket only.
#
#   scripts/cluster.sh start MAJOR [NAME]   prints: DIR PORT
#   scripts/cluster.sh stop DIR
#
# As root the cluster belongs to `postgres` (initdb refuses root).
source "$(dirname "$0")/common.sh"

cmd=${1:-}; shift || true
case "$cmd" in
start)
    major=${1:?major}; name=${2:-cluster}
    bindir=$("$(pg_config_for "$major")" --bindir)
    dir=$(mktemp -d "$CACHE_DIR/$name-pg$major.XXXXXX")
    chmod 755 "$dir"
    is_root && chown postgres: "$dir"
    port=$(free_port)
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
max_connections = 60
max_prepared_transactions = 10
fsync = off
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { cat "$dir/server.log" >&2; die "could not start Postgres $major"; }
    echo "$dir $port"
    ;;
stop)
    dir=${1:?dir}
    [ -f "$dir/data/PG_VERSION" ] || exit 0
    major=$(cat "$dir/data/PG_VERSION")
    bindir=$("$(pg_config_for "$major")" --bindir)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    die "usage: cluster.sh start MAJOR [NAME] | stop DIR"
    ;;
esac
