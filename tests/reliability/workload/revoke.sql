-- Logout of a slot's family; the 'revoke' event commits with the revocation.
\set s random(1, :families)
INSERT INTO public.rel_events (op, family_id, status)
SELECT 'revoke', sl.family_id, authguard.revoke_session_family(sl.family_id, 'soak_logout')::text
  FROM public.rel_slots sl WHERE slot = :s;
