-- rotate_session_token, PL/pgSQL baseline (B): same read, same call shape.
\set id random(1, :nlive)
SELECT r.status, r.session_id, r.jti, r.expires_at
  FROM bench.pairs p
  JOIN baseline.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL,
       LATERAL baseline.rotate_session_token(p.family_id, c.current_jti) r
 WHERE p.id = :id;
