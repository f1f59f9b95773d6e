-- create_session, PL/pgSQL baseline (B).
SELECT session_id, family_id, jti, expires_at FROM baseline.create_session(gen_random_uuid());
