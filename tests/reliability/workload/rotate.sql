-- A legitimate refresh: present a jti that was current when read (it may be
-- rotated by a concurrent client in between: then 'reissued' is expected).
\set s random(1, :families)
-- one refresh in ten presents a wrong DPoP key (dpop_mismatch for bound sessions)
\set wrong random(0, 9)
WITH sl AS (SELECT family_id FROM public.rel_slots WHERE slot = :s),
     j AS (SELECT sl.family_id, COALESCE(
              (SELECT current_jti FROM authguard.auth_sessions x
                WHERE x.family_id = sl.family_id AND x.revoked_at IS NULL ORDER BY random() LIMIT 1),
              (SELECT jti FROM public.rel_events e WHERE e.family_id = sl.family_id AND e.jti IS NOT NULL
                ORDER BY seq DESC LIMIT 1)) AS jti FROM sl)
INSERT INTO public.rel_events (op, family_id, jti, status)
SELECT 'rotate', j.family_id, r.jti, r.status
  FROM j, LATERAL authguard.rotate_session_token(j.family_id, j.jti, user_agent => 'soak',
           dpop_jkt => CASE WHEN :wrong = 0 THEN 'wrong' ELSE 'k' || :s END) r;
