-- pg_authguard demo: one user's login lineage from first login to a detected
-- token theft. Run by `make demo`; safe to re-run (it starts from a fresh database).
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
SET search_path = authguard, public;

\echo
\echo '== 1. Login: create_session() mints a session, its family and a refresh-token id (jti)'
SELECT session_id, family_id, jti, expires_at
  FROM create_session('5f0c1a6e-0000-4000-8000-000000000001',
                      user_agent => 'Mozilla/5.0 (Macintosh)', ip => '198.51.100.23') \gset
SELECT :'family_id' AS family_id, :'jti' AS first_jti, :'expires_at' AS expires_at;
\echo 'Stored instead of raw client data: a device hash and the /24 network'
SELECT device_hash, last_ip_cidr FROM auth_sessions WHERE id = :'session_id';

\echo
\echo '== 2. Each API request: validate_session() (read-only, works on a hot standby)'
SELECT * FROM validate_session(:'family_id', :'jti');

\echo
\echo '== 3. Refresh: rotate_session_token() swaps the jti'
SELECT status, jti AS second_jti FROM rotate_session_token(:'family_id', :'jti') \gset
SELECT :'status' AS status, :'second_jti' AS second_jti;

\echo
\echo '== 4. The client''s own concurrent refresh arrives with the parent token'
\echo '     (within authguard.reuse_interval): it is handed the same new jti, nothing is minted'
SELECT status, jti, jti = :'second_jti' AS same_as_second FROM rotate_session_token(:'family_id', :'jti');

\echo
\echo '== 5. Normal life goes on: refresh again'
SELECT status, jti AS third_jti FROM rotate_session_token(:'family_id', :'second_jti') \gset
SELECT :'status' AS status;

\echo
\echo '== 6. An attacker replays the stolen FIRST token: replay detected, family revoked'
SELECT status FROM rotate_session_token(:'family_id', :'jti');
\echo '     ... and the legitimate client''s current token is dead too (re-login required)'
SELECT valid, status FROM validate_session(:'family_id', :'third_jti');
SELECT revoked_reason, reused_jti_of = :'jti' AS stolen_jti_recorded
  FROM auth_sessions WHERE id = :'session_id';

\echo
\echo '== 7. Audit trail (the seed''s monitoring query, unchanged)'
SELECT created_at::time(0) AS at, action, details
  FROM auth_audit_log
 WHERE family_id = :'family_id' AND created_at > NOW() - INTERVAL '1 hour'
 ORDER BY id;
SELECT family_id, sessions, active_sessions, replay_detected
  FROM session_families WHERE family_id = :'family_id';

\echo
\echo '== 8. Operations: stats and cleanup'
SELECT jsonb_pretty(session_stats()) AS session_stats;
SELECT cleanup_expired_sessions(interval '0') AS deleted_now_with_zero_retention;

\echo
\echo '== 9. Encryption: encrypt() is XChaCha20-Poly1305 in a self-describing envelope'
SELECT authguard.sha256('demo key material') AS k \gset
SELECT length(authguard.encrypt('card ending 4242', :'k')) AS envelope_bytes,
       convert_from(authguard.decrypt(authguard.encrypt('card ending 4242', :'k'), :'k'), 'UTF8') AS round_trip;
\echo '     a tampered ciphertext is refused (SQLSTATE 22000), never partly decrypted:'
\set ON_ERROR_STOP off
SELECT authguard.decrypt(overlay(authguard.encrypt('card ending 4242', :'k') placing '\xff'::bytea from 40 for 1), :'k');
\set ON_ERROR_STOP on

\echo
\echo '== 10. Keyring: versioned data keys wrapped under a master key; rotation without downtime'
-- A session SET is used for the demo; production uses ALTER SYSTEM with the library preloaded (README, Keyring).
SET authguard.master_key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
SELECT authguard.create_key('messages') AS first_version;
CREATE TABLE demo_messages (id int PRIMARY KEY, body bytea);
INSERT INTO demo_messages SELECT i, authguard.encrypt_with_key('messages', convert_to('message ' || i, 'UTF8'))
  FROM generate_series(1, 2000) i;
SELECT authguard.rotate_key('messages') AS new_version;
SELECT authguard.key_version_of(body) AS version, count(*) FROM demo_messages GROUP BY 1 ORDER BY 1;
SET client_min_messages = notice;
CALL authguard.reencrypt_column('demo_messages', 'body', 500);
SET client_min_messages = warning;
SELECT authguard.key_version_of(body) AS version, count(*) FROM demo_messages GROUP BY 1 ORDER BY 1;
SELECT convert_from(authguard.decrypt_with_key(body), 'UTF8') AS still_readable FROM demo_messages WHERE id = 7;
SELECT name, version, status FROM authguard.key_list ORDER BY version;
