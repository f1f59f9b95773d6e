-- Invariants of a sessions workload: one row per invariant, "name|violations".
-- Every count must be 0. Needs the side table public.rel_events written by the
-- workload in the same transaction as each call (tests/reliability/workload.sql):
--   op: created | joined | rotate | replay_rotate | replay_handle | validate | revoke | revoke_user
--   family_id, jti (the jti returned: minted or reissued), status.
\pset footer off
WITH s AS (SELECT * FROM authguard.auth_sessions),
     a AS (SELECT * FROM authguard.auth_audit_log),
     replay_audits AS (SELECT family_id, count(*) n FROM a WHERE action = 'token_replay_detected' GROUP BY 1),
     replay_revokes AS (SELECT family_id, count(*) n FROM a
                         WHERE action = 'family_revoked' AND details->>'reason' = 'token_replay' GROUP BY 1),
     replay_revoked_fams AS (SELECT DISTINCT family_id FROM s WHERE revoked_reason = 'token_replay'),
     ev AS (SELECT * FROM public.rel_events)
SELECT 'no jti current in two live sessions',
       (SELECT count(*) FROM (SELECT current_jti FROM s WHERE revoked_at IS NULL
                               GROUP BY 1 HAVING count(*) > 1) d)
UNION ALL
SELECT 'no jti current in two sessions ever (live or revoked)',
       (SELECT count(*) FROM (SELECT current_jti FROM s GROUP BY 1 HAVING count(*) > 1) d)
UNION ALL
SELECT 'at most one replay audit per family',
       (SELECT count(*) FROM replay_audits WHERE n > 1)
UNION ALL
SELECT 'replay audited <=> family revoked for token_replay',
       (SELECT count(*) FROM replay_audits r FULL JOIN replay_revoked_fams f USING (family_id)
         WHERE r.family_id IS NULL OR f.family_id IS NULL)
UNION ALL
SELECT 'each replay audit has exactly one family_revoked(token_replay) audit',
       (SELECT count(*) FROM replay_audits r FULL JOIN replay_revokes v USING (family_id)
         WHERE r.n IS DISTINCT FROM v.n)
UNION ALL
SELECT 'no live session in a family revoked for token_replay',
       (SELECT count(*) FROM s JOIN replay_revoked_fams f USING (family_id) WHERE s.revoked_at IS NULL)
UNION ALL
SELECT 'reused_jti_of = the audited replayed jti',
       (SELECT count(*) FROM s JOIN a ON a.family_id = s.family_id AND a.action = 'token_replay_detected'
         WHERE s.revoked_reason = 'token_replay' AND s.reused_jti_of IS DISTINCT FROM a.jti)
UNION ALL
SELECT 'replays reported to clients = replay audit rows',
       abs((SELECT count(*) FROM ev WHERE status IN ('replay_detected', 'replay_true'))
           - (SELECT count(*) FROM a WHERE action = 'token_replay_detected'))
UNION ALL
SELECT 'no lost revocation (revoked families have no live session)',
       (SELECT count(*) FROM s WHERE s.revoked_at IS NULL
           AND s.family_id IN (SELECT family_id FROM ev WHERE op = 'revoke'))
UNION ALL
SELECT 'families are revoked whole (no family with both a revoked and a live session)',
       (SELECT count(*) FROM (SELECT family_id FROM s GROUP BY 1
                               HAVING bool_or(revoked_at IS NULL) AND bool_or(revoked_at IS NOT NULL)) d)
UNION ALL
SELECT 'every minted jti is unique',
       (SELECT count(*) FROM (SELECT jti FROM ev WHERE status IN ('rotated', 'created')
                               GROUP BY 1 HAVING count(*) > 1) d)
UNION ALL
SELECT 'every reissued jti was minted before',
       (SELECT count(*) FROM ev r WHERE r.status = 'reissued'
           AND NOT EXISTS (SELECT 1 FROM ev m WHERE m.jti = r.jti AND m.status IN ('rotated', 'created')))
UNION ALL
SELECT 'no audit row carries a live current jti',
       (SELECT count(*) FROM a JOIN s ON s.current_jti = a.jti AND s.revoked_at IS NULL);
