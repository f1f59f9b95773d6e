-- Bench data loader: fills authguard.auth_sessions and baseline.auth_sessions
-- with the same :scale sessions (one per family, ~3 per user, 5 % revoked by a
-- logout, half of them rotated once), and bench.pairs, the (id, family_id,
-- jti) table the pgbench scripts pick from with `\set id random(1, :nlive)`.
--
-- Run as superuser: psql -v scale=100000 -f bench/sql/load.sql
-- Secondary indexes are dropped while loading and rebuilt from their own
-- definitions (pg_get_indexdef), so both schemas end exactly as installed; that
-- keeps a 10 M load to a few minutes instead of random B-tree inserts.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

CREATE SCHEMA bench;

CREATE TABLE bench.saved_indexes AS
SELECT i.indexrelid::regclass::text AS idx, pg_get_indexdef(i.indexrelid) AS def
  FROM pg_index i
 WHERE i.indrelid IN ('authguard.auth_sessions'::regclass, 'baseline.auth_sessions'::regclass)
   AND NOT i.indisprimary;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT idx FROM bench.saved_indexes LOOP
        EXECUTE 'DROP INDEX ' || r.idx;
    END LOOP;
END $$;

CREATE UNLOGGED TABLE bench.seed AS
SELECT g                                                          AS n,
       gen_random_uuid()                                          AS id,
       ('00000000-0000-4000-8000-' || lpad(to_hex(g / 3), 12, '0'))::uuid AS user_id,
       gen_random_uuid()                                          AS family_id,
       gen_random_uuid()                                          AS current_jti,
       CASE WHEN g % 2 = 0 THEN gen_random_uuid() END             AS previous_jti,
       encode(pg_catalog.sha256(convert_to('Mozilla/5.0 device ' || (g % 5000), 'UTF8')), 'hex') AS device_hash,
       ('10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.0/24')::cidr AS last_ip_cidr,
       t                                                          AS auth_time,
       CASE WHEN g % 2 = 0 THEN t + (now() - t) * random() END    AS last_rotated_at,
       t + interval '30 days'                                     AS expires_at,
       CASE WHEN g % 20 = 0 THEN now() - random() * interval '1 day' END AS revoked_at,
       CASE WHEN g % 20 = 0 THEN 'logout' END                     AS revoked_reason
  FROM (SELECT g, now() - random() * interval '7 days' AS t
          FROM generate_series(1, :scale) g) s;

INSERT INTO authguard.auth_sessions
       (id, user_id, family_id, current_jti, previous_jti, device_hash, last_ip_cidr,
        auth_time, created_at, last_rotated_at, expires_at, revoked_at, revoked_reason,
        rotation_count)
SELECT id, user_id, family_id, current_jti, previous_jti, device_hash, last_ip_cidr,
       auth_time, auth_time, last_rotated_at, expires_at, revoked_at, revoked_reason,
       (previous_jti IS NOT NULL)::int
  FROM bench.seed;

INSERT INTO baseline.auth_sessions
       (id, user_id, family_id, current_jti, previous_jti, device_hash, last_ip_cidr,
        auth_time, created_at, last_rotated_at, expires_at, revoked_at, revoked_reason)
SELECT id, user_id, family_id, current_jti, previous_jti, device_hash, last_ip_cidr,
       auth_time, auth_time, last_rotated_at, expires_at, revoked_at, revoked_reason
  FROM bench.seed;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT def FROM bench.saved_indexes LOOP
        EXECUTE r.def;
    END LOOP;
END $$;

-- Live sessions in a random order (family ids are random), numbered 1..nlive.
CREATE TABLE bench.pairs (id int PRIMARY KEY, family_id uuid NOT NULL, jti uuid NOT NULL);
INSERT INTO bench.pairs
SELECT row_number() OVER (ORDER BY family_id), family_id, current_jti
  FROM bench.seed WHERE revoked_at IS NULL;
DROP TABLE bench.seed;

-- revoke_session_family takes families in order, each once: no call hits an
-- already-revoked family. run.sh re-arms it (and un-revokes) before each run.
CREATE SEQUENCE bench.rv_seq;

-- Wall time of one statement run inside the server (no client round trip).
CREATE FUNCTION bench.time_ms(q text, OUT ms float8, OUT result text)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
    t0 := clock_timestamp();
    EXECUTE q INTO result;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

-- This backend's memory from /proc: VmRSS counts touched shared buffers too,
-- RssAnon is private memory only (what a leak grows).
CREATE FUNCTION bench.mem_kb(field text) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT substring(pg_read_file('/proc/self/status') FROM field || ':\s+(\d+)')::bigint
$$;

VACUUM (ANALYZE) authguard.auth_sessions;
VACUUM (ANALYZE) baseline.auth_sessions;
VACUUM (ANALYZE) bench.pairs;
SELECT count(*) AS nlive FROM bench.pairs \gset
\echo nlive :nlive
