-- revoke_session_family, PL/pgSQL baseline (B).
SELECT baseline.revoke_session_family(p.family_id, 'bench')
  FROM bench.pairs p WHERE p.id = (SELECT nextval('bench.rv_seq'));
