-- Roles are cluster-wide objects: create them only when missing, so that
-- CREATE EXTENSION works in a second database of the same cluster.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authguard_app') THEN
        CREATE ROLE authguard_app NOLOGIN;
        COMMENT ON ROLE authguard_app IS
            'pg_authguard: may call the session and validation functions; no direct table access';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authguard_admin') THEN
        CREATE ROLE authguard_admin NOLOGIN;
        COMMENT ON ROLE authguard_admin IS
            'pg_authguard: revocation, cleanup, monitoring views and keyring management';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_auth_members m
          JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
          JOIN pg_catalog.pg_roles a ON a.oid = m.member
         WHERE r.rolname = 'authguard_app' AND a.rolname = 'authguard_admin')
    THEN
        GRANT authguard_app TO authguard_admin;
    END IF;
END
$roles$;
