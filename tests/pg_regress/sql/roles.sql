-- The application role is confined to the functions; the tables are out of reach.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
DROP ROLE IF EXISTS regress_app;
DROP ROLE IF EXISTS regress_admin;
CREATE ROLE regress_app LOGIN NOSUPERUSER IN ROLE authguard_app;
CREATE ROLE regress_admin LOGIN NOSUPERUSER IN ROLE authguard_admin;
-- The SQLSTATE a statement fails with (message wording varies across majors).
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $f$;

SET ROLE regress_app;
SELECT family_id AS fam, jti FROM authguard.create_session('00000000-0000-4000-8000-0000000000d1') \gset
SELECT status FROM authguard.validate_session(:'fam', :'jti');
SELECT status FROM authguard.rotate_session_token(:'fam', :'jti');
SELECT authguard.handle_token_replay(:'jti', :'fam') AS replayed;
SELECT authguard.device_hash('ua') IS NOT NULL AS can_hash;
-- Denied: direct table access, views, admin functions.
SELECT count(*) FROM authguard.auth_sessions;
UPDATE authguard.auth_sessions SET revoked_at = NULL;
DELETE FROM authguard.auth_audit_log;
INSERT INTO authguard.auth_audit_log (action) VALUES ('forged');
SELECT count(*) FROM authguard.active_sessions;
SELECT authguard.cleanup_expired_sessions();
SELECT authguard.revoke_user_sessions('00000000-0000-4000-8000-0000000000d1');
SELECT authguard.session_stats();
-- Security-relevant settings cannot be changed by the app role.
SET authguard.reuse_interval = '1 day';
SET authguard.audit_rotations = off;
SET authguard.hash_key = 'x';
SELECT pg_temp.sqlstate_of('SHOW authguard.hash_key') AS show_hash_key,
       pg_temp.sqlstate_of('SHOW authguard.master_key') AS show_master_key,
       pg_temp.sqlstate_of($$SELECT current_setting('authguard.master_key_command')$$) AS read_master_key_command;
SELECT count(*) AS secret_settings_visible FROM pg_settings
 WHERE name IN ('authguard.hash_key', 'authguard.master_key', 'authguard.master_key_command');
RESET ROLE;

SET ROLE regress_admin;
SELECT count(*) > 0 AS admin_reads_audit FROM authguard.auth_audit_log;
SELECT count(*) >= 0 AS admin_reads_views FROM authguard.session_families;
SELECT authguard.cleanup_expired_sessions() >= 0 AS admin_cleans;
SELECT count(*) FROM authguard.auth_sessions;
RESET ROLE;

-- PUBLIC (no authguard role) gets nothing that touches the tables.
CREATE ROLE regress_nobody LOGIN NOSUPERUSER;
SET ROLE regress_nobody;
SELECT * FROM authguard.validate_session(:'fam', :'jti');
SELECT encode(authguard.sha256('abc'), 'hex') AS primitives_are_public;
RESET ROLE;
DROP ROLE regress_app, regress_admin, regress_nobody;
