-- revoke floor (F): the same writes in bare SQL: the family's UPDATE and the
-- family_revoked audit row (no advisory lock).
WITH u AS (
    UPDATE authguard.auth_sessions s SET revoked_at = now(), revoked_reason = 'bench'
      FROM bench.pairs p
     WHERE p.id = (SELECT nextval('bench.rv_seq'))
       AND s.family_id = p.family_id AND s.revoked_at IS NULL
    RETURNING s.user_id, s.family_id)
INSERT INTO authguard.auth_audit_log (action, user_id, family_id, details)
SELECT 'family_revoked', user_id, family_id, '{"reason": "bench", "sessions": 1}'::jsonb
  FROM u LIMIT 1
RETURNING family_id;
