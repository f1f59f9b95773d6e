-- A second device joins a slot's family (refused when the family is revoked).
\set s random(1, :families)
SELECT public.rel_join(:s);
