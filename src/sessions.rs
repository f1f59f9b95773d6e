//! Sessions: login, refresh-token rotation with replay detection, validation,
//! family and user revocation, cleanup, stats.
//!
//! A *family* is one login lineage; it holds one or more sessions (devices).
//! A jti is *current* when it is the `current_jti` of a live (unrevoked)
//! session of its family. Every status is decided under row locks on the
//! family's rows, so concurrent refreshes serialize (READ COMMITTED; under
//! REPEATABLE READ / SERIALIZABLE the loser gets SQLSTATE 40001 and retries).
//!
//! The decisions themselves ([`decide_rotation`], [`decide_validation`]) are
//! plain functions over loaded rows, unit-tested without Postgres.

use crate::errors::{AuthGuardError, OrReport, Result};
use crate::gucs;
use crate::privacy::{self, CidrDatum, InetDatum};
use crate::session_probe;
use crate::spi_plans::{plan, Statement};
use crate::srf::{self, cell};
use crate::uuid_gen;
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{JsonB, Uuid};

const UUID: pg_sys::Oid = pg_sys::UUIDOID;
const TEXT: pg_sys::Oid = pg_sys::TEXTOID;
const TSTZ: pg_sys::Oid = pg_sys::TIMESTAMPTZOID;
const INTERVAL: pg_sys::Oid = pg_sys::INTERVALOID;
const CIDR: pg_sys::Oid = pg_sys::CIDROID;
const INT8: pg_sys::Oid = pg_sys::INT8OID;

/// Microseconds since 2000-01-01, Postgres' TimestampTz representation.
pub type Micros = i64;

/// Upper bound for any interval argument: a century. Anything longer is a bug.
const MAX_INTERVAL_MICROS: i128 = 100 * 365 * 86_400 * 1_000_000;

/// An interval as microseconds (months counted as 30 days, like `justify_days`).
pub fn interval_micros(iv: &Interval) -> i128 {
    i128::from(iv.months()) * 30 * 86_400_000_000 + i128::from(iv.days()) * 86_400_000_000
        + i128::from(iv.micros())
}

/// Validate an interval argument: strictly positive (or >= 0) and at most a century.
pub fn check_interval(name: &'static str, iv: &Interval, allow_zero: bool) -> Result<i64> {
    let us = interval_micros(iv);
    if us < 0 || (us == 0 && !allow_zero) {
        let must = if allow_zero { "must not be negative" } else { "must be positive" };
        return Err(AuthGuardError::InvalidParameter(format!("{name} {must}").into()));
    }
    if us > MAX_INTERVAL_MICROS {
        return Err(AuthGuardError::IntervalOutOfRange(
            format!("{name} is longer than 100 years").into(),
        ));
    }
    Ok(us as i64)
}

/// An interval of exactly `us` microseconds (pgrx's from_micros goes through f64).
fn micros_interval(us: i64) -> Interval {
    Interval::new(0, 0, us).expect("a single-field interval has no mixed signs")
}

fn now() -> Micros {
    // now(): the transaction's start, as every SQL statement here sees it.
    unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
}

fn ts(t: Option<TimestampWithTimeZone>) -> Option<Micros> {
    t.map(pg_sys::TimestampTz::from)
}

fn require<T>(v: Option<T>, name: &'static str) -> Result<T> {
    v.ok_or(AuthGuardError::NullArgument(name))
}

/// Writers refuse early and clearly on a standby or in a read-only transaction.
fn require_writable(what: &'static str) -> Result<()> {
    // SAFETY: plain reads of backend-global state.
    let read_only = unsafe { pg_sys::RecoveryInProgress() || pg_sys::XactReadOnly };
    if read_only { Err(AuthGuardError::ReadOnly(what)) } else { Ok(()) }
}

// ----------------------------------------------------------------- decisions

/// What the decision functions need to know of one session row.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: [u8; 16],
    pub user_id: [u8; 16],
    pub current_jti: [u8; 16],
    pub previous_jti: Option<[u8; 16]>,
    pub created_at: Micros,
    pub last_rotated_at: Option<Micros>,
    pub expires_at: Micros,
    pub revoked: bool,
    pub dpop_jkt: Option<String>,
    pub auth_time: Micros,
}

/// The clock and policy a decision is made under.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub now: Micros,
    /// 0 disables the reuse grace.
    pub reuse_interval: Micros,
    /// 0 disables the idle timeout.
    pub idle_timeout: Micros,
}

impl SessionRow {
    fn is_expired(&self, p: &Policy) -> bool {
        self.expires_at <= p.now
            || (p.idle_timeout > 0
                && self.last_rotated_at.unwrap_or(self.created_at) <= p.now - p.idle_timeout)
    }

    /// Bound to a key thumbprint and another (or none) was presented.
    fn dpop_mismatch(&self, presented: Option<&str>) -> bool {
        matches!(&self.dpop_jkt, Some(bound) if Some(bound.as_str()) != presented)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    NotFound,
    Revoked { session: Option<usize> },
    Expired { session: usize },
    DpopMismatch { session: usize },
    Rotate { session: usize },
    Reissue { session: usize },
    Replay { session: usize },
}

/// Decide what a refresh presenting `jti` means for a family whose rows are
/// `rows` (all of them, locked). Order follows the baseline: existence,
/// expiry, DPoP binding, then current / immediate parent / replay.
pub fn decide_rotation(rows: &[SessionRow], jti: &[u8; 16], dpop: Option<&str>, p: &Policy) -> Rotation {
    if rows.is_empty() {
        return Rotation::NotFound;
    }
    let live = || rows.iter().enumerate().filter(|(_, r)| !r.revoked);
    let gate = |i: usize, then: Rotation| {
        if rows[i].is_expired(p) {
            Rotation::Expired { session: i }
        } else if rows[i].dpop_mismatch(dpop) {
            Rotation::DpopMismatch { session: i }
        } else {
            then
        }
    };
    if let Some((i, _)) = live().find(|(_, r)| &r.current_jti == jti) {
        return gate(i, Rotation::Rotate { session: i });
    }
    if p.reuse_interval > 0 {
        let parent = live().find(|(_, r)| {
            r.previous_jti.as_ref() == Some(jti)
                && r.last_rotated_at.is_some_and(|t| t > p.now - p.reuse_interval)
        });
        if let Some((i, _)) = parent {
            return gate(i, Rotation::Reissue { session: i });
        }
    }
    // Not current, not a young parent: a replay if anything is still alive.
    let newest_live = live()
        .filter(|(_, r)| !r.is_expired(p))
        .max_by_key(|(_, r)| r.created_at)
        .map(|(i, _)| i);
    match newest_live {
        Some(i) if rows[i].dpop_mismatch(dpop) => Rotation::DpopMismatch { session: i },
        Some(i) => Rotation::Replay { session: i },
        None => match live().max_by_key(|(_, r)| r.created_at) {
            Some((i, _)) => Rotation::Expired { session: i },
            None => {
                let owner = rows.iter().position(|r| &r.current_jti == jti || r.previous_jti.as_ref() == Some(jti));
                Rotation::Revoked { session: owner }
            }
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    NotFound,
    Revoked { session: Option<usize> },
    Expired { session: usize },
    StaleToken { session: usize },
    DpopMismatch { session: usize },
    Valid { session: usize, step_up_required: bool },
}

impl Validation {
    pub fn status(&self) -> &'static str {
        match self {
            Validation::NotFound => "not_found",
            Validation::Revoked { .. } => "revoked",
            Validation::Expired { .. } => "expired",
            Validation::StaleToken { .. } => "stale_token",
            Validation::DpopMismatch { .. } => "dpop_mismatch",
            Validation::Valid { .. } => "valid",
        }
    }
    fn session(&self) -> Option<usize> {
        match *self {
            Validation::NotFound => None,
            Validation::Revoked { session } => session,
            Validation::Expired { session }
            | Validation::StaleToken { session }
            | Validation::DpopMismatch { session }
            | Validation::Valid { session, .. } => Some(session),
        }
    }
}

/// Read-only counterpart of [`decide_rotation`] for `validate_session`.
pub fn decide_validation(
    rows: &[SessionRow],
    jti: &[u8; 16],
    dpop: Option<&str>,
    max_auth_age: Option<Micros>,
    p: &Policy,
) -> Validation {
    if rows.is_empty() {
        return Validation::NotFound;
    }
    let live = || rows.iter().enumerate().filter(|(_, r)| !r.revoked);
    if let Some((i, r)) = live().find(|(_, r)| &r.current_jti == jti) {
        return if r.is_expired(p) {
            Validation::Expired { session: i }
        } else if r.dpop_mismatch(dpop) {
            Validation::DpopMismatch { session: i }
        } else {
            let step_up_required = max_auth_age.is_some_and(|age| r.auth_time < p.now - age);
            Validation::Valid { session: i, step_up_required }
        };
    }
    let newest = |it: &mut dyn Iterator<Item = (usize, &SessionRow)>| it.max_by_key(|(_, r)| r.created_at).map(|(i, _)| i);
    if let Some(i) = newest(&mut live().filter(|(_, r)| !r.is_expired(p))) {
        return Validation::StaleToken { session: i };
    }
    if let Some(i) = newest(&mut live()) {
        return Validation::Expired { session: i };
    }
    let owner = rows.iter().position(|r| &r.current_jti == jti || r.previous_jti.as_ref() == Some(jti));
    Validation::Revoked { session: owner }
}

// ---------------------------------------------------------------- statements

// SQL run by SECURITY DEFINER code: every name is schema-qualified, operators
// included, so a caller's search_path can never redirect a lookup.
const FAMILY_ROWS_FOR_UPDATE: Statement = Statement {
    key: "family_rows_for_update",
    sql: "SELECT id, user_id, current_jti, previous_jti, created_at, last_rotated_at, \
          expires_at, revoked_at IS NOT NULL, dpop_jkt, auth_time \
          FROM authguard.auth_sessions WHERE family_id OPERATOR(pg_catalog.=) $1 ORDER BY id FOR UPDATE",
    args: &[UUID],
    mutating: true,
};

const FAMILY_ROWS: Statement = Statement {
    key: "family_rows",
    sql: "SELECT id, user_id, current_jti, previous_jti, created_at, last_rotated_at, \
          expires_at, revoked_at IS NOT NULL, dpop_jkt, auth_time \
          FROM authguard.auth_sessions WHERE family_id OPERATOR(pg_catalog.=) $1",
    args: &[UUID],
    mutating: false,
};

/// The hot read: one probe of the live-jti unique index.
const LIVE_BY_JTI: Statement = Statement {
    key: "live_by_jti",
    sql: "SELECT id, user_id, current_jti, previous_jti, created_at, last_rotated_at, \
          expires_at, false, dpop_jkt, auth_time, family_id \
          FROM authguard.auth_sessions \
          WHERE current_jti OPERATOR(pg_catalog.=) $1 AND revoked_at IS NULL",
    args: &[UUID],
    mutating: false,
};

/// The hot write: rotation of a current, unexpired, key-matching token in one
/// statement. A concurrent rotation of the same row makes the loser's
/// re-check (EvalPlanQual) fail, sending it to the locked slow path.
const ROTATE_FAST: Statement = Statement {
    key: "rotate_fast",
    sql: "UPDATE authguard.auth_sessions s \
             SET previous_jti = s.current_jti, current_jti = $3, \
                 last_rotated_at = pg_catalog.now(), rotation_count = s.rotation_count OPERATOR(pg_catalog.+) 1, \
                 device_hash = COALESCE($4, s.device_hash), last_ip_cidr = COALESCE($5, s.last_ip_cidr) \
           WHERE s.current_jti OPERATOR(pg_catalog.=) $2 AND s.revoked_at IS NULL \
             AND s.family_id OPERATOR(pg_catalog.=) $1 \
             AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now() \
             AND ($6 IS NULL OR COALESCE(s.last_rotated_at, s.created_at) \
                  OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) $6)) \
             AND (s.dpop_jkt IS NULL OR s.dpop_jkt OPERATOR(pg_catalog.=) $7) \
          RETURNING s.id, s.user_id, s.expires_at",
    args: &[UUID, UUID, UUID, TEXT, CIDR, INTERVAL, TEXT],
    mutating: true,
};

/// Rotation of a row already locked by the slow path.
const ROTATE_BY_ID: Statement = Statement {
    key: "rotate_by_id",
    sql: "UPDATE authguard.auth_sessions s \
             SET previous_jti = s.current_jti, current_jti = $2, \
                 last_rotated_at = pg_catalog.now(), rotation_count = s.rotation_count OPERATOR(pg_catalog.+) 1, \
                 device_hash = COALESCE($3, s.device_hash), last_ip_cidr = COALESCE($4, s.last_ip_cidr) \
           WHERE s.id OPERATOR(pg_catalog.=) $1 RETURNING s.expires_at",
    args: &[UUID, UUID, TEXT, CIDR],
    mutating: true,
};

/// A new session and its `session_created` audit row, in one statement.
const INSERT_SESSION: Statement = Statement {
    key: "insert_session",
    sql: "WITH created AS ( \
            INSERT INTO authguard.auth_sessions \
              (id, user_id, family_id, current_jti, device_hash, last_ip_cidr, auth_time, created_at, expires_at, dpop_jkt) \
            VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, pg_catalog.now()), pg_catalog.now(), \
                    pg_catalog.now() OPERATOR(pg_catalog.+) $8, $9) \
            RETURNING expires_at), \
          audited AS ( \
            INSERT INTO authguard.auth_audit_log (action, user_id, family_id, session_id, details) \
            VALUES ('session_created', $2, $3, $1, \
                    pg_catalog.jsonb_build_object('joined_family', $10, 'dpop_bound', $9 IS NOT NULL))) \
          SELECT expires_at FROM created",
    args: &[UUID, UUID, UUID, UUID, TEXT, CIDR, TSTZ, INTERVAL, TEXT, pg_sys::BOOLOID],
    mutating: true,
};

const REVOKE_FAMILY: Statement = Statement {
    key: "revoke_family",
    // One statement: the revocation and its `family_revoked` audit row. The
    // rows are locked in `id` order first: `revoke_user_sessions` takes no
    // family locks (a user may have more families than the lock table holds)
    // and locks each family's rows in that order, so a plain UPDATE here
    // (family-index order) deadlocked with it on multi-device families
    // (caught by the soak test).
    sql: "WITH revoked AS ( \
            UPDATE authguard.auth_sessions \
               SET revoked_at = pg_catalog.now(), revoked_reason = $2, reused_jti_of = COALESCE($3, reused_jti_of) \
             WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY( \
                     SELECT id FROM authguard.auth_sessions \
                      WHERE family_id OPERATOR(pg_catalog.=) $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE)) \
               AND revoked_at IS NULL \
            RETURNING user_id), \
          summary AS ( \
            SELECT pg_catalog.count(*)::pg_catalog.int4 AS n, (SELECT user_id FROM revoked LIMIT 1) AS user_id \
              FROM revoked), \
          audited AS ( \
            INSERT INTO authguard.auth_audit_log (action, user_id, family_id, details) \
            SELECT 'family_revoked', summary.user_id, $1, \
                   pg_catalog.jsonb_build_object('reason', $2, 'sessions', summary.n) \
              FROM summary WHERE summary.n OPERATOR(pg_catalog.>) 0) \
          SELECT n, user_id FROM summary",
    args: &[UUID, TEXT, UUID],
    mutating: true,
};

/// The user's families with a live session, sorted (the order they are revoked in).
const USER_FAMILIES: Statement = Statement {
    key: "user_families",
    sql: "SELECT DISTINCT family_id FROM authguard.auth_sessions \
           WHERE user_id OPERATOR(pg_catalog.=) $1 AND revoked_at IS NULL \
             AND ($2 IS NULL OR family_id OPERATOR(pg_catalog.<>) $2) \
           ORDER BY family_id",
    args: &[UUID, UUID],
    // Not read-only: each pass must take a fresh snapshot to see joins.
    mutating: true,
};

/// One family's share of a user revocation: its rows are locked in `id` order,
/// the order every other family path locks them in.
const REVOKE_USER_FAMILY: Statement = Statement {
    key: "revoke_user_family",
    sql: "UPDATE authguard.auth_sessions \
             SET revoked_at = pg_catalog.now(), revoked_reason = $3 \
           WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY( \
                   SELECT id FROM authguard.auth_sessions \
                    WHERE family_id OPERATOR(pg_catalog.=) $2 AND user_id OPERATOR(pg_catalog.=) $1 \
                      AND revoked_at IS NULL ORDER BY id FOR UPDATE)) \
             AND revoked_at IS NULL \
          RETURNING family_id",
    args: &[UUID, UUID, TEXT],
    mutating: true,
};

const AUDIT: Statement = Statement {
    key: "audit",
    sql: "INSERT INTO authguard.auth_audit_log (action, user_id, family_id, session_id, jti, details) \
          VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'::pg_catalog.jsonb))",
    args: &[TEXT, UUID, UUID, UUID, UUID, pg_sys::JSONBOID],
    mutating: true,
};

/// One keyset-paginated batch of cleanup over `(expires_at, id)`. The locked
/// rows are deleted by their TIDs (a TID scan), not joined back by id: that
/// join cost one primary-key probe per row, half of each batch's time.
const CLEANUP_EXPIRED_BATCH: Statement = Statement {
    key: "cleanup_expired_batch",
    sql: "WITH batch AS ( \
            SELECT ctid, id, expires_at FROM authguard.auth_sessions \
             WHERE expires_at OPERATOR(pg_catalog.<) $1 \
               AND (expires_at, id) OPERATOR(pg_catalog.>) ($2, $3) \
             ORDER BY expires_at, id LIMIT $4 FOR UPDATE SKIP LOCKED), \
          gone AS (DELETE FROM authguard.auth_sessions s \
                    WHERE s.ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT ctid FROM batch)) RETURNING 1) \
          SELECT (SELECT pg_catalog.count(*) FROM gone), \
                 (SELECT pg_catalog.count(*) FROM batch), l.expires_at, l.id \
            FROM (SELECT expires_at, id FROM batch ORDER BY expires_at DESC, id DESC LIMIT 1) l \
           RIGHT JOIN (SELECT 1) one ON true",
    args: &[TSTZ, TSTZ, UUID, INT8],
    mutating: true,
};

const CLEANUP_REVOKED_BATCH: Statement = Statement {
    key: "cleanup_revoked_batch",
    sql: "WITH batch AS ( \
            SELECT ctid, id, revoked_at FROM authguard.auth_sessions \
             WHERE revoked_at OPERATOR(pg_catalog.<) $1 \
               AND (revoked_at, id) OPERATOR(pg_catalog.>) ($2, $3) \
             ORDER BY revoked_at, id LIMIT $4 FOR UPDATE SKIP LOCKED), \
          gone AS (DELETE FROM authguard.auth_sessions s \
                    WHERE s.ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT ctid FROM batch)) RETURNING 1) \
          SELECT (SELECT pg_catalog.count(*) FROM gone), \
                 (SELECT pg_catalog.count(*) FROM batch), l.revoked_at, l.id \
            FROM (SELECT revoked_at, id FROM batch ORDER BY revoked_at DESC, id DESC LIMIT 1) l \
           RIGHT JOIN (SELECT 1) one ON true",
    args: &[TSTZ, TSTZ, UUID, INT8],
    mutating: true,
};

/// Only run by `session_stats`, whose search_path is pinned to pg_catalog.
const STATS: Statement = Statement {
    key: "session_stats",
    sql: "WITH live AS (SELECT family_id, user_id FROM authguard.auth_sessions \
                         WHERE revoked_at IS NULL AND expires_at > now()) \
          SELECT jsonb_build_object( \
            'active_sessions', (SELECT count(*) FROM live), \
            'active_families', (SELECT count(DISTINCT family_id) FROM live), \
            'active_users', (SELECT count(DISTINCT user_id) FROM live), \
            'sessions_created_24h', (SELECT count(*) FROM authguard.auth_sessions \
                                      WHERE created_at > now() - interval '24 hours'), \
            'sessions_rotated_24h', (SELECT count(*) FROM authguard.auth_sessions \
                                      WHERE last_rotated_at > now() - interval '24 hours'), \
            'replays_24h', (SELECT count(*) FROM authguard.auth_audit_log \
                             WHERE action = 'token_replay_detected' \
                               AND created_at > now() - interval '24 hours'), \
            'revocations_24h', COALESCE((SELECT jsonb_object_agg(revoked_reason, n) FROM ( \
                                 SELECT revoked_reason, count(*) AS n FROM authguard.auth_sessions \
                                  WHERE revoked_at > now() - interval '24 hours' \
                                  GROUP BY revoked_reason) r), '{}'::jsonb))",
    args: &[],
    mutating: false,
};

// ------------------------------------------------------------------- helpers

fn arg<'a, T: pgrx::IntoDatum>(v: T) -> DatumWithOid<'a> {
    v.into()
}

fn uuid_bytes(u: &Uuid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b.copy_from_slice(u.as_bytes());
    b
}

fn row_from_tuple(t: &pgrx::spi::SpiHeapTupleData<'_>) -> Result<SessionRow> {
    let uuid = |i| -> Result<[u8; 16]> {
        Ok(uuid_bytes(&t.get::<Uuid>(i)?.ok_or_else(|| AuthGuardError::Internal("NULL uuid".into()))?))
    };
    let time = |i| -> Result<Option<Micros>> { Ok(ts(t.get::<TimestampWithTimeZone>(i)?)) };
    Ok(SessionRow {
        id: uuid(1)?,
        user_id: uuid(2)?,
        current_jti: uuid(3)?,
        previous_jti: t.get::<Uuid>(4)?.map(|u| uuid_bytes(&u)),
        created_at: time(5)?.unwrap_or(0),
        last_rotated_at: time(6)?,
        expires_at: time(7)?.unwrap_or(0),
        revoked: t.get::<bool>(8)?.unwrap_or(false),
        dpop_jkt: t.get::<String>(9)?,
        auth_time: time(10)?.unwrap_or(0),
    })
}

fn load_rows(client: &SpiClient<'_>, stmt: &Statement, key: &Uuid) -> Result<Vec<SessionRow>> {
    let p = plan(client, stmt)?;
    let table = client.select(p, None, &[arg(*key)])?;
    let mut rows = Vec::with_capacity(table.len());
    for t in table {
        rows.push(row_from_tuple(&t)?);
    }
    Ok(rows)
}

fn policy() -> Policy {
    Policy {
        now: now(),
        reuse_interval: gucs::reuse_interval_micros(),
        idle_timeout: gucs::idle_timeout_micros(),
    }
}

fn audit(
    client: &SpiClient<'_>,
    action: &str,
    user_id: Option<Uuid>,
    family_id: Option<Uuid>,
    session_id: Option<Uuid>,
    jti: Option<Uuid>,
    details: serde_json::Value,
) -> Result<()> {
    let p = plan(client, &AUDIT)?;
    client.select(
        p,
        None,
        &[arg(action), arg(user_id), arg(family_id), arg(session_id), arg(jti), arg(JsonB(details))],
    )?;
    Ok(())
}

/// Advisory-lock classes of pg_authguard's locks ("agrd", "agre").
const FAMILY_LOCK_CLASS: i32 = 0x6167_7264;
const USER_LOCK_CLASS: i32 = 0x6167_7265;

/// A transaction-level advisory lock on (`class`, a fold of `id`'s bytes),
/// taken by a direct call: no SPI, no plan. Folding collisions only make two
/// unrelated ids share a lock.
fn advisory_xact_lock(class: i32, id: Uuid) {
    let b = id.as_bytes();
    let key = i32::from_le_bytes([b[0] ^ b[4] ^ b[8] ^ b[12], b[1] ^ b[5] ^ b[9] ^ b[13],
                                  b[2] ^ b[6] ^ b[10] ^ b[14], b[3] ^ b[7] ^ b[11] ^ b[15]]);
    // SAFETY: the server's own pg_advisory_xact_lock(int4, int4) with two int4 Datums.
    unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::pg_advisory_xact_lock_int4,
            &[class.into_datum(), key.into_datum()],
        );
    }
}

/// Serialize the writers of one family with a transaction-level advisory lock.
///
/// Lock order is always: this lock, then the family's rows in `id` order
/// (`revoke_user_sessions` takes no family lock, only the rows in that order).
/// Every writer follows it, rotation's fast path included: a rotation that
/// loses a race keeps the row lock its UPDATE took while re-checking the newer
/// row version, so taking the family lock only afterwards could deadlock with
/// another loser. It also makes a revocation see a session that joined the
/// family just before (its statement snapshot is taken after the wait).
fn lock_family(family_id: Uuid) {
    advisory_xact_lock(FAMILY_LOCK_CLASS, family_id);
}

/// Serialize user-wide revocations of one user (they lock many families'
/// rows; two of them interleaving their passes could wait on each other).
fn lock_user(user_id: Uuid) {
    advisory_xact_lock(USER_LOCK_CLASS, user_id);
}

/// Revoke every live session of a family; audits `family_revoked` when any was.
fn revoke_family(
    client: &SpiClient<'_>,
    family_id: Uuid,
    reason: &str,
    reused_jti: Option<Uuid>,
) -> Result<(i32, Option<Uuid>)> {
    lock_family(family_id);
    let p = plan(client, &REVOKE_FAMILY)?;
    let table = client.select(p, None, &[arg(family_id), arg(reason), arg(reused_jti)])?;
    let row = table.first();
    Ok((row.get::<i32>(1)?.unwrap_or(0), row.get::<Uuid>(2)?))
}

fn cidr_of(ip: Option<InetDatum>) -> Result<Option<CidrDatum>> {
    ip.map(|ip| privacy::network_of(&ip, None, None)).transpose()
}

fn hash_device(user_agent: Option<&str>) -> Result<Option<String>> {
    user_agent.map(|ua| privacy::keyed_hash_hex(ua.as_bytes())).transpose()
}

fn tstz(m: Micros) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(m).ok()
}

// ------------------------------------------------------------- SQL functions


/// A new login. Returns the session, its family and its first jti.
/// No `SET search_path` (see `rotate_session_token`): its SQL is fully qualified.
#[pg_extern(sql = r#"
CREATE FUNCTION authguard.create_session(
    user_id uuid, ttl interval DEFAULT NULL, user_agent text DEFAULT NULL, ip inet DEFAULT NULL,
    dpop_jkt text DEFAULT NULL, family_id uuid DEFAULT NULL, auth_time timestamptz DEFAULT now())
RETURNS TABLE (session_id uuid, family_id uuid, jti uuid, expires_at timestamptz)
VOLATILE SECURITY DEFINER ROWS 1
LANGUAGE c AS 'MODULE_PATHNAME', 'create_session_wrapper';
"#)]
#[allow(clippy::too_many_arguments)]
pub fn create_session(
    user_id: Option<Uuid>,
    ttl: Option<Interval>,
    user_agent: Option<&str>,
    ip: Option<InetDatum>,
    dpop_jkt: Option<&str>,
    family_id: Option<Uuid>,
    auth_time: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) {
    let (session_id, family, jti, expires_at) =
        create_session_impl(user_id, ttl, user_agent, ip, dpop_jkt, family_id, auth_time).or_report();
    // SAFETY: our own call's fcinfo; four cells for four declared columns.
    unsafe { srf::return_cells(fcinfo, [cell(session_id), cell(family), cell(jti), cell(expires_at)]) }
}

fn create_session_impl(
    user_id: Option<Uuid>,
    ttl: Option<Interval>,
    user_agent: Option<&str>,
    ip: Option<InetDatum>,
    dpop_jkt: Option<&str>,
    family_id: Option<Uuid>,
    auth_time: Option<TimestampWithTimeZone>,
) -> Result<(Uuid, Uuid, Uuid, Option<TimestampWithTimeZone>)> {
    require_writable("create_session")?;
    let user_id = require(user_id, "user_id")?;
    let ttl = match ttl {
        Some(iv) => {
            check_interval("ttl", &iv, false)?;
            iv
        }
        None => micros_interval(gucs::session_ttl_micros()),
    };
    if let Some(t) = ts(auth_time) {
        if t > now() + 300 * 1_000_000 {
            return Err(AuthGuardError::InvalidParameter(
                "auth_time lies in the future (more than 5 minutes of clock skew)".into(),
            ));
        }
    }
    if dpop_jkt.is_some_and(|j| j.is_empty() || j.len() > 512) {
        return Err(AuthGuardError::InvalidParameter(
            "dpop_jkt must be a JWK thumbprint of 1 to 512 characters".into(),
        ));
    }
    let device = hash_device(user_agent)?;
    let cidr = cidr_of(ip)?;
    let session_id = uuid_gen::new_v4()?;
    let jti = uuid_gen::new_v4()?;

    Spi::connect_mut(|client| {
        let family = match family_id {
            None => uuid_gen::new_v4()?,
            Some(f) => {
                // Joining an existing family: it must be this user's and alive.
                lock_family(f);
                let rows = load_rows(client, &FAMILY_ROWS_FOR_UPDATE, &f)?;
                if rows.iter().any(|r| r.user_id != uuid_bytes(&user_id)) {
                    return Err(AuthGuardError::NotAuthorized(
                        "family_id belongs to another user".into(),
                    ));
                }
                if !rows.is_empty() && rows.iter().all(|r| r.revoked) {
                    return Err(AuthGuardError::NotAuthorized(
                        "family_id names a revoked family; start a new login".into(),
                    ));
                }
                f
            }
        };
        let p = plan(client, &INSERT_SESSION)?;
        let table = client.select(
            p,
            None,
            &[
                arg(session_id),
                arg(user_id),
                arg(family),
                arg(jti),
                arg(device.clone()),
                arg(cidr),
                arg(auth_time),
                arg(ttl),
                arg(dpop_jkt),
                arg(family_id.is_some()),
            ],
        )?;
        let expires_at = table.first().get_one::<TimestampWithTimeZone>()?;
        Ok((session_id, family, jti, expires_at))
    })
}


/// Refresh: rotate the family's token when `jti` is current. See the crate
/// README for every status. No `SET search_path` here: it would cost a GUC
/// save/restore per call; every name in its SQL is schema-qualified instead.
#[pg_extern(sql = r#"
CREATE FUNCTION authguard.rotate_session_token(
    family_id uuid, jti uuid, user_agent text DEFAULT NULL, ip inet DEFAULT NULL, dpop_jkt text DEFAULT NULL)
RETURNS TABLE (status text, session_id uuid, jti uuid, expires_at timestamptz)
VOLATILE SECURITY DEFINER ROWS 1
LANGUAGE c AS 'MODULE_PATHNAME', 'rotate_session_token_wrapper';
"#)]
pub fn rotate_session_token(
    family_id: Option<Uuid>,
    jti: Option<Uuid>,
    user_agent: Option<&str>,
    ip: Option<InetDatum>,
    dpop_jkt: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) {
    let (status, session_id, new_jti, expires_at) = rotate_impl(family_id, jti, user_agent, ip, dpop_jkt).or_report();
    // SAFETY: our own call's fcinfo; four cells for four declared columns.
    unsafe { srf::return_cells(fcinfo, [cell(status), cell(session_id), cell(new_jti), cell(expires_at)]) }
}

fn rotate_impl(
    family_id: Option<Uuid>,
    jti: Option<Uuid>,
    user_agent: Option<&str>,
    ip: Option<InetDatum>,
    dpop_jkt: Option<&str>,
) -> Result<(&'static str, Option<Uuid>, Option<Uuid>, Option<TimestampWithTimeZone>)> {
    require_writable("rotate_session_token")?;
    let family_id = require(family_id, "family_id")?;
    let jti = require(jti, "jti")?;
    let device = hash_device(user_agent)?;
    let cidr = cidr_of(ip)?;
    let new_jti = uuid_gen::new_v4()?;
    let idle = gucs::idle_timeout_micros();
    let idle_arg: Option<Interval> = (idle > 0).then(|| micros_interval(idle));

    // The family lock comes first, before the fast path's UPDATE: when that
    // UPDATE waits for a concurrent rotation of the row and its re-check then
    // fails, Postgres keeps the row locked; taking the family lock only
    // afterwards (in the slow path) inverted the lock order against
    // revocations and joins, which hold the family lock and wait for the rows.
    lock_family(family_id);
    Spi::connect_mut(|client| {
        // Fast path: one UPDATE decides `rotated` for the common case.
        let fast = plan(client, &ROTATE_FAST)?;
        let table = client.update(
            fast,
            None,
            &[arg(family_id), arg(jti), arg(new_jti), arg(device.clone()), arg(cidr.as_ref().map(|c| c.clone_datum())), arg(idle_arg), arg(dpop_jkt)],
        )?;
        if let Some(t) = table.into_iter().next() {
            let session_id = t.get::<Uuid>(1)?;
            let user_id = t.get::<Uuid>(2)?;
            let expires_at = t.get::<TimestampWithTimeZone>(3)?;
            if gucs::AUDIT_ROTATIONS.get() {
                audit(client, "token_rotated", user_id, Some(family_id), session_id, Some(jti), serde_json::json!({}))?;
            }
            return Ok(("rotated", session_id, Some(new_jti), expires_at));
        }

        // Slow path: lock the whole family's rows (the family lock is held) and decide.
        let rows = load_rows(client, &FAMILY_ROWS_FOR_UPDATE, &family_id)?;
        let decision = decide_rotation(&rows, &uuid_bytes(&jti), dpop_jkt, &policy());
        let sid = |i: usize| Some(Uuid::from_bytes(rows[i].id));
        let uid = |i: usize| Some(Uuid::from_bytes(rows[i].user_id));
        let exp = |i: usize| tstz(rows[i].expires_at);
        Ok(match decision {
            Rotation::NotFound => ("not_found", None, None, None),
            Rotation::Revoked { session } => ("revoked", session.and_then(sid), None, session.and_then(exp)),
            Rotation::Expired { session } => ("expired", sid(session), None, exp(session)),
            Rotation::DpopMismatch { session } => {
                // The presented jti may be the session's live one: the audit
                // log never holds a live token id (only dead ones), so it is
                // recorded only when it is not current.
                let current = rows.iter().any(|r| !r.revoked && r.current_jti == uuid_bytes(&jti));
                audit(
                    client,
                    "dpop_mismatch",
                    uid(session),
                    Some(family_id),
                    sid(session),
                    (!current).then_some(jti),
                    serde_json::json!({ "presented": dpop_jkt.is_some(), "operation": "rotate",
                                        "jti_current": current }),
                )?;
                ("dpop_mismatch", sid(session), None, exp(session))
            }
            Rotation::Rotate { session } => {
                let p = plan(client, &ROTATE_BY_ID)?;
                let t = client.update(p, None, &[arg(sid(session)), arg(new_jti), arg(device), arg(cidr.as_ref().map(|c| c.clone_datum()))])?;
                let expires_at = t.first().get_one::<TimestampWithTimeZone>()?;
                if gucs::AUDIT_ROTATIONS.get() {
                    audit(client, "token_rotated", uid(session), Some(family_id), sid(session), Some(jti), serde_json::json!({}))?;
                }
                ("rotated", sid(session), Some(new_jti), expires_at)
            }
            Rotation::Reissue { session } => {
                // Hand back the token the concurrent winner minted; mint nothing.
                let current = Some(Uuid::from_bytes(rows[session].current_jti));
                if gucs::AUDIT_ROTATIONS.get() {
                    audit(client, "token_reissued", uid(session), Some(family_id), sid(session), Some(jti), serde_json::json!({}))?;
                }
                ("reissued", sid(session), current, exp(session))
            }
            Rotation::Replay { session } => {
                replay(client, family_id, jti, &rows, session)?;
                ("replay_detected", sid(session), None, exp(session))
            }
        })
    })
}

/// Revoke a family on a replayed token and audit it. Must commit with the
/// caller's transaction: it is reported as a status, never an error.
fn replay(client: &SpiClient<'_>, family_id: Uuid, jti: Uuid, rows: &[SessionRow], session: usize) -> Result<()> {
    let live = rows.iter().filter(|r| !r.revoked).count();
    let was_parent = rows.iter().any(|r| r.previous_jti == Some(uuid_bytes(&jti)));
    audit(
        client,
        "token_replay_detected",
        Some(Uuid::from_bytes(rows[session].user_id)),
        Some(family_id),
        Some(Uuid::from_bytes(rows[session].id)),
        Some(jti),
        serde_json::json!({ "live_sessions": live, "was_parent": was_parent }),
    )?;
    revoke_family(client, family_id, "token_replay", Some(jti))?;
    Ok(())
}

/// True when `jti` is not the current token of the family's live sessions:
/// the family is then revoked (reason `token_replay`) and the event audited.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn handle_token_replay(jti: Option<Uuid>, family_id: Option<Uuid>) -> bool {
    (|| -> Result<bool> {
        require_writable("handle_token_replay")?;
        let jti = require(jti, "jti")?;
        let family_id = require(family_id, "family_id")?;
        Spi::connect_mut(|client| {
            lock_family(family_id);
            let rows = load_rows(client, &FAMILY_ROWS_FOR_UPDATE, &family_id)?;
            let live: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].revoked).collect();
            let is_current = live.iter().any(|&i| rows[i].current_jti == uuid_bytes(&jti));
            match live.iter().copied().max_by_key(|&i| rows[i].created_at) {
                Some(newest) if !is_current => {
                    replay(client, family_id, jti, &rows, newest)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    })()
    .or_report()
}


// The per-request check. Read-only: it runs on a hot standby and never writes.
//
// `validate_session` is a LANGUAGE sql wrapper (invoker rights, STABLE, not
// strict, no SET clause) around `_validate_session`, which returns the answer
// as ONE composite value. Postgres inlines such a wrapper into the caller's
// query (inline_set_returning_function), so `FROM t, LATERAL
// authguard.validate_session(...)` costs one plain function call per row: no
// Function Scan node, no result TupleDesc built at each executor start, no
// tuplestore, no value-per-call SRF protocol. Those cost about a tenth of the
// call on the benchmark (docs/benchmarks.md).
extension_sql!(
    r#"
CREATE TYPE authguard.session_validation AS (
    valid boolean, status text, user_id uuid, session_id uuid, step_up_required boolean);
"#,
    name = "session_validation_type",
    requires = ["sessions_schema"]
);

extension_sql!(
    r#"
CREATE FUNCTION authguard.validate_session(
    family_id uuid, jti uuid, dpop_jkt text DEFAULT NULL, max_auth_age interval DEFAULT NULL)
RETURNS TABLE (valid boolean, status text, user_id uuid, session_id uuid, step_up_required boolean)
LANGUAGE sql STABLE
AS $$
    SELECT (r).valid, (r).status, (r).user_id, (r).session_id, (r).step_up_required
      FROM (SELECT authguard._validate_session($1, $2, $3, $4) AS r OFFSET 0) s
$$;
"#,
    name = "validate_session_wrapper",
    requires = [_validate_session]
);

/// The C entry point `validate_session_wrapper` that 0.1.0 bound
/// `authguard.validate_session` to. A database keeps calling it after the new
/// library is installed until `ALTER EXTENSION pg_authguard UPDATE` replaces
/// the function with the SQL wrapper above, so the symbol must stay exported.
/// No SQL is generated for it.
#[pg_extern(sql = "-- validate_session_wrapper: exported for databases still at 0.1.0 (see src/sessions.rs)")]
pub fn validate_session(
    family_id: Option<Uuid>,
    jti: Option<Uuid>,
    dpop_jkt: Option<&str>,
    max_auth_age: Option<Interval>,
    fcinfo: pg_sys::FunctionCallInfo,
) {
    let (valid, status, user_id, session_id, step_up) =
        validate_impl(family_id, jti, dpop_jkt, max_auth_age).or_report();
    // SAFETY: our own call's fcinfo; five cells for the five columns 0.1.0 declared.
    unsafe {
        srf::return_cells(fcinfo, [cell(valid), cell(status), cell(user_id), cell(session_id), cell(step_up)])
    }
}

/// The answer of `validate_session` as one composite value (see above).
#[pg_extern(stable, security_definer, requires = ["session_validation_type"])]
pub fn _validate_session(
    family_id: Option<Uuid>,
    jti: Option<Uuid>,
    dpop_jkt: default!(Option<&str>, "NULL"),
    max_auth_age: default!(Option<Interval>, "NULL"),
    fcinfo: pg_sys::FunctionCallInfo,
) -> pgrx::composite_type!('static, "authguard.session_validation") {
    let (valid, status, user, session, step_up) = validate_impl(family_id, jti, dpop_jkt, max_auth_age).or_report();
    // The planner already resolved the result type: read it from the call
    // expression instead of looking the type up by name on every call.
    // SAFETY: our own call's fcinfo.
    let typoid = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    validation_tuple(typoid, valid, status, user, session, step_up).or_report()
}

fn validation_tuple(
    rettype: pg_sys::Oid,
    valid: bool,
    status: &'static str,
    user: Option<Uuid>,
    session: Option<Uuid>,
    step_up: bool,
) -> Result<pgrx::heap_tuple::PgHeapTuple<'static, pgrx::AllocatedByRust>> {
    use pgrx::IntoDatum;
    // Called without a call expression (e.g. through DirectFunctionCall):
    // find the row type by name.
    let typoid = if rettype != pg_sys::InvalidOid {
        rettype
    } else {
        unsafe {
            let ns = pg_sys::get_namespace_oid(c"authguard".as_ptr(), false);
            pg_sys::GetSysCacheOid(
                pg_sys::SysCacheIdentifier::TYPENAMENSP as _,
                pg_sys::Anum_pg_type_oid as _,
                pg_sys::Datum::from(c"session_validation".as_ptr()),
                pg_sys::Datum::from(ns),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
            )
        }
    };
    if typoid == pg_sys::InvalidOid {
        return Err(AuthGuardError::Internal("type authguard.session_validation is missing".into()));
    }
    let datums = [
        valid.into_datum(),
        status.into_datum(),
        user.into_datum(),
        session.into_datum(),
        step_up.into_datum(),
    ];
    unsafe {
        let desc = pgrx::PgTupleDesc::from_pg(pg_sys::lookup_rowtype_tupdesc(typoid, -1));
        pgrx::heap_tuple::PgHeapTuple::from_datums(desc, datums)
            .map_err(|e| AuthGuardError::Internal(format!("session_validation: {e}").into()))
    }
}

fn validate_impl(
    family_id: Option<Uuid>,
    jti: Option<Uuid>,
    dpop_jkt: Option<&str>,
    max_auth_age: Option<Interval>,
) -> Result<(bool, &'static str, Option<Uuid>, Option<Uuid>, bool)> {
    let family_id = require(family_id, "family_id")?;
    let jti = require(jti, "jti")?;
    let max_age = max_auth_age.map(|iv| check_interval("max_auth_age", &iv, true)).transpose()?;
    let p = policy();
    // Hot path: the live-jti index, probed directly (no SPI, no executor).
    let mut rows = match session_probe::live_session_by_jti(&jti, &family_id) {
        Ok(hit) => hit.into_iter().collect(),
        Err(()) => Spi::connect(|client| -> Result<Vec<SessionRow>> {
            let stmt = plan(client, &LIVE_BY_JTI)?;
            let mut rows = Vec::with_capacity(1);
            for t in client.select(stmt, None, &[arg(jti)])? {
                if t.get::<Uuid>(11)? == Some(family_id) {
                    rows.push(row_from_tuple(&t)?);
                }
            }
            Ok(rows)
        })?,
    };
    if rows.is_empty() {
        // Not a current jti of the family: load the family to say why.
        rows = Spi::connect(|client| load_rows(client, &FAMILY_ROWS, &family_id))?;
    }
    let v = decide_validation(&rows, &uuid_bytes(&jti), dpop_jkt, max_age, &p);
    let (user, session) = match v.session() {
        Some(i) => (Some(Uuid::from_bytes(rows[i].user_id)), Some(Uuid::from_bytes(rows[i].id))),
        None => (None, None),
    };
    let step_up = matches!(v, Validation::Valid { step_up_required: true, .. });
    Ok((matches!(v, Validation::Valid { .. }), v.status(), user, session, step_up))
}

/// Revoke every live session of a family. Idempotent: 0 when nothing was live.
/// No `SET search_path` (see `rotate_session_token`): its SQL is fully qualified.
#[pg_extern(volatile, security_definer)]
pub fn revoke_session_family(family_id: Option<Uuid>, reason: default!(Option<&str>, "'revoked'")) -> i32 {
    (|| -> Result<i32> {
        require_writable("revoke_session_family")?;
        let family_id = require(family_id, "family_id")?;
        let reason = check_reason(reason)?;
        Spi::connect_mut(|client| Ok(revoke_family(client, family_id, reason, None)?.0))
    })()
    .or_report()
}

fn check_reason(reason: Option<&str>) -> Result<&str> {
    let reason = reason.unwrap_or("revoked");
    if reason.is_empty() || reason.len() > 200 {
        return Err(AuthGuardError::InvalidParameter("reason must be 1 to 200 characters".into()));
    }
    Ok(reason)
}

/// "Log out everywhere (else)": revoke all live sessions of a user, except one
/// family when given.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn revoke_user_sessions(
    user_id: Option<Uuid>,
    reason: default!(Option<&str>, "'revoked'"),
    except_family: default!(Option<Uuid>, "NULL"),
) -> i32 {
    (|| -> Result<i32> {
        require_writable("revoke_user_sessions")?;
        let user_id = require(user_id, "user_id")?;
        let reason = check_reason(reason)?;
        Spi::connect_mut(|client| {
            // One user revocation at a time per user; then family by family,
            // each UPDATE walking the family index like every other family
            // path, so rows are locked in the same order as a join or refresh
            // holding that family does (one UPDATE over the user's rows, in
            // user-index order, deadlocked with them under load). Not family
            // locks: a user may have more families than the lock table holds.
            //
            // A second device joining meanwhile held its family's rows; the
            // UPDATE waited for them and could not see the joined session, nor
            // logins made meanwhile. So list the live families again with a
            // fresh snapshot (READ COMMITTED) until none is left: joins that
            // come later wait for the rows revoked here and are refused.
            // Bounded: only logins made during the previous pass keep it going.
            lock_user(user_id);
            let fp = plan(client, &USER_FAMILIES)?;
            let per_family = plan(client, &REVOKE_USER_FAMILY)?;
            let mut revoked: Vec<Uuid> = Vec::new();
            for _pass in 0..100 {
                let mut families = Vec::new();
                for t in client.select(fp, None, &[arg(user_id), arg(except_family)])? {
                    if let Some(f) = t.get::<Uuid>(1)? {
                        families.push(f);
                    }
                }
                if families.is_empty() {
                    break;
                }
                for f in families {
                    pgrx::check_for_interrupts!();
                    for t in client.update(per_family, None, &[arg(user_id), arg(f), arg(reason)])? {
                        if let Some(f) = t.get::<Uuid>(1)? {
                            revoked.push(f);
                        }
                    }
                }
            }
            let n = revoked.len() as i32;
            let families: std::collections::BTreeSet<String> = revoked.iter().map(|f| f.to_string()).collect();
            if n > 0 {
                audit(
                    client,
                    "user_sessions_revoked",
                    Some(user_id),
                    None,
                    None,
                    None,
                    serde_json::json!({ "reason": reason, "sessions": n, "families": families.len(),
                                        "except_family": except_family.map(|f| f.to_string()) }),
                )?;
            }
            Ok(n)
        })
    })()
    .or_report()
}

/// Delete sessions expired or revoked more than `retention` ago, `batch_size`
/// rows per statement (locked rows are skipped), returning the total.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn cleanup_expired_sessions(
    retention: default!(Option<Interval>, "'7 days'"),
    batch_size: default!(Option<i32>, "10000"),
) -> i64 {
    (|| -> Result<i64> {
        require_writable("cleanup_expired_sessions")?;
        let retention = require(retention, "retention")?;
        let retention_us = check_interval("retention", &retention, true)?;
        let batch = require(batch_size, "batch_size")?;
        if batch <= 0 {
            return Err(AuthGuardError::InvalidParameter("batch_size must be positive".into()));
        }
        let cutoff = tstz(now() - retention_us);
        Spi::connect_mut(|client| {
            let mut total = 0i64;
            for stmt in [&CLEANUP_EXPIRED_BATCH, &CLEANUP_REVOKED_BATCH] {
                let p = plan(client, stmt)?;
                // Keyset cursor: start below every row, advance to the last key of each batch.
                let mut after = (Some(TimestampWithTimeZone::negative_infinity()), Some(Uuid::from_bytes([0; 16])));
                loop {
                    pgrx::check_for_interrupts!();
                    let t = client.update(p, None, &[arg(cutoff), arg(after.0), arg(after.1), arg(i64::from(batch))])?;
                    let t = t.first();
                    let deleted = t.get::<i64>(1)?.unwrap_or(0);
                    let scanned = t.get::<i64>(2)?.unwrap_or(0);
                    total += deleted;
                    if scanned < i64::from(batch) {
                        break;
                    }
                    after = (t.get::<TimestampWithTimeZone>(3)?, t.get::<Uuid>(4)?);
                }
            }
            if total > 0 {
                audit(
                    client,
                    "sessions_cleaned",
                    None,
                    None,
                    None,
                    None,
                    serde_json::json!({ "deleted": total, "retention_seconds": retention_us / 1_000_000, "batch_size": batch }),
                )?;
            }
            Ok(total)
        })
    })()
    .or_report()
}

/// Active sessions, families and users, and the last 24 hours of activity.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn session_stats() -> JsonB {
    (|| -> Result<JsonB> {
        Spi::connect(|client| {
            let p = plan(client, &STATS)?;
            client
                .select(p, None, &[])?
                .first()
                .get_one::<JsonB>()?
                .ok_or_else(|| AuthGuardError::Internal("session_stats returned no row".into()))
        })
    })()
    .or_report()
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    const S: Micros = 1_000_000;

    fn row(id: u8, jti: u8, prev: Option<u8>, created: Micros) -> SessionRow {
        SessionRow {
            id: [id; 16],
            user_id: [9; 16],
            current_jti: [jti; 16],
            previous_jti: prev.map(|p| [p; 16]),
            created_at: created,
            last_rotated_at: prev.map(|_| created + 10 * S),
            expires_at: created + 3600 * S,
            revoked: false,
            dpop_jkt: None,
            auth_time: created,
        }
    }

    fn pol(now: Micros) -> Policy {
        Policy { now, reuse_interval: 10 * S, idle_timeout: 0 }
    }

    #[test]
    fn empty_family_is_not_found() {
        assert_eq!(decide_rotation(&[], &[1; 16], None, &pol(0)), Rotation::NotFound);
        assert_eq!(decide_validation(&[], &[1; 16], None, None, &pol(0)), Validation::NotFound);
    }

    #[test]
    fn current_jti_rotates_and_validates() {
        let rows = [row(1, 2, None, 0)];
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(5 * S)), Rotation::Rotate { session: 0 });
        assert_eq!(
            decide_validation(&rows, &[2; 16], None, None, &pol(5 * S)),
            Validation::Valid { session: 0, step_up_required: false }
        );
    }

    #[test]
    fn parent_within_grace_is_reissued_and_after_it_is_a_replay() {
        let rows = [row(1, 3, Some(2), 0)]; // rotated at 10 s
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(15 * S)), Rotation::Reissue { session: 0 });
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(20 * S)), Rotation::Replay { session: 0 });
        let no_grace = Policy { reuse_interval: 0, ..pol(11 * S) };
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &no_grace), Rotation::Replay { session: 0 });
    }

    #[test]
    fn grandparent_is_a_replay_even_within_grace() {
        let rows = [row(1, 3, Some(2), 0)];
        assert_eq!(decide_rotation(&rows, &[1; 16], None, &pol(11 * S)), Rotation::Replay { session: 0 });
    }

    #[test]
    fn revoked_family_reports_revoked_not_replay() {
        let mut r = row(1, 3, Some(2), 0);
        r.revoked = true;
        assert_eq!(decide_rotation(&[r.clone()], &[3; 16], None, &pol(11 * S)), Rotation::Revoked { session: Some(0) });
        assert_eq!(decide_rotation(&[r.clone()], &[7; 16], None, &pol(11 * S)), Rotation::Revoked { session: None });
        assert_eq!(
            decide_validation(&[r], &[3; 16], None, None, &pol(11 * S)),
            Validation::Revoked { session: Some(0) }
        );
    }

    #[test]
    fn expiry_absolute_and_idle() {
        let rows = [row(1, 2, None, 0)];
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(3600 * S)), Rotation::Expired { session: 0 });
        let idle = Policy { idle_timeout: 60 * S, ..pol(61 * S) };
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &idle), Rotation::Expired { session: 0 });
        assert_eq!(decide_validation(&rows, &[2; 16], None, None, &idle), Validation::Expired { session: 0 });
        // An unknown jti against an expired family is expired, not a replay.
        assert_eq!(decide_rotation(&rows, &[8; 16], None, &pol(3601 * S)), Rotation::Expired { session: 0 });
    }

    #[test]
    fn dpop_binding_is_enforced_before_rotation() {
        let mut r = row(1, 2, None, 0);
        r.dpop_jkt = Some("thumb".into());
        let rows = [r];
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(S)), Rotation::DpopMismatch { session: 0 });
        assert_eq!(decide_rotation(&rows, &[2; 16], Some("other"), &pol(S)), Rotation::DpopMismatch { session: 0 });
        assert_eq!(decide_rotation(&rows, &[2; 16], Some("thumb"), &pol(S)), Rotation::Rotate { session: 0 });
        assert_eq!(
            decide_validation(&rows, &[2; 16], Some("x"), None, &pol(S)),
            Validation::DpopMismatch { session: 0 }
        );
    }

    #[test]
    fn stale_token_and_step_up() {
        let rows = [row(1, 3, Some(2), 0)];
        assert_eq!(decide_validation(&rows, &[2; 16], None, None, &pol(11 * S)), Validation::StaleToken { session: 0 });
        assert_eq!(
            decide_validation(&rows, &[3; 16], None, Some(5 * S), &pol(11 * S)),
            Validation::Valid { session: 0, step_up_required: true }
        );
        assert_eq!(
            decide_validation(&rows, &[3; 16], None, Some(60 * S), &pol(11 * S)),
            Validation::Valid { session: 0, step_up_required: false }
        );
    }

    #[test]
    fn multi_device_family_rotates_the_matching_session() {
        let rows = [row(1, 2, None, 0), row(4, 5, None, S)];
        assert_eq!(decide_rotation(&rows, &[5; 16], None, &pol(2 * S)), Rotation::Rotate { session: 1 });
        assert_eq!(decide_rotation(&rows, &[2; 16], None, &pol(2 * S)), Rotation::Rotate { session: 0 });
        assert_eq!(decide_rotation(&rows, &[6; 16], None, &pol(2 * S)), Rotation::Replay { session: 1 });
    }

    #[test]
    fn interval_checks() {
        let iv = |m, d, us| Interval::new(m, d, us).unwrap();
        assert!(check_interval("ttl", &iv(0, 0, -1), false).is_err());
        assert!(check_interval("ttl", &iv(0, 0, 0), false).is_err());
        assert_eq!(check_interval("r", &iv(0, 0, 0), true).unwrap(), 0);
        assert!(matches!(
            check_interval("ttl", &iv(1300, 0, 0), false),
            Err(AuthGuardError::IntervalOutOfRange(_))
        ));
        assert_eq!(check_interval("ttl", &iv(0, 1, 0), false).unwrap(), 86_400 * S);
        assert_eq!(check_interval("ttl", &iv(1, 0, 0), false).unwrap(), 30 * 86_400 * S);
    }
}

/// Randomized invariants of the two decision functions: a fixed-seed
/// xorshift generator builds families of 0–4 sessions over a small pool of
/// jtis (so current, parent and older tokens collide often), random expiry,
/// revocation, DPoP binding and policy, and checks what must always hold.
#[cfg(test)]
mod decision_properties {
    use super::*;

    use crate::test_rng::Rng;

    const S: Micros = 1_000_000;
    const NOW: Micros = 1_000_000 * S;

    fn jti(n: u64) -> [u8; 16] {
        [n as u8 + 1; 16]
    }

    fn family(rng: &mut Rng) -> Vec<SessionRow> {
        let n = rng.below(5) as usize;
        (0..n)
            .map(|i| {
                let created = NOW - rng.below(7200) as Micros * S;
                let rotated = rng.chance(60).then(|| created + rng.below(7200) as Micros * S);
                SessionRow {
                    id: [100 + i as u8; 16],
                    user_id: [9; 16],
                    current_jti: jti(rng.below(8)),
                    previous_jti: rotated.and_then(|_| rng.chance(90).then(|| jti(rng.below(8)))),
                    created_at: created,
                    last_rotated_at: rotated,
                    expires_at: created + (rng.below(7200) as Micros + 1) * S,
                    revoked: rng.chance(30),
                    dpop_jkt: rng.chance(25).then(|| ["a", "b"][rng.below(2) as usize].to_string()),
                    auth_time: created,
                }
            })
            .collect()
    }

    fn live_ok(r: &SessionRow, p: &Policy, dpop: Option<&str>) -> bool {
        !r.revoked && !r.is_expired(p) && !r.dpop_mismatch(dpop)
    }

    #[test]
    fn decisions_hold_their_invariants_on_random_families() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut seen = std::collections::BTreeMap::<&str, u32>::new();
        for case in 0..200_000 {
            let rows = family(&mut rng);
            let presented = jti(rng.below(9));
            let dpop = [None, Some("a"), Some("b")][rng.below(3) as usize];
            let p = Policy {
                now: NOW,
                reuse_interval: [0, 10 * S, 3600 * S][rng.below(3) as usize],
                idle_timeout: [0, 600 * S][rng.below(2) as usize],
            };
            let rot = decide_rotation(&rows, &presented, dpop, &p);
            let val = decide_validation(&rows, &presented, dpop, None, &p);
            let ctx = || format!("case {case}: rows {rows:?} jti {presented:?} dpop {dpop:?} {p:?} -> {rot:?} / {val:?}");
            let current: Vec<usize> =
                (0..rows.len()).filter(|&i| !rows[i].revoked && rows[i].current_jti == presented).collect();
            let any_live = rows.iter().any(|r| !r.revoked);
            let any_live_unexpired = rows.iter().any(|r| !r.revoked && !r.is_expired(&p));

            // Indices are always in range.
            let idx = match &rot {
                Rotation::Expired { session } | Rotation::DpopMismatch { session } | Rotation::Rotate { session }
                | Rotation::Reissue { session } | Rotation::Replay { session } => Some(*session),
                Rotation::Revoked { session } => *session,
                Rotation::NotFound => None,
            };
            assert!(idx.is_none_or(|i| i < rows.len()), "{}", ctx());
            assert!(val.session().is_none_or(|i| i < rows.len()), "{}", ctx());

            // Empty family: not found, for both. No live row: revoked, for both.
            assert_eq!(rows.is_empty(), rot == Rotation::NotFound, "{}", ctx());
            assert_eq!(rows.is_empty(), val == Validation::NotFound, "{}", ctx());
            if !rows.is_empty() && !any_live {
                assert!(matches!(rot, Rotation::Revoked { .. }), "{}", ctx());
                assert!(matches!(val, Validation::Revoked { .. }), "{}", ctx());
            }
            // A current, unexpired, key-matching jti always rotates and validates.
            if let Some(&i) = current.first() {
                if live_ok(&rows[i], &p, dpop) {
                    assert_eq!(rot, Rotation::Rotate { session: i }, "{}", ctx());
                    assert!(matches!(val, Validation::Valid { session, .. } if session == i), "{}", ctx());
                }
                // Rotation and validation agree on a current jti.
                match (&rot, &val) {
                    (Rotation::Rotate { .. }, Validation::Valid { .. })
                    | (Rotation::Expired { .. }, Validation::Expired { .. })
                    | (Rotation::DpopMismatch { .. }, Validation::DpopMismatch { .. }) => {}
                    _ => panic!("disagree on a current jti: {}", ctx()),
                }
            }
            // Valid only for a current jti of a live, unexpired, key-matching session.
            if let Validation::Valid { session, .. } = val {
                assert!(current.contains(&session) && live_ok(&rows[session], &p, dpop), "{}", ctx());
            }
            // Rotate only the session whose current jti was presented.
            if let Rotation::Rotate { session } = rot {
                assert!(current.contains(&session) && live_ok(&rows[session], &p, dpop), "{}", ctx());
            }
            // The grace applies only to the immediate parent, within the window, of a live session,
            // and never when the jti is current somewhere.
            if let Rotation::Reissue { session } = rot {
                let r = &rows[session];
                assert!(current.is_empty(), "{}", ctx());
                assert!(p.reuse_interval > 0 && !r.revoked && r.previous_jti == Some(presented), "{}", ctx());
                assert!(r.last_rotated_at.is_some_and(|t| t > p.now - p.reuse_interval), "{}", ctx());
                assert!(live_ok(r, &p, dpop), "{}", ctx());
            }
            // A replay names a live, unexpired session, for a jti that is current nowhere;
            // validation calls such a jti stale.
            if let Rotation::Replay { session } = rot {
                assert!(current.is_empty() && !rows[session].revoked && !rows[session].is_expired(&p), "{}", ctx());
                assert!(matches!(val, Validation::StaleToken { .. }), "{}", ctx());
            }
            // Without grace, a non-current jti of a family with a live unexpired session is never reissued.
            if p.reuse_interval == 0 {
                assert!(!matches!(rot, Rotation::Reissue { .. }), "{}", ctx());
            }
            if current.is_empty() && any_live_unexpired {
                assert!(matches!(val, Validation::StaleToken { .. }), "{}", ctx());
            }
            // Validation says expired only when rotation cannot succeed either.
            if matches!(val, Validation::Expired { .. }) {
                assert!(!matches!(rot, Rotation::Rotate { .. } | Rotation::Reissue { .. } | Rotation::Replay { .. }), "{}", ctx());
            }
            *seen.entry(match rot {
                Rotation::NotFound => "not_found",
                Rotation::Revoked { .. } => "revoked",
                Rotation::Expired { .. } => "expired",
                Rotation::DpopMismatch { .. } => "dpop_mismatch",
                Rotation::Rotate { .. } => "rotate",
                Rotation::Reissue { .. } => "reissue",
                Rotation::Replay { .. } => "replay",
            }).or_default() += 1;
        }
        // The generator reaches every outcome (otherwise the properties prove little).
        for k in ["not_found", "revoked", "expired", "dpop_mismatch", "rotate", "reissue", "replay"] {
            assert!(seen.get(k).copied().unwrap_or(0) > 100, "outcome {k} too rare: {seen:?}");
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
// pgrx runs #[pg_test]s as functions of schema "tests": the module must be named so.
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use pgrx::Uuid;

    const USER: &str = "00000000-0000-4000-8000-0000000000f1";

    fn login(extra: &str) -> (Uuid, Uuid) {
        let q = format!("SELECT family_id, jti FROM authguard.create_session('{USER}'{extra})");
        let (f, j) = Spi::get_two::<Uuid, Uuid>(&q).unwrap();
        (f.unwrap(), j.unwrap())
    }

    fn rotate(f: Uuid, j: Uuid, extra: &str) -> (String, Option<Uuid>) {
        let q = format!("SELECT status, jti FROM authguard.rotate_session_token('{f}', '{j}'{extra})");
        let (s, j) = Spi::get_two::<String, Uuid>(&q).unwrap();
        (s.unwrap(), j)
    }

    fn validate(f: Uuid, j: Uuid, extra: &str) -> (bool, String, bool) {
        let q = format!(
            "SELECT valid, status, step_up_required FROM authguard.validate_session('{f}', '{j}'{extra})"
        );
        let (v, s, u) = Spi::get_three::<bool, String, bool>(&q).unwrap();
        (v.unwrap(), s.unwrap(), u.unwrap())
    }

    fn count(q: &str) -> i64 {
        Spi::get_one::<i64>(q).unwrap().unwrap()
    }

    #[pg_test]
    fn create_session_stores_only_derived_client_data() {
        let (f, _) = login(", user_agent => 'UA/1', ip => '2001:db8:aa:bb::7', dpop_jkt => 'k'");
        let (hash, cidr) = Spi::get_two::<String, String>(&format!(
            "SELECT device_hash::text, last_ip_cidr::text FROM authguard.auth_sessions WHERE family_id = '{f}'"
        ))
        .unwrap();
        assert_eq!(hash.unwrap(), crate::privacy::keyed_hash_hex(b"UA/1").unwrap());
        assert_eq!(cidr.as_deref(), Some("2001:db8:aa::/48"));
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'session_created'"), 1);
    }

    #[pg_test]
    fn every_rotation_status() {
        let (f, j1) = login("");
        let (s, j2) = rotate(f, j1, "");
        assert_eq!(s, "rotated");
        let j2 = j2.unwrap();
        assert_ne!(j2, j1);
        assert_eq!(rotate(f, j1, ""), ("reissued".into(), Some(j2)));
        let (_, j3) = rotate(f, j2, "");
        assert_eq!(rotate(f, j1, "").0, "replay_detected");
        assert_eq!(rotate(f, j3.unwrap(), "").0, "revoked");
        let unknown = Uuid::from_bytes([7; 16]);
        assert_eq!(rotate(unknown, j1, ""), ("not_found".into(), None));

        let (fd, jd) = login(", dpop_jkt => 'thumb'");
        assert_eq!(rotate(fd, jd, ", dpop_jkt => 'other'").0, "dpop_mismatch");
        assert_eq!(validate(fd, jd, "").1, "dpop_mismatch");
        assert_eq!(rotate(fd, jd, ", dpop_jkt => 'thumb'").0, "rotated");

        let (fe, je) = login(", ttl => interval '1 second'");
        Spi::run(&format!(
            "UPDATE authguard.auth_sessions SET expires_at = now() - interval '1 second' WHERE family_id = '{fe}'"
        ))
        .unwrap();
        assert_eq!(rotate(fe, je, "").0, "expired");
    }

    #[pg_test]
    fn replay_revokes_the_whole_family_and_is_audited_once() {
        let (f, j1) = login("");
        let j2 = Spi::get_one::<Uuid>(&format!(
            "SELECT jti FROM authguard.create_session('{USER}', family_id => '{f}')"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(rotate(f, Uuid::from_bytes([1; 16]), "").0, "replay_detected");
        assert_eq!(validate(f, j1, "").1, "revoked");
        assert_eq!(validate(f, j2, "").1, "revoked");
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM authguard.auth_sessions WHERE family_id = '{f}' \
                 AND revoked_reason = 'token_replay' AND reused_jti_of IS NOT NULL"
            )),
            2
        );
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_replay_detected'"), 1);
        // A second replay of a dead family is "revoked" and not audited again.
        assert_eq!(rotate(f, Uuid::from_bytes([2; 16]), "").0, "revoked");
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_replay_detected'"), 1);
    }

    #[pg_test]
    fn idle_timeout_expires_sessions() {
        let (f, j) = login("");
        Spi::run(&format!(
            "UPDATE authguard.auth_sessions SET created_at = now() - interval '2 hours' WHERE family_id = '{f}'"
        ))
        .unwrap();
        assert_eq!(validate(f, j, "").1, "valid");
        Spi::run("SET authguard.idle_timeout = '1h'").unwrap();
        assert_eq!(validate(f, j, "").1, "expired");
        assert_eq!(rotate(f, j, "").0, "expired");
        Spi::run("SET authguard.idle_timeout = '3h'").unwrap();
        assert_eq!(rotate(f, j, "").0, "rotated");
    }

    #[pg_test]
    fn validation_statuses_and_step_up() {
        let (f, j1) = login(", auth_time => now() - interval '1 hour'");
        assert_eq!(validate(f, j1, ""), (true, "valid".into(), false));
        assert_eq!(validate(f, j1, ", max_auth_age => interval '10 minutes'"), (true, "valid".into(), true));
        assert_eq!(validate(f, j1, ", max_auth_age => interval '2 hours'"), (true, "valid".into(), false));
        let (_, j2) = rotate(f, j1, "");
        assert_eq!(validate(f, j1, ""), (false, "stale_token".into(), false));
        // A jti of another family is not this family's token.
        let (f2, _) = login("");
        assert_eq!(validate(f2, j2.unwrap(), "").1, "stale_token");
        assert_eq!(validate(Uuid::from_bytes([3; 16]), j1, "").1, "not_found");
    }

    #[pg_test]
    fn validate_works_in_a_read_only_transaction() {
        let (f, j) = login("");
        Spi::run("SET LOCAL transaction_read_only = on").unwrap();
        assert_eq!(validate(f, j, "").1, "valid");
    }

    #[pg_test(
        error = "pg_authguard: rotate_session_token writes to the database and cannot run in a read-only transaction or on a hot standby"
    )]
    fn rotation_refuses_a_read_only_transaction() {
        let (f, j) = login("");
        Spi::run("SET LOCAL transaction_read_only = on").unwrap();
        rotate(f, j, "");
    }

    #[pg_test]
    fn audit_rotations_setting() {
        let (f, j) = login("");
        let (_, j2) = rotate(f, j, "");
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_rotated'"), 0);
        Spi::run("SET authguard.audit_rotations = on").unwrap();
        rotate(f, j2.unwrap(), "");
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'token_rotated'"), 1);
    }

    #[pg_test]
    fn dpop_mismatch_never_writes_the_live_jti_to_the_audit_log() {
        // Found by tests/reliability/invariants.sql ("no audit row carries a
        // live current jti"): a refresh with the wrong DPoP key audited the
        // session's live jti, readable by every audit-log reader.
        let (f, j) = login(", dpop_jkt => 'bound-key'");
        assert_eq!(rotate(f, j, ", dpop_jkt => 'other-key'").0, "dpop_mismatch");
        assert_eq!(rotate(f, j, "").0, "dpop_mismatch");
        assert_eq!(count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'dpop_mismatch'"), 2);
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM authguard.auth_audit_log a JOIN authguard.auth_sessions s \
                  ON s.current_jti = a.jti AND s.revoked_at IS NULL WHERE s.family_id = '{f}'"
            )),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM authguard.auth_audit_log WHERE action = 'dpop_mismatch' \
                   AND (details->>'jti_current')::boolean"),
            2
        );
        // The session itself is untouched: the right key still rotates it.
        assert_eq!(rotate(f, j, ", dpop_jkt => 'bound-key'").0, "rotated");
    }

    #[pg_test]
    fn revoke_user_sessions_handles_more_families_than_the_lock_table() {
        // Log out everywhere must work for a user with very many logins: it
        // takes no per-family lock (10 000 would overflow the lock table).
        Spi::run("SELECT authguard.create_session('00000000-0000-4000-8000-0000000000f2') FROM generate_series(1, 10000)")
            .unwrap();
        let n = Spi::get_one::<i32>("SELECT authguard.revoke_user_sessions('00000000-0000-4000-8000-0000000000f2')")
            .unwrap();
        assert_eq!(n, Some(10000));
        assert_eq!(
            count("SELECT count(*) FROM authguard.auth_sessions WHERE user_id = '00000000-0000-4000-8000-0000000000f2' AND revoked_at IS NULL"),
            0
        );
    }

    #[pg_test]
    fn handle_token_replay_and_revocations() {
        let (f, j) = login("");
        let q = |jti: Uuid| format!("SELECT authguard.handle_token_replay('{jti}', '{f}')");
        assert_eq!(Spi::get_one::<bool>(&q(j)).unwrap(), Some(false));
        assert_eq!(Spi::get_one::<bool>(&q(Uuid::from_bytes([5; 16]))).unwrap(), Some(true));
        assert_eq!(Spi::get_one::<bool>(&q(Uuid::from_bytes([5; 16]))).unwrap(), Some(false));

        let (fa, _) = login("");
        let (fb, _) = login("");
        let (fc, _) = login("");
        let n = Spi::get_one::<i32>(&format!(
            "SELECT authguard.revoke_user_sessions('{USER}', 'password_reset', except_family => '{fa}')"
        ))
        .unwrap();
        assert_eq!(n, Some(2));
        for (fam, live) in [(fa, 1), (fb, 0), (fc, 0)] {
            assert_eq!(
                count(&format!("SELECT count(*) FROM authguard.active_sessions WHERE family_id = '{fam}'")),
                live
            );
        }
        let once = Spi::get_one::<i32>(&format!("SELECT authguard.revoke_session_family('{fa}')")).unwrap();
        let twice = Spi::get_one::<i32>(&format!("SELECT authguard.revoke_session_family('{fa}')")).unwrap();
        assert_eq!((once, twice), (Some(1), Some(0)));
    }

    #[pg_test]
    fn cleanup_walks_many_batches() {
        Spi::run(&format!(
            "SELECT authguard.create_session('{USER}') FROM generate_series(1, 2500)"
        ))
        .unwrap();
        Spi::run(
            "UPDATE authguard.auth_sessions SET expires_at = now() - interval '30 days' \
             WHERE id IN (SELECT id FROM authguard.auth_sessions LIMIT 1500)",
        )
        .unwrap();
        Spi::run(
            "UPDATE authguard.auth_sessions SET revoked_at = now() - interval '30 days', revoked_reason = 'x' \
             WHERE id IN (SELECT id FROM authguard.auth_sessions WHERE expires_at > now() LIMIT 300)",
        )
        .unwrap();
        let deleted = Spi::get_one::<i64>("SELECT authguard.cleanup_expired_sessions(interval '7 days', 97)").unwrap();
        assert_eq!(deleted, Some(1800));
        assert_eq!(count("SELECT count(*) FROM authguard.auth_sessions"), 700);
        assert_eq!(Spi::get_one::<i64>("SELECT authguard.cleanup_expired_sessions()").unwrap(), Some(0));
    }

    #[pg_test]
    fn session_stats_counts() {
        let (f, j) = login("");
        login("");
        rotate(f, j, "");
        let stats = Spi::get_one::<pgrx::JsonB>("SELECT authguard.session_stats()").unwrap().unwrap().0;
        assert_eq!(stats["active_sessions"], 2);
        assert_eq!(stats["active_users"], 1);
        assert_eq!(stats["sessions_rotated_24h"], 1);
        assert_eq!(stats["replays_24h"], 0);
    }
}
