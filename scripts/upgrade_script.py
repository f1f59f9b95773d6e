#!/usr/bin/env python3
"""Draft the upgrade script between two pgrx-generated install scripts.

    python3 scripts/upgrade_script.py OLD.sql NEW.sql OLD_VERSION NEW_VERSION > sql/pg_authguard--OLD--NEW.sql

pgrx writes an install script as blocks between `/* <begin connected objects> */`
and `/* </end connected objects> */`: one per function (marked with its Rust
path, e.g. `-- pg_authguard::sessions::create_session`) and one per
`extension_sql_file!`. This emits, in the new script's (dependency) order, new functions and SQL
blocks as they are and changed functions as CREATE OR REPLACE (also when a
hand-written block now defines a formerly generated function of the same SQL
name), then the finalize block (grants), which is idempotent and re-run.
It stops with an error, for a human to write that part, when a function was
removed, a function's result type changed, or an existing SQL-file block
changed (tables are never recreated blindly). tests/upgrade/run.sh then proves
the result equals a fresh install.
"""
import re
import sys

BEGIN = "/* <begin connected objects> */"
END = "/* </end connected objects> */"


def blocks(path):
    text = open(path).read()
    out = []
    for chunk in text.split(BEGIN)[1:]:
        body = chunk.split(END)[0]
        lines = [l for l in body.strip("\n").split("\n") if not re.match(r"^-- src/\S+:\d+$", l)]
        out.append("\n".join(lines).strip() + "\n")
    return out


def normalized(sql):
    sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.S)
    sql = "\n".join(l for l in sql.split("\n") if not l.startswith("--"))
    return re.sub(r"\s+", " ", sql).strip()


def classify(block):
    m = re.search(r"^-- (pg_authguard::\S+)$", block, re.M)
    if m and re.search(r"^CREATE\s+(OR REPLACE\s+)?FUNCTION", block, re.M):
        return "function", m.group(1)
    if re.search(r"^-- finalize$", block, re.M):
        return "finalize", "finalize"
    for line in block.split("\n"):
        if re.match(r"^(CREATE|DO|ALTER|SELECT|REVOKE|GRANT)\b", line):
            return "sql", line.strip()
    return "other", normalized(block)[:80]


def returns_clause(block):
    m = re.search(r"\)\s*RETURNS\s+(.*?)\n(?=[A-Z])", re.sub(r"/\*.*?\*/", "", block, flags=re.S), re.S)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else ""


def main(old_path, new_path, old_version, new_version):
    old = {classify(b): b for b in blocks(old_path)}
    new = [(classify(b), b) for b in blocks(new_path)]
    new_keys = {k for k, _ in new}
    # Generated functions that a hand-written block of the same SQL name now
    # defines (e.g. an inlinable LANGUAGE sql wrapper): CREATE OR REPLACE keeps
    # their grants and dependents.
    replaced = {key[1].rsplit("::", 1)[-1] for key in old if key[0] == "function" and key not in new_keys}
    problems, out, finalize = [], [], None
    for key, block in new:
        kind, name = key
        if kind == "finalize":
            finalize = block
            continue
        before = old.get(key)
        if kind == "function":
            if before is None:
                out.append(block)
            elif normalized(before) != normalized(block):
                if returns_clause(before) != returns_clause(block):
                    problems.append(f"{name}: result type changed; write DROP + CREATE by hand")
                out.append(re.sub(r"^CREATE\s+FUNCTION", "CREATE OR REPLACE FUNCTION", block, count=1, flags=re.M))
            continue
        m = re.search(r'^CREATE FUNCTION authguard\."?(\w+)"?\(', block, re.M)
        if before is None and m and m.group(1) in replaced:
            replaced.discard(m.group(1))
            out.append(block.replace(m.group(0), m.group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"), 1))
        elif before is None:
            out.append(block)
        elif normalized(before) != normalized(block):
            problems.append(f"changed SQL block starting with {name!r}: write its migration by hand")
    for name in sorted(replaced):
        problems.append(f"{name}: removed; write its DROP FUNCTION by hand")
    if problems:
        sys.exit("cannot generate the upgrade script automatically:\n  " + "\n  ".join(problems))
    print(f"-- pg_authguard {old_version} -> {new_version}")
    print("-- Drafted by scripts/upgrade_script.py from the two install scripts, then reviewed;")
    print("-- tests/upgrade/run.sh checks the result equals a fresh install.")
    print(f'\\echo Use "ALTER EXTENSION pg_authguard UPDATE TO \'{new_version}\'" to load this file. \\quit')
    print("\n-- New and changed objects, in the dependency order of the install script.\n")
    print("\n".join(out))
    if finalize:
        print("\n-- Privileges (idempotent).\n")
        print(finalize)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
