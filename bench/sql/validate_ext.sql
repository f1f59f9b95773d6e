-- validate_session, extension (A): a random live session's family and jti.
\set id random(1, :nlive)
SELECT v.valid, v.status, v.user_id, v.session_id, v.step_up_required
  FROM bench.pairs p, LATERAL authguard.validate_session(p.family_id, p.jti) v
 WHERE p.id = :id;
