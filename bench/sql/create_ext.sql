-- create_session, extension (A): a new login of a new user.
SELECT session_id, family_id, jti, expires_at FROM authguard.create_session(gen_random_uuid());
