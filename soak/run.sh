#!/usr/bin/env bash
# `make soak`: the long reliability runs, on Postgres 15 (or the majors given).
#   1. the mixed sessions workload for SOAK_SECONDS (default 120) with 12 clients, then invariants;
#   2. the hostile-input sweep with 256 MiB values and a ~950 MB text (REL_HUGE_BYTES, REL_GIANT);
#   3. the streaming replica checks (also in `make test`);
#   4. kill -9 under load, CRASH_CYCLES (default 3) times: WAL replay, amcheck, invariants.
# Prints a summary and exits non-zero when anything failed.
source "$(dirname "$0")/../scripts/common.sh"
cd "$REPO_ROOT"
majors=("$@"); [ ${#majors[@]} -gt 0 ] || majors=(15)
"$REPO_ROOT/scripts/setup.sh" "${majors[@]}"
exec 9>"$CACHE_DIR/test.lock"
flock 9
passed=0 failed=0 summary=()
run() { # name, command...
    local name=$1 t0 rc; shift
    t0=$(date +%s); say "$name"
    set +e; "$@"; rc=$?; set -e
    local took=$(( $(date +%s) - t0 ))
    if [ $rc -eq 0 ]; then passed=$((passed + 1)); summary+=("PASS  $name  (${took} s)");
    else failed=$((failed + 1)); summary+=("FAIL  $name  (${took} s)"); fi
}
for m in "${majors[@]}"; do
    pgc=$(pg_config_for "$m")
    say "pg$m: installing the extension"
    cargo pgrx install --pg-config "$pgc" --no-default-features --features "pg$m" >/dev/null
    read -r dir port < <("$REPO_ROOT/scripts/cluster.sh" start "$m" soak)
    run "pg$m soak: workload ${SOAK_SECONDS:-120} s" \
        env SOAK_SECONDS="${SOAK_SECONDS:-120}" SOAK_CLIENTS="${SOAK_CLIENTS:-12}" \
        bash tests/reliability/soak_short.sh "$dir" "$port"
    run "pg$m soak: hostile sweep, huge values" \
        env REL_HUGE_BYTES="${REL_HUGE_BYTES:-268435456}" REL_GIANT="${REL_GIANT:-1}" \
        bash tests/reliability/hostile_sweep.sh "$dir" "$port"
    run "pg$m soak: hot standby" bash tests/reliability/hot_standby.sh "$dir" "$port"
    "$REPO_ROOT/scripts/cluster.sh" stop "$dir"
    [ "$failed" -ne 0 ] || rm -rf "$dir"   # kept for its server log when something failed
    run "pg$m soak: kill -9 under load" bash soak/crash.sh "$m"
done
echo
echo "pg_authguard soak summary"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
