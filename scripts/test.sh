#!/usr/bin/env bash
# Run every test suite against each given Postgres major (default: 15):
#   1. Rust unit tests and #[pg_test]s         (cargo pgrx test)
#   2. documented SQL scenarios                (pg_regress, tests/pg_regress)
#   3. concurrency specs                       (pg_isolation_regress, tests/isolation)
# Prints a summary line per suite and a final "N passed, N failed" line.
source "$(dirname "$0")/common.sh"
cd "$REPO_ROOT"

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(15)
"$REPO_ROOT/scripts/setup.sh" "${majors[@]}"

# Tests install the extension into the Postgres installation itself; two
# checkouts testing at once would overwrite each other's files. Serialize.
exec 9>"$CACHE_DIR/test.lock"
flock 9

PGXS_TEST=/usr/lib/postgresql/15/lib/pgxs/src/test
passed=0; failed=0
declare -a summary

record() { # name, status, detail
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); summary+=("PASS  $1  $3");
    else failed=$((failed + 1)); summary+=("FAIL  $1  $3"); fi
}

run_cargo_tests() {
    local major=$1
    local log="$CACHE_DIR/cargo-test-pg$major.log" args=()
    if is_root; then
        local pgdata="$CACHE_DIR/test-pgdata-pg$major"
        rm -rf "$pgdata"; mkdir -p "$pgdata"; chown postgres: "$pgdata"
        args=(--runas postgres --pgdata "$pgdata")
    fi
    say "pg$major: cargo pgrx test ${args[*]}"
    set +e
    cargo pgrx test "pg$major" "${args[@]}" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local counts
    counts=$(grep -E '^test result:' "$log" | awk '{p+=$4; f+=$6} END {printf "%d passed, %d failed", p, f}')
    record "pg$major cargo pgrx test" "$rc" "($counts)"
}

run_sql_suites() {
    local major=$1
    local pgc dir port rc
    pgc=$(pg_config_for "$major")
    say "pg$major: installing the extension for pg_regress / isolation"
    cargo pgrx install --pg-config "$pgc" --no-default-features --features "pg$major" >/dev/null \
        || { record "pg$major install" 1 ""; return; }
    read -r dir port < <("$REPO_ROOT/scripts/cluster.sh" start "$major" regress)
    trap '"$REPO_ROOT/scripts/cluster.sh" stop "$dir"' RETURN

    local out="$CACHE_DIR/regress-out-pg$major"
    rm -rf "$out"; mkdir -p "$out"
    local common=(--host="$dir" --port="$port" --user=postgres --outputdir="$out")

    if [ -d tests/pg_regress/sql ]; then
        local schedule
        schedule=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
        say "pg$major: pg_regress: $(echo $schedule | tr '\n' ' ')"
        set +e
        "$PGXS_TEST/regress/pg_regress" "${common[@]}" --inputdir=tests/pg_regress \
            --bindir="$($pgc --bindir)" --dbname=authguard_regress $schedule
        rc=$?
        set -e
        [ $rc -eq 0 ] || { [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"; }
        record "pg$major pg_regress" $rc "($(echo $schedule | wc -w) scenarios)"
    fi

    if [ -d tests/isolation/specs ]; then
        local specs
        specs=$(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | sort)
        local iout="$out/isolation"; mkdir -p "$iout"
        say "pg$major: pg_isolation_regress: $(echo $specs | tr '\n' ' ')"
        set +e
        "$PGXS_TEST/isolation/pg_isolation_regress" --host="$dir" --port="$port" \
            --user=postgres --outputdir="$iout" --inputdir=tests/isolation \
            --dbname=authguard_isolation $specs
        rc=$?
        set -e
        [ $rc -eq 0 ] || { [ -f "$iout/regression.diffs" ] && cat "$iout/regression.diffs"; }
        record "pg$major isolation" $rc "($(echo $specs | wc -w) specs)"
    fi
    grep -E 'PANIC|server process .* was terminated|terminated by signal' "$dir/server.log" \
        && record "pg$major server log has no crash" 1 "" || record "pg$major server log has no crash" 0 ""
}

for m in "${majors[@]}"; do
    run_cargo_tests "$m"
    run_sql_suites "$m"
done

echo
echo "pg_authguard test summary"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
