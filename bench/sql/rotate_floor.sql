-- rotate floor (F): the same read of the current jti, then the bare UPDATE of
-- the row the extension's fast path updates, with the same conditions.
\set id random(1, :nlive)
UPDATE authguard.auth_sessions s
   SET previous_jti = s.current_jti, current_jti = gen_random_uuid(), last_rotated_at = now(),
       rotation_count = s.rotation_count + 1
  FROM bench.pairs p
  JOIN authguard.auth_sessions c ON c.family_id = p.family_id AND c.revoked_at IS NULL
 WHERE p.id = :id
   AND s.current_jti = c.current_jti AND s.revoked_at IS NULL AND s.family_id = p.family_id
   AND s.expires_at > now() AND s.dpop_jkt IS NULL
RETURNING 'rotated'::text AS status, s.id, s.current_jti, s.expires_at;
