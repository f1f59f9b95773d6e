-- The per-request check, with a current or a slightly older jti.
\set s random(1, :families)
\set back random(0, 2)
WITH sl AS (SELECT family_id FROM public.rel_slots WHERE slot = :s),
     j AS (SELECT sl.family_id, (SELECT jti FROM public.rel_events e WHERE e.family_id = sl.family_id
                                  AND e.jti IS NOT NULL ORDER BY seq DESC OFFSET :back LIMIT 1) AS jti FROM sl)
INSERT INTO public.rel_events (op, family_id, presented, status)
SELECT 'validate', j.family_id, j.jti, v.status
  FROM j, LATERAL authguard.validate_session(j.family_id, j.jti, 'k' || :s) v WHERE j.jti IS NOT NULL;
