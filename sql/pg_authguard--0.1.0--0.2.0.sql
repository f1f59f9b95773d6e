-- pg_authguard 0.1.0 -> 0.2.0
-- Drafted by scripts/upgrade_script.py from the two install scripts, then reviewed;
-- tests/upgrade/run.sh checks the result equals a fresh install.
\echo Use "ALTER EXTENSION pg_authguard UPDATE TO '0.2.0'" to load this file. \quit

-- New and changed objects, in the dependency order of the install script.

-- requires:
--   roles

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

-- requires:
--   sessions_schema


CREATE TYPE authguard.session_validation AS (
    valid boolean, status text, user_id uuid, session_id uuid, step_up_required boolean);

-- pg_authguard::keyring::_reencrypt_needed
CREATE  FUNCTION "_reencrypt_needed"(
	"ciphertext" bytea /* & [u8] */
) RETURNS bool /* bool */
STRICT STABLE SECURITY DEFINER PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_reencrypt_needed_wrapper';

-- pg_authguard::sessions::_validate_session
-- requires:
--   session_validation_type
CREATE  FUNCTION "_validate_session"(
	"family_id" uuid, /* Option < Uuid > */
	"jti" uuid, /* Option < Uuid > */
	"dpop_jkt" TEXT DEFAULT NULL, /* Option < & str > */
	"max_auth_age" interval DEFAULT NULL /* Option < Interval > */
) RETURNS authguard.session_validation /* :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox :: AllocatedByRust
> */
STABLE SECURITY DEFINER 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', '_validate_session_wrapper';

-- requires:
--   _validate_session


CREATE OR REPLACE FUNCTION authguard.validate_session(
    family_id uuid, jti uuid, dpop_jkt text DEFAULT NULL, max_auth_age interval DEFAULT NULL)
RETURNS TABLE (valid boolean, status text, user_id uuid, session_id uuid, step_up_required boolean)
LANGUAGE sql STABLE
AS $$
    SELECT (r).valid, (r).status, (r).user_id, (r).session_id, (r).step_up_required
      FROM (SELECT authguard._validate_session($1, $2, $3, $4) AS r OFFSET 0) s
$$;

-- pg_authguard::crypto::chacha20poly1305_decrypt
CREATE  FUNCTION "chacha20poly1305_decrypt"(
	"ciphertext" bytea, /* Option < & [u8] > */
	"key" bytea, /* Option < & [u8] > */
	"nonce" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'chacha20poly1305_decrypt_wrapper';

-- pg_authguard::crypto::chacha20poly1305_encrypt
CREATE  FUNCTION "chacha20poly1305_encrypt"(
	"plaintext" bytea, /* Option < & [u8] > */
	"key" bytea, /* Option < & [u8] > */
	"nonce" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'chacha20poly1305_encrypt_wrapper';

-- pg_authguard::stats::count_old_oauth_tokens

CREATE FUNCTION authguard."count_old_oauth_tokens"("tbl" regclass)
RETURNS TABLE ("provider" varchar, "old_hashed_tokens" bigint, "encrypted_tokens" bigint)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'count_old_oauth_tokens_wrapper';

-- pg_authguard::keyring::create_key
CREATE  FUNCTION "create_key"(
	"name" TEXT /* Option < & str > */
) RETURNS INT /* i32 */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'create_key_wrapper';

-- pg_authguard::sessions::create_session

CREATE OR REPLACE FUNCTION authguard.create_session(
    user_id uuid, ttl interval DEFAULT NULL, user_agent text DEFAULT NULL, ip inet DEFAULT NULL,
    dpop_jkt text DEFAULT NULL, family_id uuid DEFAULT NULL, auth_time timestamptz DEFAULT now())
RETURNS TABLE (session_id uuid, family_id uuid, jti uuid, expires_at timestamptz)
VOLATILE SECURITY DEFINER ROWS 1
LANGUAGE c AS 'MODULE_PATHNAME', 'create_session_wrapper';

-- pg_authguard::crypto::decrypt
CREATE  FUNCTION "decrypt"(
	"ciphertext" bytea, /* Option < & [u8] > */
	"key" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'decrypt_wrapper';

-- pg_authguard::keyring::decrypt_with_key
CREATE  FUNCTION "decrypt_with_key"(
	"ciphertext" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
STABLE SECURITY DEFINER PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'decrypt_with_key_wrapper';

-- pg_authguard::crypto::encrypt
CREATE  FUNCTION "encrypt"(
	"plaintext" bytea, /* Option < & [u8] > */
	"key" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'encrypt_wrapper';

-- pg_authguard::keyring::encrypt_with_key
CREATE  FUNCTION "encrypt_with_key"(
	"name" TEXT, /* Option < & str > */
	"plaintext" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
VOLATILE SECURITY DEFINER PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'encrypt_with_key_wrapper';

-- pg_authguard::encryption_checks::encryption_row_valid
CREATE  FUNCTION "encryption_row_valid"(
	"version" INT, /* Option < i32 > */
	"content" TEXT, /* Option < & str > */
	"ciphertext" bytea, /* Option < & [u8] > */
	"nonce" bytea /* Option < & [u8] > */
) RETURNS bool /* Option < bool > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'encryption_row_valid_wrapper';

-- pg_authguard::stats::get_device_key_stats

CREATE FUNCTION authguard."get_device_key_stats"("tbl" regclass)
RETURNS TABLE ("total_keys" bigint, "users_with_keys" bigint, "avg_devices_per_user" NUMERIC,
               "keys_created_24h" bigint, "keys_rotated" bigint)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'get_device_key_stats_wrapper';

-- pg_authguard::stats::get_message_encryption_stats

CREATE FUNCTION authguard."get_message_encryption_stats"("tbl" regclass)
RETURNS TABLE ("encryption_version" INT, "message_count" bigint, "percentage" NUMERIC)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'get_message_encryption_stats_wrapper';

-- pg_authguard::crypto::hkdf_sha256
CREATE  FUNCTION "hkdf_sha256"(
	"ikm" bytea, /* & [u8] */
	"salt" bytea, /* & [u8] */
	"info" bytea, /* & [u8] */
	"length" INT DEFAULT 32 /* i32 */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'hkdf_sha256_wrapper';

-- pg_authguard::crypto::key_exchange_hash
CREATE  FUNCTION "key_exchange_hash"(
	"shared_secret" bytea, /* & [u8] */
	"conversation_id" uuid /* pgrx :: Uuid */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'key_exchange_hash_wrapper';

-- pg_authguard::keyring::key_version_of
CREATE  FUNCTION "key_version_of"(
	"ciphertext" bytea /* & [u8] */
) RETURNS INT /* i32 */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'key_version_of_wrapper';

-- pg_authguard::crypto::random_nonce
CREATE  FUNCTION "random_nonce"() RETURNS bytea /* Vec < u8 > */
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'random_nonce_wrapper';

-- pg_authguard::keyring::reencrypt
CREATE  FUNCTION "reencrypt"(
	"ciphertext" bytea, /* Option < & [u8] > */
	"aad" bytea DEFAULT NULL /* Option < & [u8] > */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
VOLATILE SECURITY DEFINER PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'reencrypt_wrapper';

-- pg_authguard::sessions::revoke_session_family
CREATE OR REPLACE FUNCTION "revoke_session_family"(
	"family_id" uuid, /* Option < Uuid > */
	"reason" TEXT DEFAULT 'revoked' /* Option < & str > */
) RETURNS INT /* i32 */
VOLATILE SECURITY DEFINER
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'revoke_session_family_wrapper';

-- pg_authguard::keyring::rotate_key
CREATE  FUNCTION "rotate_key"(
	"name" TEXT /* Option < & str > */
) RETURNS INT /* i32 */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rotate_key_wrapper';

-- pg_authguard::keyring::rotate_master_key
CREATE  FUNCTION "rotate_master_key"(
	"new_master_key" TEXT /* Option < & str > */
) RETURNS INT /* i32 */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rotate_master_key_wrapper';

-- pg_authguard::crypto::x25519_generate_keypair
CREATE  FUNCTION "x25519_generate_keypair"() RETURNS TABLE (
	"private_key" bytea,  /* Vec < u8 > */
	"public_key" bytea  /* Vec < u8 > */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'x25519_generate_keypair_wrapper';

-- pg_authguard::crypto::x25519_public_key
CREATE  FUNCTION "x25519_public_key"(
	"private_key" bytea /* & [u8] */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'x25519_public_key_wrapper';

-- pg_authguard::crypto::x25519_public_key_valid
CREATE  FUNCTION "x25519_public_key_valid"(
	"public_key" bytea /* & [u8] */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'x25519_public_key_valid_bytea_wrapper';

-- pg_authguard::crypto::x25519_public_key_valid
CREATE  FUNCTION "x25519_public_key_valid"(
	"public_key" TEXT /* & str */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'x25519_public_key_valid_text_wrapper';

-- pg_authguard::crypto::x25519_shared_secret
CREATE  FUNCTION "x25519_shared_secret"(
	"private_key" bytea, /* & [u8] */
	"public_key" bytea /* & [u8] */
) RETURNS bytea /* Vec < u8 > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'x25519_shared_secret_wrapper';

-- pg_authguard::encryption_checks::check_encryption_version
CREATE FUNCTION "check_encryption_version"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'check_encryption_version_wrapper';

-- pg_authguard::encryption_checks::set_updated_at
CREATE FUNCTION "set_updated_at"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'set_updated_at_wrapper';


-- Privileges (idempotent).

-- finalize
-- Privileges, applied after every object exists.
-- Nothing in the schema is reachable by PUBLIC except the pure primitives,
-- which touch no table (hashes, MACs, AEAD, X25519), like pgcrypto's.
REVOKE ALL ON ALL TABLES IN SCHEMA authguard FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA authguard FROM PUBLIC;
-- USAGE for everyone: the pure primitives are public like pgcrypto's; every
-- function that touches a table is revoked from PUBLIC below.
GRANT USAGE ON SCHEMA authguard TO PUBLIC;

DO $grants$
DECLARE
    f regprocedure;
    -- Functions that read or write extension tables, and who may call them.
    app_functions text[] := ARRAY[
        'create_session', 'rotate_session_token', 'validate_session', '_validate_session',
        'handle_token_replay', 'revoke_session_family',
        'encrypt_with_key', 'decrypt_with_key', 'key_version_of'];
    admin_functions text[] := ARRAY[
        'revoke_user_sessions', 'cleanup_expired_sessions', 'session_stats',
        'create_key', 'rotate_key', 'reencrypt', 'reencrypt_column', 'rotate_master_key',
        '_reencrypt_needed'];
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace
           AND (p.proname = ANY (app_functions) OR p.proname = ANY (admin_functions)
                OR p.proname LIKE '\_%')
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace AND p.proname = ANY (app_functions)
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO authguard_app', f);
    END LOOP;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace AND p.proname = ANY (admin_functions)
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO authguard_admin', f);
    END LOOP;
END
$grants$;

-- Monitoring views and the audit log are for administrators, read-only.
GRANT SELECT ON authguard.active_sessions, authguard.session_families,
                authguard.auth_audit_log TO authguard_admin;

