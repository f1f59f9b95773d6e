-- Stats over the application's tables, given as regclass: same columns and
-- values as the PL/pgSQL baseline's helpers on the same rows.
-- Quiet: whether the extension already exists depends on which scenario ran first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
SET search_path = public, authguard;
\set SHOW_CONTEXT never
\set VERBOSITY default

CREATE SCHEMA "Crypto Stats App";
CREATE TABLE "Crypto Stats App".messages (
    id                 int PRIMARY KEY,
    encryption_version int NOT NULL DEFAULT 1,
    content            text NOT NULL DEFAULT ''
);
-- 4 plaintext, 2 encrypted: 66.67 % and 33.33 %.
INSERT INTO "Crypto Stats App".messages SELECT g, CASE WHEN g <= 4 THEN 1 ELSE 2 END FROM generate_series(1, 6) g;
SELECT * FROM get_message_encryption_stats('"Crypto Stats App".messages');

CREATE TABLE "Crypto Stats App".device_keys (
    id         int PRIMARY KEY,
    user_id    int NOT NULL,
    device_id  text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- user 1: three devices (one new today, one rotated); user 2: one device.
-- 4 keys, 2 users, 2.00 devices a user, 1 created in 24 h, 1 rotated.
INSERT INTO "Crypto Stats App".device_keys VALUES
    (1, 1, 'phone',  now() - interval '3 days', now() - interval '3 days'),
    (2, 1, 'laptop', now() - interval '2 days', now() - interval '1 day'),
    (3, 1, 'tablet', now() - interval '2 hours', now() - interval '2 hours'),
    (4, 2, 'phone',  now() - interval '10 days', now() - interval '10 days');
SELECT * FROM get_device_key_stats('"Crypto Stats App".device_keys');
-- No rows: zeros, and NULL for the average (no users to divide by).
TRUNCATE "Crypto Stats App".device_keys;
SELECT * FROM get_device_key_stats('"Crypto Stats App".device_keys');

CREATE TABLE "Crypto Stats App".oauth_connections (
    id               int PRIMARY KEY,
    provider         varchar(50) NOT NULL,
    tokens_encrypted boolean NOT NULL DEFAULT false
);
INSERT INTO "Crypto Stats App".oauth_connections VALUES
    (1, 'google', false), (2, 'google', true), (3, 'github', false),
    (4, 'google', false), (5, 'apple', true);
SELECT * FROM count_old_oauth_tokens('"Crypto Stats App".oauth_connections');

-- The baseline helpers' own queries on the same rows give the same result sets.
SELECT count(*) AS differences FROM (
    (SELECT * FROM get_message_encryption_stats('"Crypto Stats App".messages')
     EXCEPT ALL
     SELECT m.encryption_version, count(*), round(100.0 * count(*) / sum(count(*)) OVER (), 2)
       FROM "Crypto Stats App".messages m GROUP BY m.encryption_version)
    UNION ALL
    (SELECT m.encryption_version, count(*), round(100.0 * count(*) / sum(count(*)) OVER (), 2)
       FROM "Crypto Stats App".messages m GROUP BY m.encryption_version
     EXCEPT ALL
     SELECT * FROM get_message_encryption_stats('"Crypto Stats App".messages'))) d;
SELECT count(*) AS differences FROM (
    (SELECT * FROM count_old_oauth_tokens('"Crypto Stats App".oauth_connections')
     EXCEPT ALL
     SELECT o.provider, count(*) FILTER (WHERE NOT o.tokens_encrypted), count(*) FILTER (WHERE o.tokens_encrypted)
       FROM "Crypto Stats App".oauth_connections o GROUP BY o.provider)
    UNION ALL
    (SELECT o.provider, count(*) FILTER (WHERE NOT o.tokens_encrypted), count(*) FILTER (WHERE o.tokens_encrypted)
       FROM "Crypto Stats App".oauth_connections o GROUP BY o.provider
     EXCEPT ALL
     SELECT * FROM count_old_oauth_tokens('"Crypto Stats App".oauth_connections'))) d;

-- A table without the needed column: 42703 naming it.
SELECT * FROM get_message_encryption_stats('"Crypto Stats App".oauth_connections');
\set VERBOSITY sqlstate
SELECT * FROM count_old_oauth_tokens('"Crypto Stats App".messages');
\set VERBOSITY default
-- The caller's own privileges apply (SECURITY INVOKER).
SELECT proname, prosecdef FROM pg_proc
 WHERE proname IN ('get_message_encryption_stats', 'get_device_key_stats', 'count_old_oauth_tokens')
 ORDER BY proname;

SET client_min_messages = warning;
DROP SCHEMA "Crypto Stats App" CASCADE;
RESET client_min_messages;
