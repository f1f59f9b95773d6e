-- The encryption-version contract on a messages table shaped like the
-- application's: a CHECK constraint with encryption_row_valid(), the
-- check_encryption_version() trigger (default and custom column names) and
-- set_updated_at().
-- Quiet: whether the extension already exists depends on which scenario ran first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
-- Application tables go to their own schema; the extension's functions are found in authguard.
CREATE SCHEMA crypto_checks;
SET search_path = crypto_checks, authguard;
\set SHOW_CONTEXT never
\set VERBOSITY default
\set ct16 '\'\\x00112233445566778899aabbccddeeff\'::bytea'
\set nonce12 '\'\\x000102030405060708090a0b\'::bytea'

-- The contract as a function.
SELECT v, encryption_row_valid(v, c, ct, n) AS valid
  FROM (VALUES (1, 'plain', NULL, NULL),
               (2, '', :ct16, :nonce12),
               (1, 'plain', :ct16, NULL),
               (2, 'leak', :ct16, :nonce12),
               (2, '', '\x00'::bytea, :nonce12),
               (2, '', :ct16, '\x00'::bytea),
               (3, '', NULL, NULL),
               (NULL, '', NULL, NULL)) AS t(v, c, ct, n);

-- As a CHECK constraint (the NULL version is left to NOT NULL).
CREATE TABLE checked_messages (
    id                 int PRIMARY KEY,
    encryption_version int NOT NULL DEFAULT 1,
    content            text NOT NULL DEFAULT '',
    content_encrypted  bytea,
    content_nonce      bytea,
    CONSTRAINT chk_encryption CHECK (
        encryption_row_valid(encryption_version, content, content_encrypted, content_nonce))
);
INSERT INTO checked_messages (id, content) VALUES (1, 'hello');
INSERT INTO checked_messages (id, encryption_version, content_encrypted, content_nonce)
VALUES (2, 2, chacha20poly1305_encrypt('hello', sha256('k'), :nonce12), :nonce12);
INSERT INTO checked_messages (id, encryption_version, content) VALUES (3, 2, 'hello');

-- The trigger with its default column names, on the application's table shape.
CREATE TABLE messages (
    id                 uuid PRIMARY KEY,
    conversation_id    uuid NOT NULL,
    sender_id          uuid NOT NULL,
    encryption_version int NOT NULL DEFAULT 1,
    content_encrypted  bytea,
    content_nonce      bytea,
    content            text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER trg_messages_encryption BEFORE INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION check_encryption_version();
INSERT INTO messages (id, conversation_id, sender_id, content)
VALUES ('00000000-0000-4000-8000-000000000001', gen_random_uuid(), gen_random_uuid(), 'plaintext');
INSERT INTO messages (id, conversation_id, sender_id, encryption_version, content_encrypted, content_nonce)
VALUES ('00000000-0000-4000-8000-000000000002', gen_random_uuid(), gen_random_uuid(), 2, :ct16, :nonce12);
-- Each fault, named with the row's key.
INSERT INTO messages (id, conversation_id, sender_id, content, content_encrypted)
VALUES ('00000000-0000-4000-8000-000000000003', gen_random_uuid(), gen_random_uuid(), 'x', :ct16);
INSERT INTO messages (id, conversation_id, sender_id, content, content_nonce)
VALUES ('00000000-0000-4000-8000-000000000003', gen_random_uuid(), gen_random_uuid(), 'x', :nonce12);
UPDATE messages SET encryption_version = 2 WHERE content = 'plaintext';
UPDATE messages SET content_encrypted = '\x0011' WHERE encryption_version = 2;
UPDATE messages SET content_nonce = NULL WHERE encryption_version = 2;
UPDATE messages SET content_nonce = :ct16 WHERE encryption_version = 2;
UPDATE messages SET content = 'leaked' WHERE encryption_version = 2;
UPDATE messages SET encryption_version = 3;
\set VERBOSITY sqlstate
UPDATE messages SET encryption_version = 3;
\set VERBOSITY default
SELECT encryption_version, count(*) FROM messages GROUP BY 1 ORDER BY 1;

-- Custom column names, given as trigger arguments, and a composite key.
CREATE TABLE notes (
    owner   text,
    seq     int,
    fmt     smallint NOT NULL,
    body    varchar(200),
    sealed  bytea,
    iv      bytea,
    PRIMARY KEY (owner, seq)
);
CREATE TRIGGER trg_notes_encryption BEFORE INSERT OR UPDATE ON notes
    FOR EACH ROW EXECUTE FUNCTION check_encryption_version('fmt', 'body', 'sealed', 'iv');
INSERT INTO notes VALUES ('ann', 1, 2, '', :ct16, :nonce12);
INSERT INTO notes VALUES ('ann', 2, 2, '', :ct16, '\x0102');
INSERT INTO notes VALUES ('bob', 1, 1, 'hi', NULL, :nonce12);

-- A configured column that does not exist: 42703.
CREATE TABLE misconfigured (id int PRIMARY KEY, content text);
CREATE TRIGGER trg BEFORE INSERT ON misconfigured
    FOR EACH ROW EXECUTE FUNCTION check_encryption_version('version');
INSERT INTO misconfigured VALUES (1, 'x');
\set VERBOSITY sqlstate
INSERT INTO misconfigured VALUES (1, 'x');
\set VERBOSITY default

-- set_updated_at(): default column, or the one named.
CREATE TABLE device_keys (
    id         int PRIMARY KEY,
    public_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now() - interval '1 day',
    updated_at timestamptz NOT NULL DEFAULT now() - interval '1 day',
    touched    timestamp
);
CREATE TRIGGER trg_device_keys_updated_at BEFORE UPDATE ON device_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_device_keys_touched BEFORE UPDATE ON device_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at('touched');
INSERT INTO device_keys (id, public_key) VALUES (1, 'k1'), (2, 'k2');
-- In one transaction, so now() is the same instant the trigger stored.
BEGIN;
UPDATE device_keys SET public_key = 'k1b' WHERE id = 1;
SELECT id, public_key, updated_at = now() AS updated_now, updated_at > created_at AS rotated,
       touched = now()::timestamp AS touched_now
  FROM device_keys ORDER BY id;
COMMIT;
CREATE TRIGGER trg_bad BEFORE UPDATE ON device_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at('modified_at');
UPDATE device_keys SET public_key = 'k2b' WHERE id = 2;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA crypto_checks CASCADE;
RESET client_min_messages;
