-- The README quickstart, end to end: login, validate, rotate, a client's own
-- concurrent refresh, replay, revocation, step-up, DPoP, cleanup, audit.
-- Start from an empty extension: the counts below are this scenario's own.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_authguard CASCADE;
CREATE EXTENSION pg_authguard;
RESET client_min_messages;
SET search_path = authguard, public;

-- 1. Login: a session, its family and the first refresh-token id (jti).
SELECT session_id AS sid, family_id AS fam, jti AS jti1
  FROM create_session('00000000-0000-4000-8000-000000000001',
                      user_agent => 'Mozilla/5.0 (X11)', ip => '203.0.113.77') \gset
SELECT expires_at > now() + interval '29 days' AS default_ttl_is_30_days
  FROM auth_sessions WHERE id = :'sid';

-- Only derived client data is stored: the device hash and the /24 network.
SELECT device_hash = authguard.device_hash('Mozilla/5.0 (X11)') AS device_hashed,
       last_ip_cidr
  FROM auth_sessions WHERE id = :'sid';

-- 2. Every request: validate the presented token.
SELECT valid, status, step_up_required FROM validate_session(:'fam', :'jti1');

-- 3. Refresh: the current jti rotates to a new one.
SELECT status, jti AS jti2 FROM rotate_session_token(:'fam', :'jti1') \gset
SELECT :'status' AS status, :'jti2' <> :'jti1' AS new_jti_minted;
SELECT status FROM validate_session(:'fam', :'jti1');   -- the old one is stale now
SELECT status FROM validate_session(:'fam', :'jti2');

-- 4. The client's own concurrent refresh with the parent token, inside
--    authguard.reuse_interval: it gets the already-minted jti back.
SELECT status, jti = :'jti2' AS same_jti_returned FROM rotate_session_token(:'fam', :'jti1');

-- 5. Step-up: a sensitive action needs a login younger than 5 minutes.
UPDATE auth_sessions SET auth_time = now() - interval '1 hour' WHERE id = :'sid';
SELECT valid, status, step_up_required
  FROM validate_session(:'fam', :'jti2', max_auth_age => interval '5 minutes');

-- 6. Replay: a token older than the immediate parent revokes the family.
SELECT status, jti AS jti3 FROM rotate_session_token(:'fam', :'jti2') \gset
SELECT status FROM rotate_session_token(:'fam', :'jti1');          -- grandparent
SELECT status FROM rotate_session_token(:'fam', :'jti3');          -- even the current one is dead now
SELECT status FROM validate_session(:'fam', :'jti3');
SELECT revoked_reason, reused_jti_of = :'jti1' AS replayed_jti_recorded
  FROM auth_sessions WHERE id = :'sid';
-- The seed's monitoring query, unchanged.
SELECT action, family_id = :'fam' AS this_family FROM auth_audit_log
 WHERE action = 'token_replay_detected' AND created_at > NOW() - INTERVAL '1 hour';
SELECT sessions, active_sessions, replay_detected FROM session_families WHERE family_id = :'fam';

-- 7. With the grace off, the parent is a replay at once.
SET authguard.reuse_interval = 0;
SELECT family_id AS fam2, jti AS k1 FROM create_session('00000000-0000-4000-8000-000000000002') \gset
SELECT jti AS k2 FROM rotate_session_token(:'fam2', :'k1') \gset
SELECT status FROM rotate_session_token(:'fam2', :'k1');
RESET authguard.reuse_interval;

-- 8. DPoP: a session bound to a key thumbprint refuses any other key (audited, not revoked).
SELECT family_id AS fam3, jti AS d1
  FROM create_session('00000000-0000-4000-8000-000000000003', dpop_jkt => 'thumb-A') \gset
SELECT status FROM rotate_session_token(:'fam3', :'d1', dpop_jkt => 'thumb-B');
SELECT status FROM rotate_session_token(:'fam3', :'d1');
SELECT status FROM validate_session(:'fam3', :'d1', dpop_jkt => 'thumb-B');
SELECT status FROM rotate_session_token(:'fam3', :'d1', dpop_jkt => 'thumb-A');
SELECT count(*) AS dpop_mismatches_audited FROM auth_audit_log
 WHERE action = 'dpop_mismatch' AND family_id = :'fam3';

-- 9. A second device joins the family; "log out everywhere else" keeps one family.
SELECT family_id AS fam4, jti AS e1 FROM create_session('00000000-0000-4000-8000-000000000004') \gset
SELECT jti AS e2 FROM create_session('00000000-0000-4000-8000-000000000004', family_id => :'fam4') \gset
SELECT family_id AS fam5 FROM create_session('00000000-0000-4000-8000-000000000004') \gset
SELECT sessions, active_sessions FROM session_families WHERE family_id = :'fam4';
SELECT status FROM rotate_session_token(:'fam4', :'e2');           -- rotates the second device only
SELECT status FROM validate_session(:'fam4', :'e1');
SELECT revoke_user_sessions('00000000-0000-4000-8000-000000000004', 'password_changed',
                            except_family => :'fam4') AS revoked_elsewhere;
SELECT count(*) AS still_active FROM active_sessions
 WHERE user_id = '00000000-0000-4000-8000-000000000004';
SELECT revoke_session_family(:'fam4', 'logout') AS logged_out,
       revoke_session_family(:'fam4', 'logout') AS again_is_a_no_op;

-- 10. Unknown families and expired sessions.
SELECT status FROM rotate_session_token('00000000-0000-4000-8000-00000000ffff', :'jti1');
SELECT valid, status FROM validate_session('00000000-0000-4000-8000-00000000ffff', :'jti1');
SELECT family_id AS fam6, jti AS x1
  FROM create_session('00000000-0000-4000-8000-000000000006', ttl => interval '1 hour') \gset
UPDATE auth_sessions SET expires_at = now() - interval '8 days' WHERE family_id = :'fam6';
SELECT status FROM rotate_session_token(:'fam6', :'x1');
SELECT status FROM validate_session(:'fam6', :'x1');

-- 11. Cleanup deletes what expired or was revoked more than `retention` ago.
UPDATE auth_sessions SET revoked_at = now() - interval '30 days' WHERE family_id = :'fam';
SELECT cleanup_expired_sessions(interval '7 days', batch_size => 1) AS deleted;
SELECT count(*) AS remaining_old FROM auth_sessions
 WHERE family_id IN (:'fam', :'fam6');
SELECT details->>'deleted' AS audited_deleted FROM auth_audit_log WHERE action = 'sessions_cleaned';

-- 12. Stats, and the audit trail's actions.
SELECT s->'active_sessions' AS active, s->'replays_24h' AS replays,
       s->'revocations_24h'->'password_changed' AS password_changed
  FROM session_stats() s;
SELECT action, count(*) FROM auth_audit_log GROUP BY action ORDER BY action;
-- The seed's other monitoring queries, unchanged.
SELECT count(*) FROM active_sessions WHERE user_id = '00000000-0000-4000-8000-000000000003';
SELECT sessions FROM session_families WHERE user_id = '00000000-0000-4000-8000-000000000003';
