-- validate_session, PL/pgSQL baseline (B): same pick, same call shape.
\set id random(1, :nlive)
SELECT v.valid, v.status, v.user_id, v.session_id, v.step_up_required
  FROM bench.pairs p, LATERAL baseline.validate_session(p.family_id, p.jti) v
 WHERE p.id = :id;
