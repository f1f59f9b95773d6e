# Shared helpers for tests/reliability/*.sh and soak/*.sh. Source it; do not run it.
# (It lives in lib/ so that scripts/test.sh, which runs tests/*/*.sh, skips it.)
# shellcheck shell=bash
set -euo pipefail

REL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$REL_DIR/../.." && pwd)

rel_fail=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; rel_fail=1; }
# check NAME GOT WANT
check() { if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }

# psql as the superuser over the socket. Usage: q DB [psql args...]
q() { local db=$1; shift
      PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
      psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "${PGUSER_REL:-postgres}" -d "$db" "$@"; }
# One value: qv DB SQL
qv() { q "$1" -At -c "$2"; }

# The SQLSTATE a statement ends with ("00000" on success). Usage: sqlstate DB USER SQL
sqlstate() {
    local db=$1 user=$2 sql=$3
    PGOPTIONS="-c client_min_messages=error" psql -X -q -h "$host" -p "$port" -U "$user" -d "$db" \
        -v VERBOSITY=sqlstate -At -c "$sql" >/dev/null 2>"$REL_TMP/sqlstate.err" && { echo 00000; return; }
    # VERBOSITY=sqlstate prints "ERROR:  42501"
    local st
    st=$(sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR: *\([0-9A-Z]\{5\}\).*/\2/p' "$REL_TMP/sqlstate.err" | head -1)
    echo "${st:-?????}"
}

# Crash markers in a server log since byte offset $2 (default 0).
log_crashes() { local log=$1 from=${2:-0}
    tail -c +"$((from + 1))" "$log" | grep -E 'PANIC|terminated by signal|server process .* was terminated|was terminated by exception' || true; }
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# The invariants of a sessions workload (see tests/reliability/invariants.sql).
# Usage: run_invariants DB   -> prints one PASS/FAIL line per invariant, sets rel_fail.
run_invariants() {
    local db=$1 line name bad
    while IFS='|' read -r name bad; do
        [ -n "$name" ] || continue
        if [ "$bad" = 0 ]; then pass "invariant: $name"; else fail "invariant: $name: $bad violation(s)"; fi
    done < <(q "$db" -At -F'|' -f "$REL_DIR/invariants.sql")
}

# Commands run at exit (clusters to stop, ...): rel_at_exit "cmd"; they run in reverse order.
rel_exit_cmds=()
rel_at_exit() { rel_exit_cmds=("$1" "${rel_exit_cmds[@]}"); }
rel_exit() { local c; for c in "${rel_exit_cmds[@]}"; do eval "$c" || true; done; rm -rf "$REL_TMP"; }
REL_TMP=$(mktemp -d)
chmod 755 "$REL_TMP"
trap rel_exit EXIT

# The mixed sessions workload: pgbench over FAMILIES slots.
# Usage: workload_setup DB FAMILIES ; workload_run DB CLIENTS SECONDS LOGFILE [extra pgbench args]
workload_setup() {
    q "$1" -v families="$2" -f "$REL_DIR/workload/setup.sql" >/dev/null
}
workload_run() {
    local db=$1 clients=$2 secs=$3 log=$4; shift 4
    local w="$REL_DIR/workload" families
    families=$(qv "$db" "SELECT count(*) FROM public.rel_slots")
    PGOPTIONS="-c client_min_messages=warning" \
    pgbench -n -h "$host" -p "$port" -U postgres -c "$clients" -j 2 -T "$secs" -D families="$families" \
        -f "$w/create.sql@3" -f "$w/join.sql@1" -f "$w/rotate.sql@6" -f "$w/validate.sql@6" \
        -f "$w/replay.sql@1" -f "$w/revoke.sql@1" -f "$w/revoke_user.sql@1" "$@" "$db" >"$log" 2>&1
}
# A one-line summary of what the workload did.
workload_summary() {
    qv "$1" "SELECT string_agg(op || '/' || status || ':' || n, ' ' ORDER BY op, status)
               FROM (SELECT op, CASE WHEN op IN ('revoke', 'revoke_user') THEN (CASE WHEN status = '0' THEN 'noop' ELSE 'revoked' END)
                                     ELSE status END AS status, count(*) n
                       FROM public.rel_events GROUP BY 1, 2) s"
}

# The bin directory of the cluster under test's major (15 from Debian, 16/18 from the wheels).
rel_major() { cat "$host/data/PG_VERSION" 2>/dev/null || echo 15; }
rel_bindir() {
    local major; major=$(rel_major)
    bash -c "source '$REPO_ROOT/scripts/common.sh'; \$(pg_config_for $major) --bindir"
}
