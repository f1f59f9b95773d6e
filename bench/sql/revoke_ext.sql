-- revoke_session_family, extension (A): the next unrevoked family, each once.
SELECT authguard.revoke_session_family(p.family_id, 'bench')
  FROM bench.pairs p WHERE p.id = (SELECT nextval('bench.rv_seq'));
