#!/usr/bin/env bash
# Concurrency under load (the fast CI variant of `make soak`):
# pgbench, 8 clients on 2 threads for 15 s, over 50 session families, mixing
# logins, second-device joins, refreshes, validations, logouts and injected
# replays (a jti two or more generations old). Afterwards:
#   - pgbench reports no failed transaction and every client finished;
#   - the server log has no "deadlock detected" and no crash;
#   - every invariant of tests/reliability/invariants.sql holds.
# Usage: soak_short.sh SOCKET_DIR PORT   (env: SOAK_CLIENTS, SOAK_SECONDS, SOAK_FAMILIES)
source "$(dirname "$0")/lib/rel.bash"
host=$1 port=$2
db=authguard_soak
clients=${SOAK_CLIENTS:-8} secs=${SOAK_SECONDS:-15} families=${SOAK_FAMILIES:-50}
serverlog=$host/server.log   # scripts/cluster.sh keeps the log beside the socket
[ -f "$serverlog" ] || fail "no server log at $serverlog (needed for the deadlock and crash checks)"
from=$(log_size "$serverlog")

q postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
workload_setup "$db" "$families"
rc=0
workload_run "$db" "$clients" "$secs" "$REL_TMP/pgbench.log" || rc=$?
tail -n 12 "$REL_TMP/pgbench.log"
check "pgbench exit status" "$rc" 0
failed=$(grep -Eo "number of failed transactions: [0-9]+" "$REL_TMP/pgbench.log" | head -1 | grep -Eo "[0-9]+$" || echo none)
check "failed transactions" "$failed" 0
grep -q 'aborted' "$REL_TMP/pgbench.log" && fail "a client aborted" || pass "no client aborted"
tps=$(grep -Eo 'tps = [0-9.]+' "$REL_TMP/pgbench.log" | head -1 | grep -Eo '[0-9.]+$' || echo 0)
echo "workload: $(workload_summary "$db")"
echo "tps: $tps"
deadlocks=$(tail -c +"$((from + 1))" "$serverlog" | grep -c 'deadlock detected' || true)
check "deadlocks in the server log" "$deadlocks" 0
crashes=$(log_crashes "$serverlog" "$from")
[ -z "$crashes" ] && pass "no crash in the server log" || fail "crash in the server log: $crashes"
replays=$(qv "$db" "SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_replay_detected'")
[ "$replays" -gt 0 ] && pass "replays were injected and detected ($replays)" || fail "the workload detected no replay"
run_invariants "$db"
[ "$rel_fail" -ne 0 ] || q postgres -c "DROP DATABASE $db"
exit "$rel_fail"
