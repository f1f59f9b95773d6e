//! Settings (`authguard.*`): their defaults, ranges and who may change them.
//!
//! Everything that weakens a security decision when changed (the reuse grace,
//! idle timeout, audit of rotations, IP truncation, keys) is `SUSET`: only a
//! superuser (or `ALTER SYSTEM` / `ALTER ROLE ... SET` by one) can change it, so
//! the application role cannot widen its own grace window or stop auditing.
//! Secrets are also `SUPERUSER_ONLY | NO_SHOW_ALL`: invisible in `SHOW`,
//! `SHOW ALL` and `pg_settings` to everyone else.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::{CStr, CString};

/// Grace window (ms) in which the immediate parent token is answered `reissued`.
pub static REUSE_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
/// Default absolute lifetime (s) of a new session.
pub static SESSION_TTL_S: GucSetting<i32> = GucSetting::<i32>::new(30 * 24 * 3600);
/// Idle timeout (s); 0 disables it.
pub static IDLE_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Prefix lengths kept of client addresses.
pub static IPV4_PREFIX: GucSetting<i32> = GucSetting::<i32>::new(24);
pub static IPV6_PREFIX: GucSetting<i32> = GucSetting::<i32>::new(48);
/// Audit routine rotations too (off: only security events are audited).
pub static AUDIT_ROTATIONS: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Key for `device_hash` / `hash_token` (HMAC); unset means plain SHA-256.
pub static HASH_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Master key of the keyring, 64 hex characters.
pub static MASTER_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Command run by the server whose standard output is the master key.
pub static MASTER_KEY_COMMAND: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

const SECRET: GucFlags = GucFlags::SUPERUSER_ONLY.union(GucFlags::NO_SHOW_ALL);

pub fn register() {
    GucRegistry::define_int_guc(
        c"authguard.reuse_interval",
        c"Grace window in which a token's immediate parent is answered 'reissued' instead of 'replay_detected'.",
        c"0 turns the grace off: any non-current token is a replay at once.",
        &REUSE_INTERVAL_MS,
        0,
        24 * 3600 * 1000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"authguard.session_ttl",
        c"Absolute lifetime of a session when create_session is given no ttl.",
        c"",
        &SESSION_TTL_S,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"authguard.idle_timeout",
        c"A session not rotated for this long is expired; 0 disables the idle timeout.",
        c"",
        &IDLE_TIMEOUT_S,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"authguard.ipv4_prefix",
        c"Prefix length kept of IPv4 client addresses (last_ip_cidr).",
        c"",
        &IPV4_PREFIX,
        0,
        32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authguard.ipv6_prefix",
        c"Prefix length kept of IPv6 client addresses (last_ip_cidr).",
        c"",
        &IPV6_PREFIX,
        0,
        128,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"authguard.audit_rotations",
        c"Write an auth_audit_log row for every routine rotation.",
        c"Security events (replays, revocations, DPoP mismatches) are always audited.",
        &AUDIT_ROTATIONS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"authguard.hash_key",
        c"Secret key for device_hash and hash_token (HMAC-SHA256). Unset: plain SHA-256.",
        c"Superuser-only; hidden from SHOW and pg_settings for other roles.",
        &HASH_KEY,
        GucContext::Suset,
        SECRET,
    );
    GucRegistry::define_string_guc(
        c"authguard.master_key",
        c"Keyring master key: 64 hexadecimal characters (32 bytes).",
        c"Superuser-only; hidden from SHOW and pg_settings for other roles.",
        &MASTER_KEY,
        GucContext::Suset,
        SECRET,
    );
    GucRegistry::define_string_guc(
        c"authguard.master_key_command",
        c"Command run by the server whose standard output is the keyring master key (64 hex characters).",
        c"Used when authguard.master_key is not set; for KMS integration. Set in postgresql.conf or with ALTER SYSTEM.",
        &MASTER_KEY_COMMAND,
        GucContext::Sighup,
        SECRET,
    );
    // SAFETY: called once from _PG_init; reserves the prefix so typos in
    // authguard.* settings are reported instead of silently ignored.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"authguard".as_ptr()) };
}

/// Whether `shared_preload_libraries` or `session_preload_libraries` names
/// this library, i.e. it is loaded in every backend before any query runs.
pub fn preloaded_everywhere() -> bool {
    ["shared_preload_libraries", "session_preload_libraries"].iter().any(|setting| {
        let name = std::ffi::CString::new(*setting).expect("no NUL");
        // SAFETY: GetConfigOption returns a pointer to GUC-owned storage (or NULL).
        let value = unsafe { pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false) };
        if value.is_null() {
            return false;
        }
        // SAFETY: a NUL-terminated string owned by the GUC machinery.
        let list = unsafe { std::ffi::CStr::from_ptr(value) }.to_string_lossy();
        lists_library(&list)
    })
}

/// Does a preload list ("a, \"$libdir/pg_authguard\", b") name pg_authguard?
pub fn lists_library(list: &str) -> bool {
    list.split(',').any(|item| {
        let item = item.trim().trim_matches('"').trim();
        let item = item.strip_prefix("$libdir/").unwrap_or(item);
        let item = item.strip_suffix(".so").unwrap_or(item);
        item == "pg_authguard"
    })
}

/// A secret set in the configuration (postgresql.conf, ALTER SYSTEM, ALTER
/// ROLE/DATABASE ... SET) is, in any backend that has not loaded this library
/// yet, an unknown placeholder setting that every role can read with SHOW.
/// Such a value is the setting's reset value; a session's own SET is not.
/// Unless the library is preloaded everywhere, refuse to use an exposed secret.
pub fn check_secret_not_exposed(name: &'static CStr) -> crate::errors::Result<()> {
    // SAFETY: plain read of a backend-global.
    if preloaded_everywhere() || unsafe { pgrx::pg_sys::ParallelWorkerNumber } >= 0 {
        return Ok(());
    }
    let from_config = reset_value_is_set(name);
    if from_config {
        let setting = name.to_string_lossy();
        return Err(crate::errors::AuthGuardError::NotConfigured {
            message: format!(
                "{setting} is set in the server configuration but pg_authguard is not preloaded, \
                 so every role can read the setting with SHOW until the library loads"
            ),
            hint: Some(format!(
                "ALTER SYSTEM SET session_preload_libraries = 'pg_authguard' (or add it to shared_preload_libraries), \
                 SELECT pg_reload_conf(), then replace {setting} (it may have been read)."
            )),
        });
    }
    Ok(())
}

/// Whether the setting has a reset value (one from the configuration rather
/// than a session's SET). Postgres lets only privileged roles read a
/// SUPERUSER_ONLY setting's reset value, but the extension must check its own
/// secrets whoever calls it, so the read runs as the bootstrap superuser; an
/// error in between is undone by the transaction abort, which restores the
/// user id.
fn reset_value_is_set(name: &CStr) -> bool {
    use pgrx::pg_sys;
    // SAFETY: save/restore of the current user id around one GUC read; the
    // returned string is GUC-owned and only inspected before restoring.
    unsafe {
        let mut user = pg_sys::InvalidOid;
        let mut context = 0;
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
            context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
        );
        let reset = pg_sys::GetConfigOptionResetString(name.as_ptr());
        let set = !reset.is_null() && !CStr::from_ptr(reset).to_bytes().is_empty();
        pg_sys::SetUserIdAndSecContext(user, context);
        set
    }
}

thread_local! {
    /// The hash key value last found safe to use; re-checked when it changes.
    static CHECKED_HASH_KEY: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// The hash key's bytes, if set and non-empty, refused when exposed (see
/// [`check_secret_not_exposed`]).
pub fn hash_key() -> crate::errors::Result<Option<Vec<u8>>> {
    let Some(key) = HASH_KEY.get().map(|k| k.into_bytes()).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if !CHECKED_HASH_KEY.with(|c| c.borrow().as_deref() == Some(&key[..])) {
        check_secret_not_exposed(c"authguard.hash_key")?;
        CHECKED_HASH_KEY.with(|c| *c.borrow_mut() = Some(key.clone()));
    }
    Ok(Some(key))
}

/// Names of the settings that hold secrets.
pub const SECRET_SETTINGS: [&str; 3] = ["authguard.hash_key", "authguard.master_key", "authguard.master_key_command"];

/// The secret settings that have a value when the library is loaded into a
/// backend (not at postmaster start). Such a value came from the configuration
/// (postgresql.conf, ALTER SYSTEM, ALTER DATABASE/ROLE SET) and, until this
/// backend loaded the library, sat in an unhidden placeholder: any role could
/// read it with `SHOW` in a session that had not yet called an authguard
/// function. Preloading (shared or session) hides it before any query runs.
pub fn secrets_exposed_before_load() -> Vec<&'static str> {
    let set = |g: &GucSetting<Option<CString>>| g.get().is_some_and(|v| !v.as_bytes().is_empty());
    let values = [set(&HASH_KEY), set(&MASTER_KEY), set(&MASTER_KEY_COMMAND)];
    SECRET_SETTINGS.iter().zip(values).filter(|(_, v)| *v).map(|(n, _)| *n).collect()
}

/// Current reuse grace in microseconds.
pub fn reuse_interval_micros() -> i64 {
    i64::from(REUSE_INTERVAL_MS.get()) * 1000
}

/// Current idle timeout in microseconds; 0 when off.
pub fn idle_timeout_micros() -> i64 {
    i64::from(IDLE_TIMEOUT_S.get()) * 1_000_000
}

/// Default session lifetime in microseconds.
pub fn session_ttl_micros() -> i64 {
    i64::from(SESSION_TTL_S.get()) * 1_000_000
}
