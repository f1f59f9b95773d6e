-- An injected replay: a stored jti two or more generations old (never the
-- immediate parent, so the reuse grace cannot apply), presented either to
-- rotate_session_token or to handle_token_replay.
\set s random(1, :families)
\set back random(2, 6)
\set how random(0, 1)
WITH sl AS (SELECT family_id FROM public.rel_slots WHERE slot = :s),
     j AS (SELECT sl.family_id, (SELECT jti FROM public.rel_events e WHERE e.family_id = sl.family_id
                                  AND e.jti IS NOT NULL ORDER BY seq DESC OFFSET :back LIMIT 1) AS jti FROM sl
            WHERE :how = 0),
     h AS (SELECT sl.family_id, (SELECT jti FROM public.rel_events e WHERE e.family_id = sl.family_id
                                  AND e.jti IS NOT NULL ORDER BY seq DESC OFFSET :back LIMIT 1) AS jti FROM sl
            WHERE :how = 1),
     r AS (INSERT INTO public.rel_events (op, family_id, jti, status)
           SELECT 'replay_rotate', j.family_id, r.jti, r.status
             FROM j, LATERAL authguard.rotate_session_token(j.family_id, j.jti) r WHERE j.jti IS NOT NULL)
INSERT INTO public.rel_events (op, family_id, jti, status)
SELECT 'replay_handle', h.family_id, NULL,
       CASE WHEN authguard.handle_token_replay(h.jti, h.family_id) THEN 'replay_true' ELSE 'replay_false' END
  FROM h WHERE h.jti IS NOT NULL;
