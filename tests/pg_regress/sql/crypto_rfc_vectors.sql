-- Published test vectors through the SQL functions: RFC 7748 (X25519),
-- RFC 8439 (ChaCha20-Poly1305 AEAD), RFC 4231 (HMAC-SHA256), RFC 5869 (HKDF).
-- Each row shows the computed value and whether it equals the RFC's.
-- Quiet: whether the extension already exists depends on which scenario ran first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
SET search_path = authguard, public;
\set SHOW_CONTEXT never

-- RFC 7748 §5.2: the two single-call X25519 vectors.
SELECT encode(x25519_shared_secret(
           '\xa546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
           '\xe6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'), 'hex')
       = 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552' AS rfc7748_5_2_vector_1;
SELECT encode(x25519_shared_secret(
           '\x4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
           '\xe5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493'), 'hex')
       = '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957' AS rfc7748_5_2_vector_2;

-- RFC 7748 §5.2 iterated: k = u = 9; repeat (k, u) := (X25519(k, u), k).
WITH RECURSIVE it(n, k, u) AS (
    SELECT 0, '\x0900000000000000000000000000000000000000000000000000000000000000'::bytea,
              '\x0900000000000000000000000000000000000000000000000000000000000000'::bytea
    UNION ALL
    SELECT n + 1, x25519_shared_secret(k, u), k FROM it WHERE n < 1000
)
SELECT n AS iterations, encode(k, 'hex') AS k FROM it WHERE n IN (1, 1000) ORDER BY n;

-- RFC 7748 §6.1: Alice and Bob.
SELECT encode(x25519_public_key('\x77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'), 'hex') AS alice_public,
       encode(x25519_public_key('\x5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'), 'hex') AS bob_public;
SELECT encode(x25519_shared_secret('\x77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
                                   '\xde9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'), 'hex') AS alice_computes,
       encode(x25519_shared_secret('\x5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
                                   '\x8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'), 'hex') AS bob_computes;

-- A low-order public key (here 0) would force an all-zero secret: refused.
SELECT x25519_shared_secret('\x77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
                            '\x0000000000000000000000000000000000000000000000000000000000000000');
SELECT x25519_public_key_valid('hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=') AS alice_b64_valid,
       x25519_public_key_valid('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=') AS zero_point_valid,
       x25519_public_key_valid('not base64') AS garbage_valid;

-- RFC 8439 §2.8.2: AEAD_CHACHA20_POLY1305 test vector (output is ciphertext || tag).
\set key '\'\\x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\'::bytea'
\set nonce '\'\\x070000004041424344454647\'::bytea'
\set aad '\'\\x50515253c0c1c2c3c4c5c6c7\'::bytea'
\set sunscreen 'convert_to(\'Ladies and Gentlemen of the class of \'\'99: If I could offer you only one tip for the future, sunscreen would be it.\', \'UTF8\')'
SELECT encode(chacha20poly1305_encrypt(:sunscreen, :key, :nonce, :aad), 'hex')
       = 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b'
         '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc'
         '3ff4def08e4b7a9de576d26586cec64b6116'
         '1ae10b594f09e26a7e902ecbd0600691' AS rfc8439_2_8_2_ciphertext_and_tag;
SELECT convert_from(chacha20poly1305_decrypt(chacha20poly1305_encrypt(:sunscreen, :key, :nonce, :aad),
                                             :key, :nonce, :aad), 'UTF8') AS decrypted;
-- The same ciphertext under another AAD fails authentication (SQLSTATE 22000).
SELECT chacha20poly1305_decrypt(chacha20poly1305_encrypt(:sunscreen, :key, :nonce, :aad), :key, :nonce, 'other');

-- RFC 4231: HMAC-SHA256 test cases 1 to 4, 5 (truncated to 128 bits) and 6.
SELECT tc, encode(mac, 'hex') = expected AS rfc4231_ok
  FROM (VALUES
    (1, hmac_sha256('\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', 'Hi There'),
        'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'),
    (2, hmac_sha256('Jefe', 'what do ya want for nothing?'),
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'),
    (3, hmac_sha256('\xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', decode(repeat('dd', 50), 'hex')),
        '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'),
    (4, hmac_sha256('\x0102030405060708090a0b0c0d0e0f10111213141516171819', decode(repeat('cd', 50), 'hex')),
        '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'),
    (5, substr(hmac_sha256('\x0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c', 'Test With Truncation'), 1, 16),
        'a3b6167473100ee06e0c796c2955552b'),
    (6, hmac_sha256(decode(repeat('aa', 131), 'hex'), 'Test Using Larger Than Block-Size Key - Hash Key First'),
        '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54')
  ) AS t(tc, mac, expected)
 ORDER BY tc;
SELECT hmac_sha256_verify('Jefe', 'what do ya want for nothing?',
           '\x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843') AS verifies,
       hmac_sha256_verify('Jefe', 'what do ya want for nothing?',
           '\x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844') AS verifies_tampered;

-- RFC 5869 A.1: HKDF-SHA256 basic case (42 bytes), and the length limits.
SELECT encode(hkdf_sha256('\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', '\x000102030405060708090a0b0c',
                          '\xf0f1f2f3f4f5f6f7f8f9', 42), 'hex')
       = '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865' AS rfc5869_a1;
SELECT length(hkdf_sha256('ikm', '', 'info')) AS default_length;
SELECT hkdf_sha256('ikm', '', 'info', 8161);
