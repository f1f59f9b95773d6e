#!/usr/bin/env bash
# Crash under load: on a cluster of its own, the mixed sessions workload
# (tests/reliability/workload) runs with 8 clients; mid-load the postmaster and
# every backend are killed with SIGKILL (as a power cut would). After a restart
# (WAL replay), for each of CRASH_CYCLES cycles:
#   - amcheck: bt_index_check and bt_index_parent_check(heapallindexed) on every
#     index of schema authguard (and the workload's own) are clean;
#   - every invariant of tests/reliability/invariants.sql holds;
#   - the workload runs again without a failed transaction.
# Usage: soak/crash.sh [MAJOR]   env: CRASH_CYCLES (3), CRASH_AFTER (8 s), CRASH_CLIENTS (8)
source "$(dirname "$0")/../tests/reliability/lib/rel.bash"
source "$REPO_ROOT/scripts/common.sh"
major=${1:-15}
cycles=${CRASH_CYCLES:-3} after=${CRASH_AFTER:-8} clients=${CRASH_CLIENTS:-8}
bindir=$("$(pg_config_for "$major")" --bindir)
db=authguard_crash

read -r host port < <(bash "$REPO_ROOT/scripts/cluster.sh" start "$major" crash)
rel_at_exit "bash '$REPO_ROOT/scripts/cluster.sh' stop '$host'; [ \$rel_fail -ne 0 ] || rm -rf '$host'"
echo "cluster $host port $port"
q postgres -c "CREATE DATABASE $db"
q "$db" -c "CREATE EXTENSION pg_authguard" -c "CREATE EXTENSION amcheck"
workload_setup "$db" 50

amcheck_all() {
    q "$db" -At -F'|' <<'SQL'
SELECT c.oid::regclass,
       (SELECT count(*) FROM (SELECT bt_index_check(c.oid, true)) a),
       (SELECT count(*) FROM (SELECT bt_index_parent_check(c.oid, true)) b)
  FROM pg_class c JOIN pg_am am ON am.oid = c.relam
 WHERE c.relkind = 'i' AND am.amname = 'btree'
   AND c.relnamespace IN ('authguard'::regnamespace, 'public'::regnamespace)
 ORDER BY 1;
SQL
}

for cycle in $(seq "$cycles"); do
    echo "== cycle $cycle: load, kill -9 after ${after}s"
    workload_run "$db" "$clients" $((after + 30)) "$REL_TMP/pgbench-$cycle.log" &
    bench=$!
    sleep "$after"
    pm=$(head -1 "$host/data/postmaster.pid")
    kids=$(pgrep -P "$pm" | tr '\n' ' ')
    before=$(qv "$db" "SELECT count(*) FROM public.rel_events" 2>/dev/null || echo '?')
    kill -9 "$pm" $kids
    echo "killed postmaster $pm and $(echo $kids | wc -w) children with SIGKILL (events committed so far: $before)"
    wait "$bench" || true
    # The old processes must be gone before a new postmaster can start.
    for _ in $(seq 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    logfrom=$(log_size "$host/server.log")
    as_pg "$bindir/pg_ctl" -D "$host/data" -l "$host/server.log" -w -t 120 start >/dev/null \
        || { tail -20 "$host/server.log"; fail "restart after kill -9"; break; }
    tail -c +"$((logfrom + 1))" "$host/server.log" | grep -E 'was interrupted|redo (starts|done)|ready to accept' | sed 's/^/  log: /'
    tail -c +"$((logfrom + 1))" "$host/server.log" | grep -q 'redo done\|redo starts' \
        && pass "cycle $cycle: crash recovery replayed WAL" || fail "cycle $cycle: no WAL replay in the log"
    bad=0 n=0
    if amcheck_all >"$REL_TMP/amcheck" 2>"$REL_TMP/amcheck.err"; then
        n=$(wc -l <"$REL_TMP/amcheck")
        pass "cycle $cycle: amcheck clean on $n btree indexes ($(cut -d'|' -f1 "$REL_TMP/amcheck" | tr '\n' ' '))"
    else
        fail "cycle $cycle: amcheck: $(cat "$REL_TMP/amcheck.err")"
    fi
    echo "  events committed: $(qv "$db" "SELECT count(*) FROM public.rel_events"); $(workload_summary "$db" | cut -c1-300)"
    run_invariants "$db"
    # The cluster works again.
    rc=0; workload_run "$db" "$clients" 3 "$REL_TMP/after-$cycle.log" || rc=$?
    failed=$(grep -Eo "number of failed transactions: [0-9]+" "$REL_TMP/after-$cycle.log" | head -1 | grep -Eo "[0-9]+$" || echo none)
    check "cycle $cycle: workload after restart (pgbench exit status / failed transactions)" "$rc/$failed" "0/0"
    run_invariants "$db" | grep -v '^PASS' || true
done
check "deadlocks in the server log" "$(grep -c 'deadlock detected' "$host/server.log" || true)" 0
# kill -9 makes the postmaster's children die by signal: only count crashes of backends not killed by us.
check "backend crashes other than our SIGKILL" "$(grep -E 'PANIC|terminated by signal (6|7|11)' "$host/server.log" | wc -l)" 0
[ "$rel_fail" -eq 0 ] && echo "crash.sh: all checks passed" || echo "crash.sh: FAILED (cluster kept at $host)"
exit "$rel_fail"
