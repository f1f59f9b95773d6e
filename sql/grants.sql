-- Privileges, applied after every object exists.
-- Nothing in the schema is reachable by PUBLIC except the pure primitives,
-- which touch no table (hashes, MACs, AEAD, X25519), like pgcrypto's.
REVOKE ALL ON ALL TABLES IN SCHEMA authguard FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA authguard FROM PUBLIC;
-- USAGE for everyone: the pure primitives are public like pgcrypto's; every
-- function that touches a table is revoked from PUBLIC below.
GRANT USAGE ON SCHEMA authguard TO PUBLIC;

DO $grants$
DECLARE
    f regprocedure;
    -- Functions that read or write extension tables, and who may call them.
    app_functions text[] := ARRAY[
        'create_session', 'rotate_session_token', 'validate_session', '_validate_session',
        'handle_token_replay', 'revoke_session_family',
        'encrypt_with_key', 'decrypt_with_key', 'key_version_of'];
    admin_functions text[] := ARRAY[
        'revoke_user_sessions', 'cleanup_expired_sessions', 'session_stats',
        'create_key', 'rotate_key', 'reencrypt', 'reencrypt_column', 'rotate_master_key',
        '_reencrypt_needed'];
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace
           AND (p.proname = ANY (app_functions) OR p.proname = ANY (admin_functions)
                OR p.proname LIKE '\_%')
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace AND p.proname = ANY (app_functions)
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO authguard_app', f);
    END LOOP;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'authguard'::regnamespace AND p.proname = ANY (admin_functions)
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO authguard_admin', f);
    END LOOP;
END
$grants$;

-- Monitoring views and the audit log are for administrators, read-only.
GRANT SELECT ON authguard.active_sessions, authguard.session_families,
                authguard.auth_audit_log TO authguard_admin;
