-- Sessions: one row per device login, grouped into families (login lineages).
-- Column names are those of the original migration so that its monitoring
-- queries run unchanged with authguard on the search_path.

CREATE TABLE authguard.auth_sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    family_id       uuid NOT NULL,
    current_jti     uuid NOT NULL,
    previous_jti    uuid,
    reused_jti_of   uuid,
    device_hash     varchar(64),
    last_ip_cidr    cidr,
    auth_time       timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_rotated_at timestamptz,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    dpop_jkt        text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    rotation_count  bigint NOT NULL DEFAULT 0,
    CONSTRAINT auth_sessions_revocation_has_reason
        CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
COMMENT ON TABLE authguard.auth_sessions IS
    'pg_authguard sessions; write only through the authguard functions';

-- A jti is current in at most one live session (and rotation finds it here).
CREATE UNIQUE INDEX auth_sessions_live_jti
    ON authguard.auth_sessions (current_jti) WHERE revoked_at IS NULL;
CREATE INDEX auth_sessions_family ON authguard.auth_sessions (family_id);
CREATE INDEX auth_sessions_user ON authguard.auth_sessions (user_id);
-- Keyset-paginated cleanup walks these two.
CREATE INDEX auth_sessions_expires ON authguard.auth_sessions (expires_at, id);
CREATE INDEX auth_sessions_revoked ON authguard.auth_sessions (revoked_at, id)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE authguard.auth_audit_log (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    action     text NOT NULL,
    user_id    uuid,
    family_id  uuid,
    session_id uuid,
    jti        uuid,
    details    jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE authguard.auth_audit_log IS
    'pg_authguard security events: session_created, token_replay_detected, family_revoked, '
    'user_sessions_revoked, dpop_mismatch, sessions_cleaned (token_rotated/token_reissued with authguard.audit_rotations)';
CREATE INDEX auth_audit_log_action_time ON authguard.auth_audit_log (action, created_at);
CREATE INDEX auth_audit_log_family ON authguard.auth_audit_log (family_id);

-- Keep the data through pg_dump/pg_restore.
SELECT pg_catalog.pg_extension_config_dump('authguard.auth_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('authguard.auth_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('authguard.auth_audit_log_id_seq', '');

CREATE VIEW authguard.active_sessions AS
SELECT id, user_id, family_id, current_jti, device_hash, last_ip_cidr, auth_time,
       created_at, last_rotated_at, expires_at, dpop_jkt, metadata
  FROM authguard.auth_sessions
 WHERE revoked_at IS NULL AND expires_at > now();

CREATE VIEW authguard.session_families AS
SELECT family_id, user_id,
       count(*)                                                     AS sessions,
       count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > now()) AS active_sessions,
       min(created_at)                                              AS first_created_at,
       max(coalesce(last_rotated_at, created_at))                   AS last_activity_at,
       max(revoked_at)                                              AS revoked_at,
       bool_or(reused_jti_of IS NOT NULL)                           AS replay_detected
  FROM authguard.auth_sessions
 GROUP BY family_id, user_id;
