-- Everything CREATE EXTENSION pg_authguard defines, one row per object with a
-- hash of its definition and privileges. An upgraded database must produce
-- exactly the rows a fresh install does. Columns are listed by name, so an
-- upgrade may add columns with ALTER TABLE.
SELECT kind, name, fingerprint FROM (
    SELECT 'function' AS kind,
           p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
           md5(concat_ws('|', pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
                         p.prokind, p.prosecdef, p.provolatile, p.proisstrict, p.proretset,
                         p.proparallel, p.prorows, p.proconfig::text, p.prosrc, p.probin,
                         p.proacl::text)) AS fingerprint
      FROM pg_proc p WHERE p.pronamespace = 'authguard'::regnamespace
    UNION ALL
    SELECT 'relation', c.relname,
           md5(concat_ws('|', c.relkind, c.relacl::text,
               (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                  || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                                  ', ' ORDER BY a.attname)
                  FROM pg_attribute a
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
               CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
               CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END))
      FROM pg_class c WHERE c.relnamespace = 'authguard'::regnamespace
    UNION ALL
    SELECT 'constraint', conrelid::regclass || '.' || conname, md5(pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace = 'authguard'::regnamespace
    UNION ALL
    SELECT 'dumped-with-data', (SELECT string_agg(x::regclass::text, ', ' ORDER BY x::regclass::text)
                                  FROM unnest(e.extconfig) x), ''
      FROM pg_extension e WHERE e.extname = 'pg_authguard'
    UNION ALL
    SELECT 'schema-acl', 'authguard', md5(n.nspacl::text) FROM pg_namespace n WHERE n.nspname = 'authguard'
) objects
ORDER BY kind, name;
