-- validate floor (F): the bare indexed lookup of the same row (live-jti index,
-- family checked), returning what the decision needs. Same pick as A and B.
\set id random(1, :nlive)
SELECT s.expires_at > now() AND s.dpop_jkt IS NULL AS valid, s.user_id, s.id, s.auth_time
  FROM bench.pairs p
  JOIN authguard.auth_sessions s
    ON s.current_jti = p.jti AND s.revoked_at IS NULL AND s.family_id = p.family_id
 WHERE p.id = :id;
