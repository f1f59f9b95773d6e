-- rotate_session_token, extension (A). The client presents the family's
-- current jti, read in the same statement (identical read in A, B and F), so
-- every call is a genuine `rotated` however often a family comes up again.
\set id random(1, :nlive)
SELECT r.status, r.session_id, r.jti, r.expires_at
  FROM bench.pairs p
  JOIN authguard.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL,
       LATERAL authguard.rotate_session_token(p.family_id, c.current_jti) r
 WHERE p.id = :id;
