-- Bad input: each call fails with a clear message and a SQLSTATE, or answers
-- with a documented status. Never a crash.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_authguard;
RESET client_min_messages;
SET search_path = authguard, public;
-- Runs a statement and shows the SQLSTATE and message it failed with.
CREATE FUNCTION pg_temp.fails_with(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $f$;
-- Only the SQLSTATE, for the server's own errors, whose wording varies across majors.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $f$;
SELECT family_id AS fam, jti FROM create_session('00000000-0000-4000-8000-0000000000aa') \gset

-- Required arguments must not be NULL (22004).
SELECT pg_temp.fails_with($q$SELECT * FROM create_session(NULL)$q$);
SELECT pg_temp.fails_with(format($q$SELECT * FROM rotate_session_token(NULL, %L)$q$, :'jti'));
SELECT pg_temp.fails_with(format($q$SELECT * FROM rotate_session_token(%L, NULL)$q$, :'fam'));
SELECT pg_temp.fails_with(format($q$SELECT * FROM validate_session(NULL, %L)$q$, :'jti'));
SELECT pg_temp.fails_with(format($q$SELECT handle_token_replay(NULL, %L)$q$, :'fam'));
SELECT pg_temp.fails_with($q$SELECT revoke_session_family(NULL)$q$);
SELECT pg_temp.fails_with($q$SELECT revoke_user_sessions(NULL)$q$);

-- Absurd intervals and sizes (22023 / 22015).
SELECT pg_temp.fails_with($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', ttl => interval '-1 day')$q$);
SELECT pg_temp.fails_with($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', ttl => interval '0')$q$);
SELECT pg_temp.fails_with($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', ttl => interval '500 years')$q$);
SELECT pg_temp.fails_with($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', auth_time => now() + interval '1 day')$q$);
SELECT pg_temp.fails_with($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', dpop_jkt => '')$q$);
SELECT pg_temp.fails_with(format($q$SELECT * FROM validate_session(%L, %L, max_auth_age => interval '-5 minutes')$q$, :'fam', :'jti'));
SELECT pg_temp.fails_with($q$SELECT cleanup_expired_sessions(interval '-1 day')$q$);
SELECT pg_temp.fails_with($q$SELECT cleanup_expired_sessions(interval '1 day', 0)$q$);
SELECT pg_temp.fails_with($q$SELECT cleanup_expired_sessions(interval '1 day', -5)$q$);
SELECT pg_temp.fails_with($q$SELECT cleanup_expired_sessions(NULL)$q$);
SELECT pg_temp.fails_with(format($q$SELECT revoke_session_family(%L, '')$q$, :'fam'));
SELECT pg_temp.fails_with($q$SELECT ip_to_cidr('10.0.0.1', 40)$q$);
SELECT pg_temp.fails_with($q$SELECT ip_to_cidr('::1', NULL, 129)$q$);

-- Families belong to one user and stay dead once revoked (28000).
SELECT pg_temp.fails_with(format($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000bb', family_id => %L)$q$, :'fam'));
SELECT revoke_session_family(:'fam') AS revoked;
SELECT pg_temp.fails_with(format($q$SELECT * FROM create_session('00000000-0000-4000-8000-0000000000aa', family_id => %L)$q$, :'fam'));

-- Settings are validated by Postgres itself (22023 out of range, 42602 a misspelt name under the reserved prefix).
SELECT pg_temp.sqlstate_of($$SET authguard.reuse_interval = '-1'$$) AS negative_grace,
       pg_temp.sqlstate_of($$SET authguard.ipv4_prefix = 33$$) AS prefix_33,
       pg_temp.sqlstate_of($$SET authguard.idle_timeout = '-5min'$$) AS negative_idle,
       pg_temp.sqlstate_of($$SET authguard.no_such_setting = 1$$) AS misspelt;

-- Unknown families are statuses, not errors.
SELECT status FROM rotate_session_token(gen_random_uuid(), gen_random_uuid());
SELECT handle_token_replay(gen_random_uuid(), gen_random_uuid()) AS replay_on_unknown_family;
SELECT revoke_session_family(gen_random_uuid()) AS revoked_unknown;

-- A NULL optional argument means "absent".
SELECT family_id AS fam2, jti AS j2 FROM create_session('00000000-0000-4000-8000-0000000000cc',
       ttl => NULL, user_agent => NULL, ip => NULL, dpop_jkt => NULL, family_id => NULL) \gset
SELECT status FROM rotate_session_token(:'fam2', :'j2', NULL, NULL, NULL);
SELECT device_hash IS NULL AS no_device, last_ip_cidr IS NULL AS no_ip FROM auth_sessions WHERE family_id = :'fam2';
SELECT ip_to_cidr(NULL) IS NULL AS null_ip;
SELECT device_hash(NULL) IS NULL AS null_fingerprint;
