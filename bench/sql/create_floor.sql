-- create floor (F): the bare INSERT of the session, plus the session_created
-- audit row the extension also writes.
WITH s AS (
    INSERT INTO authguard.auth_sessions (id, user_id, family_id, current_jti, auth_time, created_at, expires_at)
    VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
            now(), now(), now() + interval '30 days')
    RETURNING id, user_id, family_id, current_jti, expires_at)
INSERT INTO authguard.auth_audit_log (action, user_id, family_id, session_id, details)
SELECT 'session_created', user_id, family_id, id, '{"joined_family": false, "dpop_bound": false}'::jsonb
  FROM s
RETURNING session_id, family_id;
