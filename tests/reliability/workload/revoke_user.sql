-- "Log out everywhere" for a slot's user (all of its families).
\set s random(1, :families)
INSERT INTO public.rel_events (op, status)
SELECT 'revoke_user', authguard.revoke_user_sessions(sl.user_id, 'soak_user')::text
  FROM public.rel_slots sl WHERE slot = :s;
