-- encrypt()/decrypt(): XChaCha20-Poly1305 in a versioned envelope
-- ("AG", format 1, algorithm 1, 24-byte nonce, ciphertext || tag), and the
-- NULL and error rules every AEAD function follows.
-- Quiet: whether the extension already exists depends on which scenario ran first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
SET search_path = authguard, public;
\set SHOW_CONTEXT never
\set VERBOSITY default
\set key 'sha256(\'demo key\')'

-- Round trip, with and without AAD; an explicit NULL aad means "no aad".
SELECT convert_from(decrypt(encrypt('hello', :key), :key), 'UTF8') AS round_trip,
       convert_from(decrypt(encrypt('hello', :key, 'conv-1'), :key, 'conv-1'), 'UTF8') AS with_aad,
       convert_from(decrypt(encrypt('hello', :key, NULL), :key), 'UTF8') AS null_aad;
-- 44 bytes of overhead; the header says format 1, algorithm 1; nonces are fresh.
SELECT length(encrypt('hello', :key)) AS len,
       encode(substr(encrypt('hello', :key), 1, 4), 'hex') AS header,
       encrypt('same', :key) <> encrypt('same', :key) AS fresh_nonce;
-- Any NULL argument other than aad: NULL.
SELECT encrypt(NULL, :key) IS NULL AS a, encrypt('x', NULL) IS NULL AS b,
       decrypt(NULL, :key) IS NULL AS c, chacha20poly1305_encrypt('x', :key, NULL) IS NULL AS d;

-- Refusals, each with its SQLSTATE.
\set VERBOSITY sqlstate
SELECT decrypt(encrypt('m', :key, 'conv-1'), :key, 'conv-2');
SELECT decrypt(encrypt('m', :key), sha256('other key'));
\set VERBOSITY default
SELECT decrypt(encrypt('m', :key, 'conv-1'), :key, 'conv-2');
SELECT decrypt('\x414701', :key);
SELECT decrypt('just some bytes that are long enough to be an envelope', :key);
SELECT decrypt(overlay(encrypt('m', :key) PLACING '\x02' FROM 3), :key);
SELECT decrypt(overlay(encrypt('m', :key) PLACING '\x09' FROM 4), :key);
SELECT encrypt('m', 'short key');
SELECT chacha20poly1305_encrypt('m', :key, '\x0001');
SELECT chacha20poly1305_decrypt('\x00', :key, random_nonce());
\set VERBOSITY sqlstate
SELECT decrypt('\x414701', :key);
SELECT encrypt('m', 'short key');
