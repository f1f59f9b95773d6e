-- validate_session reads the live-jti index directly (src/session_probe.rs),
-- not through SPI. These are the cases where that read must agree with SQL:
-- another family's jti, a second device, revocation, this transaction's own
-- writes, a read-only transaction, and a DROP/CREATE EXTENSION in the same
-- backend (the cached relation and column numbers must be forgotten).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_authguard CASCADE;
CREATE EXTENSION pg_authguard;
RESET client_min_messages;
SET search_path = authguard, public;

SELECT family_id AS fam_a, jti AS jti_a FROM create_session('00000000-0000-4000-8000-0000000000a1') \gset
SELECT family_id AS fam_b, jti AS jti_b FROM create_session('00000000-0000-4000-8000-0000000000b1') \gset

-- A live jti presented with another (live) family is not valid for it.
SELECT valid, status, user_id IS NULL AS no_user FROM validate_session(:'fam_b', :'jti_a');
SELECT valid, status FROM validate_session(:'fam_a', :'jti_a');
-- ... nor with a family that does not exist.
SELECT valid, status FROM validate_session('00000000-0000-4000-8000-00000000dead', :'jti_a');

-- A second device of the same family: both current tokens are valid, each
-- for its own session.
SELECT session_id AS sid_a2, jti AS jti_a2
  FROM create_session('00000000-0000-4000-8000-0000000000a1', family_id => :'fam_a') \gset
SELECT valid, status, session_id = :'sid_a2' AS own_session FROM validate_session(:'fam_a', :'jti_a2');
SELECT valid, status, session_id <> :'sid_a2' AS own_session FROM validate_session(:'fam_a', :'jti_a');

-- This transaction's own rotation is seen by the next statement; rolled back,
-- the old token is current again.
BEGIN;
SELECT jti AS jti_a_new FROM rotate_session_token(:'fam_a', :'jti_a') \gset
SELECT status FROM validate_session(:'fam_a', :'jti_a_new');
SELECT status FROM validate_session(:'fam_a', :'jti_a');
ROLLBACK;
SELECT status FROM validate_session(:'fam_a', :'jti_a');
SELECT status FROM validate_session(:'fam_a', :'jti_a_new');

-- In one statement: the snapshot is the statement's, taken before the rotation.
SELECT r.status AS rotate_status, v.status AS validate_status_of_old_jti
  FROM rotate_session_token(:'fam_b', :'jti_b') r,
       LATERAL validate_session(:'fam_b', :'jti_b') v;

-- A read-only transaction answers too (as on a hot standby).
BEGIN TRANSACTION READ ONLY;
SELECT valid, status FROM validate_session(:'fam_a', :'jti_a');
COMMIT;

-- Revoked: the row left the live-jti index.
SELECT revoke_session_family(:'fam_a', 'logout') AS revoked;
SELECT valid, status FROM validate_session(:'fam_a', :'jti_a');
SELECT valid, status FROM validate_session(:'fam_a', :'jti_a2');

-- DROP and CREATE EXTENSION in this backend: new table, new index, new OIDs.
SET client_min_messages = warning;
DROP EXTENSION pg_authguard;
CREATE EXTENSION pg_authguard;
RESET client_min_messages;
SELECT valid, status FROM validate_session(:'fam_a', :'jti_a');
SELECT family_id AS fam_c, jti AS jti_c FROM create_session('00000000-0000-4000-8000-0000000000c1') \gset
SELECT valid, status FROM validate_session(:'fam_c', :'jti_c');

-- A column added to the table (a DBA's annotation) and dropped again: the
-- column numbers are resolved again and skip the dropped one.
ALTER TABLE auth_sessions ADD COLUMN note text;
SELECT valid, status FROM validate_session(:'fam_c', :'jti_c');
ALTER TABLE auth_sessions DROP COLUMN note;
SELECT valid, status FROM validate_session(:'fam_c', :'jti_c');
SET client_min_messages = warning;
DROP EXTENSION pg_authguard;
CREATE EXTENSION pg_authguard;
RESET client_min_messages;
