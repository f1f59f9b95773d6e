-- A second CREATE EXTENSION in another database of the same cluster works:
-- the cluster-wide roles already exist and are reused.
-- Quiet: whether the extension already exists depends on which scenario ran first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
SELECT count(*) AS roles FROM pg_roles WHERE rolname IN ('authguard_app', 'authguard_admin');
DROP DATABASE IF EXISTS authguard_regress_second;
CREATE DATABASE authguard_regress_second;
\c authguard_regress_second
CREATE EXTENSION pg_authguard;
SELECT extname, extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'pg_authguard';
SELECT status FROM authguard.create_session('00000000-0000-4000-8000-0000000000e1') c,
       LATERAL authguard.validate_session(c.family_id, c.jti);
DROP EXTENSION pg_authguard;
CREATE EXTENSION pg_authguard;
SELECT count(*) AS roles FROM pg_roles WHERE rolname IN ('authguard_app', 'authguard_admin');
\c authguard_regress
DROP DATABASE authguard_regress_second;
