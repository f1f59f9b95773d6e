-- A new login for a slot's user: the slot moves on to the new family.
-- Every fifth slot's logins are bound to a DPoP key thumbprint ('k' || slot).
\set s random(1, :families)
WITH sl AS (SELECT * FROM public.rel_slots WHERE slot = :s),
     c AS (SELECT c.* FROM sl, LATERAL authguard.create_session(sl.user_id, user_agent => 'soak', ip => '198.51.100.7',
                                                          dpop_jkt => CASE WHEN :s % 5 = 0 THEN 'k' || :s END) c),
     e AS (INSERT INTO public.rel_events (op, family_id, jti, status) SELECT 'created', family_id, jti, 'created' FROM c)
UPDATE public.rel_slots x SET family_id = c.family_id FROM c WHERE x.slot = :s;
