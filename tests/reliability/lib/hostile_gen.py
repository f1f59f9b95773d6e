#!/usr/bin/env python3
"""Generate the hostile-input sweep: one DO block per call, for every function
of schema authguard (as listed by hostile_sweep.sh from pg_proc).

Input (stdin): one function per line, '|'-separated:
    name|nargs|ndefaults|argnames (comma)|argtypes (format_type, ';'-separated)|rettype|retset|volatile|secdef
Output (stdout): SQL. Each call records (id, fn, arg, label, huge, sqlstate,
rows, lens, message) in sweep_results; a call that takes the backend down
records nothing, which the analysis notices.

Per function: every hostile value of each argument's type at that position
with baseline values elsewhere; all arguments NULL; a wrong-typed first
argument; one argument too many; and every call again in a read-only
subtransaction (pass "ro") with baseline arguments.
Python 3 standard library only.
"""
import os
import sys

HUGE = int(os.environ.get("REL_HUGE_BYTES", str(16 * 1024 * 1024)))
GIANT = os.environ.get("REL_GIANT", "0") == "1"   # a ~950 MB text (soak only)

UUID_NIL = "'00000000-0000-0000-0000-000000000000'::uuid"

def hexbytes(n, byte="01"):
    return "'\\x%s'::bytea" % (byte * n)

# (label, SQL expression, huge?) per argument type.
HOSTILE = {
    "uuid": [
        ("null", "NULL::uuid", False), ("nil", UUID_NIL, False),
        ("max", "'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid", False),
        ("random", "gen_random_uuid()", False),
        ("malformed", "'not-a-uuid'::uuid", False), ("empty", "''::uuid", False),
    ],
    "text": [
        ("null", "NULL::text", False), ("empty", "''::text", False), ("x", "'x'::text", False),
        ("bad_base64", "'!!!'::text", False), ("padding_only", "'===='::text", False),
        ("base64_31", "encode(%s, 'base64')" % hexbytes(31), False),
        ("base64_32", "encode(%s, 'base64')" % hexbytes(32), False),
        ("base64_33", "encode(%s, 'base64')" % hexbytes(33), False),
        ("hex_63", "repeat('a', 63)", False), ("hex_64", "repeat('a', 64)", False),
        ("multibyte", "repeat('é€𝄞', 1000)", False),
        ("invalid_utf8", "convert_from('\\xc328'::bytea, 'UTF8')", False),
        ("control_chars", "E'\\x01\\x02\\n\\t\\\\'::text", False),
        ("long_10k", "repeat('a', 10000)", False),
        ("huge", "repeat('a', %d)" % HUGE, True),
        ("over_1gb", "repeat('a', 1073741824)", True),
    ],
    "bytea": [
        ("null", "NULL::bytea", False), ("empty", "''::bytea", False), ("one_zero", "'\\x00'::bytea", False),
        ("len12", hexbytes(12), False), ("len16", hexbytes(16), False), ("len24", hexbytes(24), False),
        ("len31", hexbytes(31), False), ("len32", hexbytes(32), False), ("len33", hexbytes(33), False),
        ("len32_zero", hexbytes(32, "00"), False), ("len32_ff", hexbytes(32, "ff"), False),
        ("len64", hexbytes(64), False), ("len1k", "decode(repeat('ab', 1024), 'hex')", False),
        ("malformed_escape", "'\\zz'::bytea", False),
        ("huge", "convert_to(repeat('a', %d), 'UTF8')" % HUGE, True),
    ],
    "integer": [
        ("null", "NULL::integer", False), ("zero", "0", False), ("minus1", "-1", False), ("one", "1", False),
        ("33", "33", False), ("129", "129", False), ("int_max", "2147483647", False),
        ("int_min", "(-2147483648)::integer", False), ("overflow", "'2147483648'::integer", False),
        ("malformed", "'x'::integer", False),
    ],
    "interval": [
        ("null", "NULL::interval", False), ("zero", "'0'::interval", False), ("minus_1day", "'-1 day'::interval", False),
        ("minus_1us", "'-1 microsecond'::interval", False), ("one_us", "'1 microsecond'::interval", False),
        ("million_years", "'1000000 years'::interval", False), ("100y_1d", "'100 years 1 day'::interval", False),
        ("mixed_signs", "'1 mon -31 days'::interval", False), ("int_min_months", "'-178956970 years -8 months'::interval", False),
        ("huge_micros", "'2562047788 hours'::interval", False),
        ("out_of_range", "'178000000 years'::interval", False), ("infinity", "'infinity'::interval", False),
        ("malformed", "'soon'::interval", False),
    ],
    "timestamp with time zone": [
        ("null", "NULL::timestamptz", False), ("infinity", "'infinity'::timestamptz", False),
        ("minus_infinity", "'-infinity'::timestamptz", False), ("epoch", "'epoch'::timestamptz", False),
        ("future_1h", "now() + interval '1 hour'", False), ("past_1000y", "now() - interval '1000 years'", False),
        ("max", "'294276-12-31 23:59:59+00'::timestamptz", False), ("min", "'4714-11-24 00:00:00+00 BC'::timestamptz", False),
        ("malformed", "'yesterday-ish'::timestamptz", False),
    ],
    "inet": [
        ("null", "NULL::inet", False), ("v4_zero", "'0.0.0.0'::inet", False), ("v4_bcast", "'255.255.255.255'::inet", False),
        ("v6_zero", "'::'::inet", False), ("v4_mapped", "'::ffff:1.2.3.4'::inet", False), ("v4_masked", "'10.1.2.3/8'::inet", False),
        ("v6_max", "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'::inet", False),
        ("malformed", "'garbage'::inet", False), ("bad_prefix", "'1.2.3.4/33'::inet", False),
    ],
    "boolean": [("null", "NULL::boolean", False), ("true", "true", False), ("false", "false", False)],
    "jsonb": [("null", "NULL::jsonb", False), ("empty", "'{}'::jsonb", False), ("array", "'[]'::jsonb", False),
              ("malformed", "'{'::jsonb", False)],
    "regclass": [("null", "NULL::regclass", False), ("catalog", "'pg_class'::regclass", False),
                 ("sessions", "'authguard.auth_sessions'::regclass", False), ("zero", "0::oid::regclass", False),
                 ("missing", "'no_such_table'::regclass", False)],
}
HOSTILE["character varying"] = [(l, e.replace("::text", "::varchar"), h) for l, e, h in HOSTILE["text"]]
HOSTILE["bigint"] = [(l, e.replace("::integer", "::bigint"), h) for l, e, h in HOSTILE["integer"]]
HOSTILE["smallint"] = [(l, e.replace("::integer", "::smallint"), h) for l, e, h in HOSTILE["integer"]]


def baseline(name, typ):
    n = (name or "").lower()
    if typ == "uuid":
        if n in ("user_id",):
            return "(SELECT user_id FROM sweep_fixture)"
        if n in ("family_id",):
            return "(SELECT family_id FROM sweep_fixture)"
        if n in ("jti",):
            return "(SELECT jti FROM sweep_fixture)"
        return "gen_random_uuid()"
    if typ in ("text", "character varying"):
        return {"reason": "'sweep'", "user_agent": "'sweep-agent'"}.get(n, "'x'") + "::" + ("text" if typ == "text" else "varchar")
    if typ == "bytea":
        return hexbytes(12) if "nonce" in n else hexbytes(32)
    if typ in ("integer", "bigint", "smallint"):
        return {"length": "32", "batch_size": "100", "v4_prefix": "24", "v6_prefix": "48"}.get(n, "1") + "::" + typ
    if typ == "interval":
        return "'1 day'::interval"
    if typ == "timestamp with time zone":
        return "now()"
    if typ == "inet":
        return "'192.0.2.1'::inet"
    if typ == "boolean":
        return "true"
    if typ == "jsonb":
        return "'{}'::jsonb"
    if typ == "regclass":
        return "'authguard.auth_sessions'::regclass"
    return "NULL::%s" % typ


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def call_block(cid, fn, argdesc, label, huge, call, read_only=False):
    ro = "PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);" if read_only else ""
    # In the read-only pass the subtransaction is always rolled back (sentinel
    # error P0R01 on success) so that the setting does not outlive the call.
    sentinel = "RAISE EXCEPTION USING ERRCODE = 'P0R01';" if read_only else ""
    return f"""-- call {cid}
DO $sweep$ DECLARE st text := '00000'; n bigint; lens text; m text; c bigint; l text;
BEGIN
  -- A fresh live session for the calls that take one (rotation, replay, ...).
  DELETE FROM sweep_fixture;
  INSERT INTO sweep_fixture SELECT u, c.family_id, c.jti
    FROM gen_random_uuid() u, LATERAL authguard.create_session(u) c;
  BEGIN
    {ro}
    SELECT count(*), string_agg(coalesce(octet_length(x::text)::text, 'null'), ',') INTO n, lens FROM {call} AS x;
    c := n; l := lens;
    {sentinel}
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    IF st = 'P0R01' THEN st := '00000'; m := NULL; n := c; lens := l; END IF;
  END;
  INSERT INTO sweep_results VALUES ({cid}, {lit(fn)}, {lit(argdesc)}, {lit(label)}, {str(huge).lower()}, {str(read_only).lower()}, st, n, left(lens, 200), left(m, 300));
END $sweep$;
"""


def main():
    out = []
    cid = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        name, nargs, ndef, argnames, argtypes, rettype, retset, volatile, secdef = line.split("|")
        nargs, ndef = int(nargs), int(ndef)
        names = argnames.split(",") if nargs else []
        types = argtypes.split(";") if nargs else []
        nreq = nargs - ndef
        fq = "authguard.%s" % name

        def render(vals):
            parts = []
            for i, v in enumerate(vals):
                if v is None:
                    continue
                if i < nreq or not names[i]:
                    parts.append(v)
                else:
                    parts.append('"%s" => %s' % (names[i], v))
            return "%s(%s)" % (fq, ", ".join(parts))

        base = [baseline(names[i], types[i]) if i < nreq else None for i in range(nargs)]
        cases = [("baseline", "-", base[:], False)]
        for i in range(nargs):
            values = HOSTILE.get(types[i], [("null", "NULL::%s" % types[i], False)])
            # The ~950 MB text goes only to the pure (non SECURITY DEFINER) functions.
            if GIANT and types[i] == "text" and secdef != "t":
                values = values + [("giant_950mb", "repeat('a', 1000000000)", True)]
            for label, expr, huge in values:
                vals = base[:]
                vals[i] = expr
                # Positional arguments before i need values when i is optional and unnamed.
                cases.append((label, "%s %s" % (names[i] or "$%d" % (i + 1), types[i]), vals, huge))
        if nargs:
            cases.append(("all_null", "*", ["NULL::%s" % t for t in types], False))
            wrong = ["'{1,2}'::int[]"] + base[1:]
            cases.append(("wrong_type", "%s" % (names[0] or "$1"), wrong, False))
        cases.append(("too_many_args", "*", [baseline(names[i], types[i]) for i in range(nargs)] + ["42"], False))

        for label, argdesc, vals, huge in cases:
            cid += 1
            if label == "too_many_args":
                call = "%s(%s)" % (fq, ", ".join(vals))
            else:
                call = render(vals)
            out.append(call_block(cid, name, argdesc, label, huge, call))
        # Read-only pass: the baseline call in a read-only subtransaction.
        cid += 1
        out.append(call_block(cid, name, "-", "read_only", False, render(base), read_only=True))
    sys.stdout.write("".join(out))
    sys.stderr.write("%d calls generated\n" % cid)
    with open(os.environ.get("REL_SWEEP_COUNT", "/dev/null"), "w") as f:
        f.write(str(cid))


if __name__ == "__main__":
    main()
