-- Side tables of the sessions workload (tests/reliability/workload/*.sql).
-- Every call records its outcome in public.rel_events in the same transaction,
-- so what clients were told and what the extension stored can be compared.
-- :families slots, each holding the family currently used by "its" user.
CREATE EXTENSION IF NOT EXISTS pg_authguard;
DROP TABLE IF EXISTS public.rel_events, public.rel_slots;
CREATE TABLE public.rel_events (
    seq        bigserial PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    op         text NOT NULL,
    family_id  uuid,
    jti        uuid,      -- a jti handed out (minted or reissued)
    presented  uuid,      -- a jti only presented
    status     text
);
CREATE INDEX ON public.rel_events (family_id, seq);
CREATE TABLE public.rel_slots (slot int PRIMARY KEY, user_id uuid NOT NULL, family_id uuid);
INSERT INTO public.rel_slots (slot, user_id)
SELECT g, ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid FROM generate_series(1, :families) g;
-- A first family per slot.
WITH c AS (SELECT sl.slot, c.* FROM public.rel_slots sl, LATERAL authguard.create_session(sl.user_id) c),
     e AS (INSERT INTO public.rel_events (op, family_id, jti, status)
           SELECT 'created', family_id, jti, 'created' FROM c)
UPDATE public.rel_slots sl SET family_id = c.family_id FROM c WHERE c.slot = sl.slot;

-- A second device joining a slot's family; joining a revoked family is refused
-- with 28000, which is a correct answer, recorded as status 'join_refused'.
CREATE OR REPLACE FUNCTION public.rel_join(p_slot int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE sl public.rel_slots; c record;
BEGIN
    SELECT * INTO sl FROM public.rel_slots WHERE slot = p_slot;
    BEGIN
        SELECT * INTO c FROM authguard.create_session(sl.user_id, family_id => sl.family_id);
        INSERT INTO public.rel_events (op, family_id, jti, status) VALUES ('joined', c.family_id, c.jti, 'created');
    EXCEPTION WHEN invalid_authorization_specification THEN
        INSERT INTO public.rel_events (op, family_id, status) VALUES ('joined', sl.family_id, 'join_refused');
    END;
END $$;
