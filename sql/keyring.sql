-- Keyring: named, versioned data keys, stored only wrapped under the master
-- key (see src/keyring.rs and docs/keyring.md). Nobody but the extension's
-- SECURITY DEFINER functions reads this table: not PUBLIC, not authguard_app,
-- not authguard_admin (who gets the key_list view without key material).

CREATE TABLE authguard.keys (
    key_id      uuid        NOT NULL,
    name        text        NOT NULL CHECK (pg_catalog.octet_length(name) BETWEEN 1 AND 128),
    version     integer     NOT NULL CHECK (version >= 1),
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    -- 0x01 || nonce (24) || XChaCha20-Poly1305(data key (32)) || tag (16), AAD = id, version, name
    wrapped_key bytea       NOT NULL CHECK (pg_catalog.octet_length(wrapped_key) = 73),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    retired_at  timestamptz,
    PRIMARY KEY (key_id, version),
    UNIQUE (name, version),
    CONSTRAINT keys_retired_has_time CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);
COMMENT ON TABLE authguard.keys IS
    'pg_authguard keyring: data keys wrapped under authguard.master_key; write only through create_key/rotate_key/rotate_master_key';
-- At most one active version per key.
CREATE UNIQUE INDEX keys_one_active ON authguard.keys (name) WHERE status = 'active';
CREATE UNIQUE INDEX keys_active_by_id ON authguard.keys (key_id) WHERE status = 'active';

REVOKE ALL ON authguard.keys FROM PUBLIC;

-- pg_dump keeps the (wrapped) keys: restore plus the same master key decrypts.
SELECT pg_catalog.pg_extension_config_dump('authguard.keys', '');

-- What administrators may see of the keyring: everything but the key material.
CREATE VIEW authguard.key_list AS
SELECT name, key_id, version, status, created_at, retired_at
  FROM authguard.keys;
REVOKE ALL ON authguard.key_list FROM PUBLIC;
GRANT SELECT ON authguard.key_list TO authguard_admin;

-- Move every value of a bytea column to the active version of its key, one
-- committed batch at a time.
--
-- Why PL/pgSQL: only a procedure may COMMIT between batches, and pgrx has no
-- procedure support; the per-row work is Rust (authguard.reencrypt and
-- authguard._reencrypt_needed). A procedure with COMMIT cannot be SECURITY
-- DEFINER nor carry a SET search_path clause, so it runs with the caller's
-- rights (the caller needs UPDATE on the table) and every name below is
-- schema-qualified.
--
-- Batches are ranges of heap pages ([first, first + k) as ctid bounds, read by
-- a TID range scan), sized so that a batch holds about batch_size rows. Only
-- the pages that existed at the start are visited: rows an UPDATE moves go to
-- later pages or stay on their page, and either way are not visited again.
-- Rows already at the active version are skipped, so an interrupted run can
-- be called again and only does what is left. Every value is decryptable at
-- every moment: a row holds either its old ciphertext (old versions still
-- decrypt) or its new one.
--
-- Values encrypted with an AAD cannot be re-encrypted here (the AAD is not
-- known); use UPDATE ... SET col = authguard.reencrypt(col, aad) for those.
CREATE PROCEDURE authguard.reencrypt_column(tbl pg_catalog.regclass, col pg_catalog.name,
                                            batch_size integer DEFAULT 1000)
LANGUAGE plpgsql AS $proc$
DECLARE
    typ       pg_catalog.oid;
    total     bigint;
    rows_all  bigint;
    pending   bigint;
    done      bigint;
    pages     bigint;
    step      bigint;
    first     bigint := 0;
    n         bigint;
    upd       text;
BEGIN
    IF tbl IS NULL OR col IS NULL OR batch_size IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004',
            MESSAGE = 'pg_authguard: reencrypt_column: tbl, col and batch_size must not be NULL';
    END IF;
    IF batch_size < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = pg_catalog.format('pg_authguard: batch_size must be positive, got %s', batch_size);
    END IF;
    SELECT a.atttypid INTO typ FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) col
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42703',
            MESSAGE = pg_catalog.format('pg_authguard: column %I does not exist in %s', col, tbl);
    END IF;
    IF typ OPERATOR(pg_catalog.<>) 'pg_catalog.bytea'::pg_catalog.regtype THEN
        RAISE EXCEPTION USING ERRCODE = '42804',
            MESSAGE = pg_catalog.format('pg_authguard: column %I of %s is %s, not bytea', col, tbl, typ::pg_catalog.regtype);
    END IF;

    EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*), pg_catalog.count(%1$I), '
        'pg_catalog.count(*) FILTER (WHERE authguard._reencrypt_needed(%1$I)) FROM %2$s', col, tbl)
       INTO rows_all, total, pending;
    done := total OPERATOR(pg_catalog.-) pending;
    pages := pg_catalog.pg_relation_size(tbl) OPERATOR(pg_catalog./)
             pg_catalog.current_setting('block_size')::bigint;
    RAISE NOTICE 'reencrypt_column: %/% rows at the active version, % to re-encrypt', done, total, pending;
    IF pending OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    -- Pages per batch, from the average number of rows a page holds.
    step := GREATEST(1, (batch_size::bigint OPERATOR(pg_catalog.*) pages) OPERATOR(pg_catalog./) GREATEST(rows_all, 1));
    upd := pg_catalog.format(
        'UPDATE %1$s SET %2$I = authguard.reencrypt(%2$I) '
        'WHERE ctid OPERATOR(pg_catalog.>=) $1 AND ctid OPERATOR(pg_catalog.<) $2 '
        'AND %2$I IS NOT NULL AND authguard._reencrypt_needed(%2$I)', tbl, col);
    COMMIT;

    WHILE first OPERATOR(pg_catalog.<) pages LOOP
        EXECUTE upd USING pg_catalog.format('(%s,0)', first)::pg_catalog.tid,
                          pg_catalog.format('(%s,0)', first OPERATOR(pg_catalog.+) step)::pg_catalog.tid;
        GET DIAGNOSTICS n = ROW_COUNT;
        done := done OPERATOR(pg_catalog.+) n;
        first := first OPERATOR(pg_catalog.+) step;
        COMMIT;
        IF n OPERATOR(pg_catalog.>) 0 THEN
            RAISE NOTICE 'reencrypt_column: %/% rows', done, total;
        END IF;
    END LOOP;
    RAISE NOTICE 'reencrypt_column: finished, %/% rows at the active version', done, total;
END
$proc$;
COMMENT ON PROCEDURE authguard.reencrypt_column(pg_catalog.regclass, pg_catalog.name, integer) IS
    'pg_authguard: re-encrypt a bytea column to the active key versions in committed batches; resumable';
