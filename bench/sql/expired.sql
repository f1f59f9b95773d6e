-- :n sessions expired between 8 and 38 days ago into :"schema".auth_sessions,
-- for cleanup_expired_sessions (retention 7 days) to delete.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
INSERT INTO :"schema".auth_sessions
       (id, user_id, family_id, current_jti, device_hash, last_ip_cidr, auth_time, created_at, expires_at)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
       md5(g::text) || md5((g + 1)::text), '10.9.0.0/24', t - interval '30 days', t - interval '30 days', t
  FROM (SELECT g, now() - interval '8 days' - random() * interval '30 days' AS t
          FROM generate_series(1, :n) g) s;
