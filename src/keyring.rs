//! Keyring: the master key, named and versioned data keys, envelope encryption
//! under them, key rotation and re-encryption.
//!
//! What this module owns:
//! - the master key, read from `authguard.master_key` or produced by
//!   `authguard.master_key_command`, cached per backend and keyed on the
//!   setting's value (the command runs again only when the setting changes);
//! - the table `authguard.keys` (see `sql/keyring.sql`): one row per
//!   (key, version), the 32-byte data key stored only *wrapped*:
//!   XChaCha20-Poly1305 under a wrapping key derived from the master key with
//!   HKDF-SHA256, with the key's id, version and name as associated data, so a
//!   wrong master key (or a tampered row) is detected, never turned into garbage;
//! - the ciphertext envelope of [`encrypt_with_key`] (documented byte by byte
//!   in `docs/keyring.md`, parsed by [`Envelope::parse`]);
//! - the SQL functions `create_key`, `rotate_key`, `encrypt_with_key`,
//!   `decrypt_with_key`, `reencrypt`, `key_version_of`, `rotate_master_key` and
//!   the helper `_reencrypt_needed` used by the `reencrypt_column` procedure
//!   (PL/pgSQL in `sql/keyring.sql`, because only a procedure may COMMIT).
//!
//! Key material never leaves this module: no function returns it, no message
//! or log line carries it, and every copy is zeroized when dropped.

use crate::errors::{AuthGuardError, OrReport, Result};
use crate::gucs;
use crate::spi_plans::{plan, Statement};
use crate::uuid_gen;
use crate::crypto::aead;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;
use std::cell::RefCell;
use std::collections::HashMap;
use zeroize::{Zeroize, Zeroizing};

// ------------------------------------------------------------------ envelope

/// Format byte of a keyring ciphertext: XChaCha20-Poly1305 under a keyring
/// data key, envelope version 1. Bytes 0x80..=0x8F are reserved for keyring
/// formats (future algorithms); other values belong to other envelopes.
pub const FORMAT_XCHACHA_V1: u8 = 0x81;
/// format (1) + key id (16) + key version (4, big-endian).
pub const HEADER_LEN: usize = 21;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// The shortest valid ciphertext: header, nonce and the tag of an empty plaintext.
pub const MIN_CIPHERTEXT_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Largest plaintext accepted, so the ciphertext still fits a bytea (1 GB).
const MAX_PLAINTEXT_LEN: usize = (1 << 30) - 1 - MIN_CIPHERTEXT_LEN - 64;

/// A parsed keyring ciphertext. Borrowed from the input; nothing is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub key_id: [u8; 16],
    pub version: u32,
    /// Bytes 0..21: authenticated as associated data.
    pub header: &'a [u8],
    pub nonce: &'a [u8],
    /// ciphertext || tag
    pub body: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parse without any key: rejects empty, truncated and unknown formats (22P02).
    pub fn parse(ct: &'a [u8]) -> Result<Envelope<'a>> {
        let Some(&format) = ct.first() else {
            return Err(AuthGuardError::MalformedInput("ciphertext is empty".into()));
        };
        if format != FORMAT_XCHACHA_V1 {
            return Err(AuthGuardError::MalformedInput(
                format!(
                    "not a keyring ciphertext: unknown format byte 0x{format:02x} (this version reads 0x{FORMAT_XCHACHA_V1:02x})"
                )
                .into(),
            ));
        }
        if ct.len() < MIN_CIPHERTEXT_LEN {
            return Err(AuthGuardError::MalformedInput(
                format!(
                    "keyring ciphertext is truncated: {} bytes, at least {MIN_CIPHERTEXT_LEN} expected",
                    ct.len()
                )
                .into(),
            ));
        }
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&ct[1..17]);
        let version = u32::from_be_bytes([ct[17], ct[18], ct[19], ct[20]]);
        if version == 0 || version > i32::MAX as u32 {
            return Err(AuthGuardError::MalformedInput(
                format!("keyring ciphertext names an impossible key version {version}").into(),
            ));
        }
        Ok(Envelope {
            key_id,
            version,
            header: &ct[..HEADER_LEN],
            nonce: &ct[HEADER_LEN..HEADER_LEN + NONCE_LEN],
            body: &ct[HEADER_LEN + NONCE_LEN..],
        })
    }
}

fn header(key_id: &[u8; 16], version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = FORMAT_XCHACHA_V1;
    h[1..17].copy_from_slice(key_id);
    h[17..21].copy_from_slice(&version.to_be_bytes());
    h
}

fn joined_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + aad.len());
    v.extend_from_slice(header);
    v.extend_from_slice(aad);
    v
}

/// Encrypt under one data key with an explicit nonce (pure; tests use it).
pub fn seal_with_nonce(
    key: &[u8; 32],
    key_id: &[u8; 16],
    version: u32,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(AuthGuardError::TooLarge("plaintext is too large to encrypt into a bytea".into()));
    }
    let h = header(key_id, version);
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&h);
    out.extend_from_slice(nonce);
    aead::xchacha20poly1305_seal_append(key, nonce, &joined_aad(&h, aad), plaintext, &mut out)?;
    Ok(out)
}

pub fn seal(key: &[u8; 32], key_id: &[u8; 16], version: u32, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    uuid_gen::random_bytes(&mut nonce)?;
    seal_with_nonce(key, key_id, version, &nonce, plaintext, aad)
}

/// Decrypt a parsed envelope with its data key; any mismatch is 22000.
pub fn open(key: &[u8; 32], env: &Envelope<'_>, aad: &[u8]) -> Result<Vec<u8>> {
    let nonce = env.nonce.try_into().expect("Envelope::parse fixes the nonce length");
    aead::xchacha20poly1305_open(key, nonce, &joined_aad(env.header, aad), env.body)
}

// ---------------------------------------------------------------- master key

/// Parse a master key: exactly 64 hex digits (either case), surrounding
/// whitespace ignored. The error names `setting` and never echoes the value.
pub fn parse_master_hex(text: &[u8], setting: &str) -> Result<Zeroizing<[u8; 32]>> {
    let t = text.trim_ascii();
    let malformed = || AuthGuardError::NotConfigured {
        message: format!("{setting} is malformed: expected 64 hexadecimal characters (32 bytes), got {} characters", t.len()),
        hint: Some("Generate one with: openssl rand -hex 32".into()),
    };
    if t.len() != 64 {
        return Err(malformed());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (i, pair) in t.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or_else(malformed)?;
        let lo = hex_val(pair[1]).ok_or_else(malformed)?;
        key[i] = (hi << 4) | lo;
    }
    Ok(key)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The key that wraps data keys: HKDF-SHA256 of the master key, so the master
/// key itself is used for nothing else.
pub fn derive_wrapping_key(master: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"pg_authguard keyring"), master);
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(b"wrap data keys v1", out.as_mut()).expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

/// Format byte of a wrapped data key as stored in `authguard.keys.wrapped_key`.
pub const WRAP_FORMAT_V1: u8 = 0x01;
pub const WRAPPED_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;

fn wrap_aad(key_id: &[u8; 16], version: u32, name: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + 20 + name.len());
    v.extend_from_slice(b"pg_authguard keyring wrap v1\0");
    v.extend_from_slice(key_id);
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(name.as_bytes());
    v
}

/// Wrap a data key under the wrapping key, bound to its id, version and name.
pub fn wrap_key(wrapping: &[u8; 32], key_id: &[u8; 16], version: u32, name: &str, data_key: &[u8; 32]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    uuid_gen::random_bytes(&mut nonce)?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.push(WRAP_FORMAT_V1);
    out.extend_from_slice(&nonce);
    aead::xchacha20poly1305_seal_append(wrapping, &nonce, &wrap_aad(key_id, version, name), data_key, &mut out)?;
    Ok(out)
}

/// Unwrap a data key. `None` when the wrapping key is wrong or the row was
/// altered (the caller turns that into the "wrong master key" error).
pub fn unwrap_key(wrapping: &[u8; 32], key_id: &[u8; 16], version: u32, name: &str, wrapped: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if wrapped.len() != WRAPPED_LEN || wrapped[0] != WRAP_FORMAT_V1 {
        return None;
    }
    let nonce = wrapped[1..1 + NONCE_LEN].try_into().expect("length checked above");
    let mut plain = aead::xchacha20poly1305_open(wrapping, nonce, &wrap_aad(key_id, version, name), &wrapped[1 + NONCE_LEN..]).ok()?;
    let mut key = Zeroizing::new([0u8; 32]);
    let ok = plain.len() == 32;
    if ok {
        key.copy_from_slice(&plain);
    }
    plain.zeroize();
    ok.then_some(key)
}

fn wrong_master_key(name: &str, version: u32) -> AuthGuardError {
    AuthGuardError::NotConfigured {
        message: format!(
            "wrong master key: key \"{name}\" version {version} cannot be unwrapped with the configured authguard.master_key"
        ),
        hint: Some(
            "Set authguard.master_key (or authguard.master_key_command) to the master key the keyring was wrapped with, \
             then SELECT pg_reload_conf(); if it is right, the authguard.keys row was altered."
                .into(),
        ),
    }
}

struct MasterState {
    /// What the key was obtained from: "k:" + setting value or "c:" + command.
    source: Zeroizing<Vec<u8>>,
    wrapping: Zeroizing<[u8; 32]>,
}

thread_local! {
    static MASTER: RefCell<Option<MasterState>> = const { RefCell::new(None) };
    /// Unwrapped data keys by (key id, version); emptied whenever the master key changes.
    static DATA_KEYS: RefCell<HashMap<([u8; 16], u32), Zeroizing<[u8; 32]>>> = RefCell::new(HashMap::new());
}


static mut PREV_EMIT_LOG_HOOK: pg_sys::emit_log_hook_type = None;

/// Postgres' postmaster logs `parameter "X" changed to "VALUE"` for every
/// setting a reload changes, secrets included. When this library is in
/// `shared_preload_libraries`, the postmaster runs this hook and such lines for
/// the secret settings are not written to the server log.
pub fn install_log_redaction() {
    // SAFETY: called once from _PG_init in the postmaster; hooks chain.
    unsafe {
        PREV_EMIT_LOG_HOOK = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(redact_secret_settings);
    }
}

/// Whether a log message reveals the value of a secret setting.
pub fn reveals_secret(message: &[u8]) -> bool {
    const SECRETS: [&[u8]; 2] = [b"parameter \"authguard.master_key\" changed to", b"parameter \"authguard.hash_key\" changed to"];
    SECRETS.iter().any(|p| message.starts_with(p))
}

#[pg_guard]
unsafe extern "C-unwind" fn redact_secret_settings(edata: *mut pg_sys::ErrorData) {
    // SAFETY: edata is the live ErrorData Postgres hands to the hook.
    unsafe {
        if !edata.is_null() && !(*edata).message.is_null() {
            let msg = std::ffi::CStr::from_ptr((*edata).message).to_bytes();
            if reveals_secret(msg) {
                (*edata).output_to_server = false;
            }
        }
        if let Some(prev) = PREV_EMIT_LOG_HOOK {
            prev(edata);
        }
    }
}

fn setting_bytes(v: Option<std::ffi::CString>) -> Option<Zeroizing<Vec<u8>>> {
    let b = Zeroizing::new(v?.into_bytes());
    if b.trim_ascii().is_empty() { None } else { Some(b) }
}

/// The current wrapping key, from the cache when the setting has not changed.
fn wrapping_key() -> Result<Zeroizing<[u8; 32]>> {
    let mut source = Zeroizing::new(Vec::new());
    let from_command = match setting_bytes(gucs::MASTER_KEY.get()) {
        Some(v) => {
            source.extend_from_slice(b"k:");
            source.extend_from_slice(&v);
            false
        }
        None => match setting_bytes(gucs::MASTER_KEY_COMMAND.get()) {
            Some(c) => {
                source.extend_from_slice(b"c:");
                source.extend_from_slice(&c);
                true
            }
            None => {
                return Err(AuthGuardError::NotConfigured {
                    message: "the keyring master key is not configured: set authguard.master_key (64 hexadecimal characters) \
                              or authguard.master_key_command"
                        .into(),
                    hint: Some(
                        "As a superuser: ALTER SYSTEM SET authguard.master_key = '<64 hex characters>'; SELECT pg_reload_conf();"
                            .into(),
                    ),
                })
            }
        },
    };
    let cached = MASTER.with(|m| {
        m.borrow().as_ref().filter(|s| s.source[..] == source[..]).map(|s| s.wrapping.clone())
    });
    if let Some(w) = cached {
        return Ok(w);
    }
    let master = if from_command {
        let out = run_master_key_command(std::str::from_utf8(&source[2..]).map_err(|_| {
            AuthGuardError::NotConfigured { message: "authguard.master_key_command is not valid UTF-8".into(), hint: None }
        })?)?;
        parse_master_hex(&out, "the output of authguard.master_key_command")?
    } else {
        gucs::check_secret_not_exposed(c"authguard.master_key")?;
        parse_master_hex(&source[2..], "authguard.master_key")?
    };
    let wrapping = derive_wrapping_key(&master);
    MASTER.with(|m| *m.borrow_mut() = Some(MasterState { source, wrapping: wrapping.clone() }));
    DATA_KEYS.with(|d| d.borrow_mut().clear());
    Ok(wrapping)
}

/// Run the command with `sh -c`, returning its standard output. Neither the
/// output nor the standard error is ever logged or put in a message.
fn run_master_key_command(cmd: &str) -> Result<Zeroizing<Vec<u8>>> {
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| AuthGuardError::NotConfigured {
            message: format!("authguard.master_key_command could not be started: {}", e.kind()),
            hint: None,
        })?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(AuthGuardError::NotConfigured {
            message: format!("authguard.master_key_command failed ({})", out.status),
            hint: Some("Run the command as the operating-system user of the server to see its error.".into()),
        });
    }
    Ok(stdout)
}

// ------------------------------------------------------------------ storage

const UUID: pg_sys::Oid = pg_sys::UUIDOID;
const TEXT: pg_sys::Oid = pg_sys::TEXTOID;
const INT4: pg_sys::Oid = pg_sys::INT4OID;
const BYTEA: pg_sys::Oid = pg_sys::BYTEAOID;

// Run by SECURITY DEFINER code: every name is schema-qualified, operators too.
const ACTIVE_BY_NAME: Statement = Statement {
    key: "keyring_active_by_name",
    sql: "SELECT key_id, version, wrapped_key FROM authguard.keys \
          WHERE name OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'active'",
    args: &[TEXT],
    mutating: false,
};

const ACTIVE_BY_ID: Statement = Statement {
    key: "keyring_active_by_id",
    sql: "SELECT name, version, wrapped_key FROM authguard.keys \
          WHERE key_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'active'",
    args: &[UUID],
    mutating: false,
};

const BY_ID_VERSION: Statement = Statement {
    key: "keyring_by_id_version",
    sql: "SELECT name, wrapped_key FROM authguard.keys \
          WHERE key_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
    args: &[UUID, INT4],
    mutating: false,
};

const NAME_LOCK: Statement = Statement {
    key: "keyring_name_lock",
    sql: "SELECT pg_catalog.pg_advisory_xact_lock(1801812332, pg_catalog.hashtext($1))",
    args: &[TEXT],
    mutating: true,
};

const NAME_ROWS_FOR_UPDATE: Statement = Statement {
    key: "keyring_name_rows",
    sql: "SELECT key_id, version, wrapped_key, status OPERATOR(pg_catalog.=) 'active' FROM authguard.keys \
          WHERE name OPERATOR(pg_catalog.=) $1 ORDER BY version FOR UPDATE",
    args: &[TEXT],
    mutating: true,
};

const ANY_KEY: Statement = Statement {
    key: "keyring_any_key",
    sql: "SELECT key_id, version, name, wrapped_key FROM authguard.keys ORDER BY created_at, version LIMIT 1",
    args: &[],
    mutating: false,
};

const INSERT_KEY: Statement = Statement {
    key: "keyring_insert",
    sql: "INSERT INTO authguard.keys (key_id, name, version, status, wrapped_key) VALUES ($1, $2, $3, 'active', $4)",
    args: &[UUID, TEXT, INT4, BYTEA],
    mutating: true,
};

const RETIRE: Statement = Statement {
    key: "keyring_retire",
    sql: "UPDATE authguard.keys SET status = 'retired', retired_at = pg_catalog.now() \
          WHERE key_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'active'",
    args: &[UUID],
    mutating: true,
};

fn arg<'a, T: pgrx::IntoDatum>(v: T) -> DatumWithOid<'a> {
    v.into()
}

fn uuid_bytes(u: &Uuid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b.copy_from_slice(u.as_bytes());
    b
}

fn need<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| AuthGuardError::Internal(format!("authguard.keys: unexpected NULL {what}")))
}

fn to_version(v: i32) -> Result<u32> {
    u32::try_from(v).ok().filter(|v| *v >= 1).ok_or_else(|| AuthGuardError::Internal("authguard.keys: bad version".into()))
}

/// The data key of (id, version), unwrapping (and caching) it when needed.
fn data_key(wrapping: &[u8; 32], key_id: &[u8; 16], version: u32, name: &str, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    if let Some(k) = DATA_KEYS.with(|d| d.borrow().get(&(*key_id, version)).cloned()) {
        return Ok(k);
    }
    let k = unwrap_key(wrapping, key_id, version, name, wrapped).ok_or_else(|| wrong_master_key(name, version))?;
    DATA_KEYS.with(|d| d.borrow_mut().insert((*key_id, version), k.clone()));
    Ok(k)
}

fn cached_data_key(key_id: &[u8; 16], version: u32) -> Option<Zeroizing<[u8; 32]>> {
    DATA_KEYS.with(|d| d.borrow().get(&(*key_id, version)).cloned())
}

/// The active (id, version, key) of a named key.
fn active_key(client: &SpiClient<'_>, wrapping: &[u8; 32], name: &str) -> Result<([u8; 16], u32, Zeroizing<[u8; 32]>)> {
    let p = plan(client, &ACTIVE_BY_NAME)?;
    let t = client.select(p, None, &[arg(name)])?;
    if t.is_empty() {
        return Err(unknown_key(name));
    }
    let row = t.first();
    let id = uuid_bytes(&need(row.get::<Uuid>(1)?, "key_id")?);
    let version = to_version(need(row.get::<i32>(2)?, "version")?)?;
    if let Some(k) = cached_data_key(&id, version) {
        return Ok((id, version, k));
    }
    let wrapped = need(row.get::<Vec<u8>>(3)?, "wrapped_key")?;
    let k = data_key(wrapping, &id, version, name, &wrapped)?;
    Ok((id, version, k))
}

fn unknown_key(name: &str) -> AuthGuardError {
    AuthGuardError::UndefinedObject(format!("key \"{name}\" does not exist in authguard.keys"))
}

/// The key a ciphertext names.
fn key_of(client: &SpiClient<'_>, wrapping: &[u8; 32], env: &Envelope<'_>) -> Result<Zeroizing<[u8; 32]>> {
    if let Some(k) = cached_data_key(&env.key_id, env.version) {
        return Ok(k);
    }
    let p = plan(client, &BY_ID_VERSION)?;
    let t = client.select(p, None, &[arg(Uuid::from_bytes(env.key_id)), arg(env.version as i32)])?;
    if t.is_empty() {
        return Err(AuthGuardError::UndefinedObject(format!(
            "the key of this ciphertext (id {}, version {}) does not exist in authguard.keys",
            Uuid::from_bytes(env.key_id),
            env.version
        )));
    }
    let row = t.first();
    let name = need(row.get::<String>(1)?, "name")?;
    let wrapped = need(row.get::<Vec<u8>>(2)?, "wrapped_key")?;
    data_key(wrapping, &env.key_id, env.version, &name, &wrapped)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(AuthGuardError::InvalidParameter(
            "key name must be 1 to 128 bytes without control characters".into(),
        ));
    }
    Ok(())
}

fn require_writable(what: &'static str) -> Result<()> {
    // SAFETY: plain reads of backend-global state.
    let read_only = unsafe { pg_sys::RecoveryInProgress() || pg_sys::XactReadOnly };
    if read_only { Err(AuthGuardError::ReadOnly(what)) } else { Ok(()) }
}

/// Refuse to add keys under a master key that does not open the existing ones:
/// that would leave a keyring wrapped under two master keys.
fn verify_master_against_keyring(client: &SpiClient<'_>, wrapping: &[u8; 32]) -> Result<()> {
    let p = plan(client, &ANY_KEY)?;
    let t = client.select(p, None, &[])?;
    if t.is_empty() {
        return Ok(());
    }
    let row = t.first();
    let id = uuid_bytes(&need(row.get::<Uuid>(1)?, "key_id")?);
    let version = to_version(need(row.get::<i32>(2)?, "version")?)?;
    let name = need(row.get::<String>(3)?, "name")?;
    let wrapped = need(row.get::<Vec<u8>>(4)?, "wrapped_key")?;
    unwrap_key(wrapping, &id, version, &name, &wrapped).map(|_| ()).ok_or_else(|| wrong_master_key(&name, version))
}

fn new_data_key() -> Result<Zeroizing<[u8; 32]>> {
    let mut k = Zeroizing::new([0u8; 32]);
    uuid_gen::random_bytes(k.as_mut())?;
    Ok(k)
}

// ------------------------------------------------------------- SQL functions

/// Create a named data key; returns its first version (1).
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn create_key(name: Option<&str>) -> i32 {
    (|| -> Result<i32> {
        require_writable("create_key")?;
        let name = name.ok_or(AuthGuardError::NullArgument("name"))?;
        check_name(name)?;
        let wrapping = wrapping_key()?;
        Spi::connect_mut(|client| {
            client.select(plan(client, &NAME_LOCK)?, None, &[arg(name)])?;
            let rows = client.select(plan(client, &NAME_ROWS_FOR_UPDATE)?, None, &[arg(name)])?;
            if !rows.is_empty() {
                return Err(AuthGuardError::DuplicateObject(format!("key \"{name}\" already exists")));
            }
            verify_master_against_keyring(client, &wrapping)?;
            let id = uuid_gen::new_v4_bytes()?;
            let key = new_data_key()?;
            let wrapped = wrap_key(&wrapping, &id, 1, name, &key)?;
            client.update(plan(client, &INSERT_KEY)?, None, &[arg(Uuid::from_bytes(id)), arg(name), arg(1i32), arg(wrapped)])?;
            Ok(1)
        })
    })()
    .or_report()
}

/// Add a new active version of a key and retire the previous one (which still
/// decrypts). Returns the new version.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn rotate_key(name: Option<&str>) -> i32 {
    (|| -> Result<i32> {
        require_writable("rotate_key")?;
        let name = name.ok_or(AuthGuardError::NullArgument("name"))?;
        let wrapping = wrapping_key()?;
        Spi::connect_mut(|client| {
            client.select(plan(client, &NAME_LOCK)?, None, &[arg(name)])?;
            let rows = client.select(plan(client, &NAME_ROWS_FOR_UPDATE)?, None, &[arg(name)])?;
            let mut id = None;
            let mut max_version = 0u32;
            let mut active: Option<(u32, Vec<u8>)> = None;
            for row in rows {
                id = Some(uuid_bytes(&need(row.get::<Uuid>(1)?, "key_id")?));
                let v = to_version(need(row.get::<i32>(2)?, "version")?)?;
                max_version = max_version.max(v);
                if row.get::<bool>(4)? == Some(true) {
                    active = Some((v, need(row.get::<Vec<u8>>(3)?, "wrapped_key")?));
                }
            }
            let id = id.ok_or_else(|| unknown_key(name))?;
            // The current master key must open the key being rotated.
            if let Some((v, wrapped)) = &active {
                unwrap_key(&wrapping, &id, *v, name, wrapped).ok_or_else(|| wrong_master_key(name, *v))?;
            }
            let new_version = max_version
                .checked_add(1)
                .filter(|v| *v <= i32::MAX as u32)
                .ok_or_else(|| AuthGuardError::InvalidParameter("key has reached its last version".into()))?;
            client.update(plan(client, &RETIRE)?, None, &[arg(Uuid::from_bytes(id))])?;
            let key = new_data_key()?;
            let wrapped = wrap_key(&wrapping, &id, new_version, name, &key)?;
            client.update(
                plan(client, &INSERT_KEY)?,
                None,
                &[arg(Uuid::from_bytes(id)), arg(name), arg(new_version as i32), arg(wrapped)],
            )?;
            Ok(new_version as i32)
        })
    })()
    .or_report()
}

/// Encrypt under the active version of the named key. NULL name or plaintext
/// gives NULL; `aad` NULL means no associated data.
#[pg_extern(volatile, parallel_safe, security_definer)]
// Hot path: no pinned search_path (it costs a GUC save/restore per call);
// every statement it runs is fully schema-qualified.
pub fn encrypt_with_key(
    name: Option<&str>,
    plaintext: Option<&[u8]>,
    aad: default!(Option<&[u8]>, "NULL"),
) -> Option<Vec<u8>> {
    let (name, plaintext) = (name?, plaintext?);
    Some(
        (|| -> Result<Vec<u8>> {
            let wrapping = wrapping_key()?;
            let (id, version, key) = Spi::connect(|client| active_key(client, &wrapping, name))?;
            seal(&key, &id, version, plaintext, aad.unwrap_or(&[]))
        })()
        .or_report(),
    )
}

/// Decrypt a keyring ciphertext; the key and version are read from it, so
/// retired versions still decrypt.
#[pg_extern(stable, parallel_safe, security_definer)]
// Hot path: no pinned search_path (it costs a GUC save/restore per call);
// every statement it runs is fully schema-qualified.
pub fn decrypt_with_key(ciphertext: Option<&[u8]>, aad: default!(Option<&[u8]>, "NULL")) -> Option<Vec<u8>> {
    let ciphertext = ciphertext?;
    Some(
        (|| -> Result<Vec<u8>> {
            let env = Envelope::parse(ciphertext)?;
            let wrapping = wrapping_key()?;
            let key = Spi::connect(|client| key_of(client, &wrapping, &env))?;
            open(&key, &env, aad.unwrap_or(&[]))
        })()
        .or_report(),
    )
}

/// Re-encrypt to the active version of the ciphertext's key; returned
/// unchanged when it is already at the active version.
#[pg_extern(volatile, parallel_safe, security_definer)]
// Hot path: no pinned search_path (it costs a GUC save/restore per call);
// every statement it runs is fully schema-qualified.
pub fn reencrypt(ciphertext: Option<&[u8]>, aad: default!(Option<&[u8]>, "NULL")) -> Option<Vec<u8>> {
    let ciphertext = ciphertext?;
    Some(reencrypt_impl(ciphertext, aad.unwrap_or(&[])).or_report())
}

fn reencrypt_impl(ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let env = Envelope::parse(ciphertext)?;
    let wrapping = wrapping_key()?;
    Spi::connect(|client| {
        let (name, active_version, active_wrapped) = active_of_id(client, &env.key_id)?;
        let old = key_of(client, &wrapping, &env)?;
        let plain = Zeroizing::new(open(&old, &env, aad)?);
        if env.version == active_version {
            return Ok(ciphertext.to_vec());
        }
        let new = data_key(&wrapping, &env.key_id, active_version, &name, &active_wrapped)?;
        seal(&new, &env.key_id, active_version, &plain, aad)
    })
}

fn active_of_id(client: &SpiClient<'_>, key_id: &[u8; 16]) -> Result<(String, u32, Vec<u8>)> {
    let p = plan(client, &ACTIVE_BY_ID)?;
    let t = client.select(p, None, &[arg(Uuid::from_bytes(*key_id))])?;
    if t.is_empty() {
        return Err(AuthGuardError::UndefinedObject(format!(
            "the key of this ciphertext (id {}) has no active version in authguard.keys",
            Uuid::from_bytes(*key_id)
        )));
    }
    let row = t.first();
    Ok((
        need(row.get::<String>(1)?, "name")?,
        to_version(need(row.get::<i32>(2)?, "version")?)?,
        need(row.get::<Vec<u8>>(3)?, "wrapped_key")?,
    ))
}

/// The key version a ciphertext was made with (no key needed).
#[pg_extern(immutable, strict, parallel_safe)]
pub fn key_version_of(ciphertext: &[u8]) -> i32 {
    Envelope::parse(ciphertext).map(|e| e.version as i32).or_report()
}

/// Whether a value is behind the active version of its key (used by
/// `reencrypt_column` to skip rows already done, which is what makes it
/// resumable). NULL for NULL.
#[pg_extern(stable, strict, parallel_safe, security_definer)]
// Hot path: no pinned search_path (it costs a GUC save/restore per call);
// every statement it runs is fully schema-qualified.
pub fn _reencrypt_needed(ciphertext: &[u8]) -> bool {
    (|| -> Result<bool> {
        let env = Envelope::parse(ciphertext)?;
        let (_, active, _) = Spi::connect(|client| active_of_id(client, &env.key_id))?;
        Ok(env.version != active)
    })()
    .or_report()
}

/// Re-wrap every data key under a new master key (64 hex characters). The data
/// keys, and so every ciphertext, are unchanged. Superuser only. Afterwards set
/// `authguard.master_key` to the new key and reload (see docs/keyring.md).
/// Returns the number of key versions re-wrapped.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn rotate_master_key(new_master_key: Option<&str>) -> i32 {
    (|| -> Result<i32> {
        require_writable("rotate_master_key")?;
        // SAFETY: reads the session's authenticated user, not the definer.
        if !unsafe { pg_sys::superuser_arg(pg_sys::GetSessionUserId()) } {
            return Err(AuthGuardError::NotAuthorized("only a superuser may rotate the master key".into()));
        }
        let new_hex = new_master_key.ok_or(AuthGuardError::NullArgument("new_master_key"))?;
        let new_master = parse_master_hex(new_hex.as_bytes(), "new_master_key").map_err(|e| match e {
            AuthGuardError::NotConfigured { message, .. } => AuthGuardError::InvalidParameter(message.into()),
            other => other,
        })?;
        let new_wrapping = derive_wrapping_key(&new_master);
        let old_wrapping = wrapping_key()?;
        Spi::connect_mut(|client| {
            let rows = client.update(
                "SELECT key_id, version, name, wrapped_key FROM authguard.keys ORDER BY name, version FOR UPDATE",
                None,
                &[],
            )?;
            let mut rewrapped = Vec::new();
            for row in rows {
                let id = uuid_bytes(&need(row.get::<Uuid>(1)?, "key_id")?);
                let version = to_version(need(row.get::<i32>(2)?, "version")?)?;
                let name = need(row.get::<String>(3)?, "name")?;
                let wrapped = need(row.get::<Vec<u8>>(4)?, "wrapped_key")?;
                let key = unwrap_key(&old_wrapping, &id, version, &name, &wrapped)
                    .ok_or_else(|| wrong_master_key(&name, version))?;
                rewrapped.push((id, version, wrap_key(&new_wrapping, &id, version, &name, &key)?));
            }
            for (id, version, wrapped) in &rewrapped {
                client.update(
                    "UPDATE authguard.keys SET wrapped_key = $3 \
                     WHERE key_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
                    None,
                    &[arg(Uuid::from_bytes(*id)), arg(*version as i32), arg(wrapped.clone())],
                )?;
            }
            Ok(rewrapped.len() as i32)
        })
    })()
    .or_report()
}

// --------------------------------------------------------------------- tests

#[cfg(test)]
mod unit {
    use super::*;

    const K: [u8; 32] = [7u8; 32];
    const ID: [u8; 16] = [9u8; 16];

    #[test]
    fn envelope_roundtrip_and_layout() {
        let nonce = [3u8; NONCE_LEN];
        let ct = seal_with_nonce(&K, &ID, 3, &nonce, b"hello", b"ctx").unwrap();
        assert_eq!(ct.len(), MIN_CIPHERTEXT_LEN + 5);
        assert_eq!(ct[0], 0x81);
        assert_eq!(&ct[1..17], &ID);
        assert_eq!(&ct[17..21], &[0, 0, 0, 3]);
        assert_eq!(&ct[21..45], &nonce);
        let env = Envelope::parse(&ct).unwrap();
        assert_eq!((env.key_id, env.version), (ID, 3));
        assert_eq!(open(&K, &env, b"ctx").unwrap(), b"hello");
    }

    #[test]
    fn aad_and_header_are_authenticated() {
        let ct = seal(&K, &ID, 1, b"secret", b"row-1").unwrap();
        let env = Envelope::parse(&ct).unwrap();
        assert_eq!(open(&K, &env, b"row-2"), Err(AuthGuardError::AuthenticationFailed));
        assert_eq!(open(&K, &env, b""), Err(AuthGuardError::AuthenticationFailed));
        // Claiming another version (header byte) breaks the tag.
        let mut forged = ct.clone();
        forged[20] = 2;
        let env2 = Envelope::parse(&forged).unwrap();
        assert_eq!(open(&K, &env2, b"row-1"), Err(AuthGuardError::AuthenticationFailed));
        assert_eq!(open(&[8u8; 32], &env, b"row-1"), Err(AuthGuardError::AuthenticationFailed));
    }

    #[test]
    fn parser_rejects_empty_truncated_and_unknown() {
        let ct = seal(&K, &ID, 1, b"", b"").unwrap();
        assert_eq!(ct.len(), MIN_CIPHERTEXT_LEN);
        assert!(Envelope::parse(&ct).is_ok());
        for bad in [&[][..], &ct[..MIN_CIPHERTEXT_LEN - 1], &ct[..1]] {
            assert!(matches!(Envelope::parse(bad), Err(AuthGuardError::MalformedInput(_))), "{}", bad.len());
        }
        let mut unknown = ct.clone();
        unknown[0] = 0x82;
        let e = Envelope::parse(&unknown).unwrap_err();
        assert!(e.message().contains("unknown format byte 0x82"), "{e}");
        let mut zero = ct.clone();
        zero[17..21].copy_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(Envelope::parse(&zero), Err(AuthGuardError::MalformedInput(_))));
    }

    #[test]
    fn master_hex_parsing() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let k = parse_master_hex(format!("  {hex}\n").as_bytes(), "authguard.master_key").unwrap();
        assert_eq!(k[0], 0x00);
        assert_eq!(k[9], 0x99);
        assert_eq!(k[31], 0xff);
        for bad in ["", "abc", &hex[..63], &format!("{hex}0"), &hex.replace('a', "g")] {
            let e = parse_master_hex(bad.as_bytes(), "authguard.master_key").unwrap_err();
            assert!(matches!(e, AuthGuardError::NotConfigured { .. }));
            assert!(e.message().contains("authguard.master_key is malformed"), "{e}");
            assert!(!e.message().contains("0011223344"), "never echo the value");
        }
    }

    #[test]
    fn secret_setting_changes_are_recognized() {
        assert!(reveals_secret(b"parameter \"authguard.master_key\" changed to \"00ff\""));
        assert!(reveals_secret(b"parameter \"authguard.hash_key\" changed to \"x\""));
        assert!(!reveals_secret(b"parameter \"authguard.reuse_interval\" changed to \"5s\""));
    }

    #[test]
    fn preload_lists_are_parsed() {
        use crate::gucs::lists_library;
        assert!(lists_library("pg_authguard"));
        assert!(lists_library("auto_explain, \"$libdir/pg_authguard\""));
        assert!(lists_library("pg_authguard.so,x"));
        assert!(!lists_library(""));
        assert!(!lists_library("pg_authguard_old, auto_explain"));
    }

    #[test]
    fn wrapping_is_bound_to_master_id_version_and_name() {
        let w = derive_wrapping_key(&[1u8; 32]);
        let data = [5u8; 32];
        let wrapped = wrap_key(&w, &ID, 2, "pii", &data).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(*unwrap_key(&w, &ID, 2, "pii", &wrapped).unwrap(), data);
        let wrong = derive_wrapping_key(&[2u8; 32]);
        assert!(unwrap_key(&wrong, &ID, 2, "pii", &wrapped).is_none());
        assert!(unwrap_key(&w, &ID, 3, "pii", &wrapped).is_none());
        assert!(unwrap_key(&w, &ID, 2, "pij", &wrapped).is_none());
        assert!(unwrap_key(&w, &[0u8; 16], 2, "pii", &wrapped).is_none());
        assert!(unwrap_key(&w, &ID, 2, "pii", &wrapped[..WRAPPED_LEN - 1]).is_none());
        assert_ne!(*w, [1u8; 32], "the master key is not used directly");
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    const MK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const MK2: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn set_master(k: &str) {
        Spi::run(&format!("SET authguard.master_key = '{k}'")).unwrap();
    }

    fn bytes(sql: &str) -> Option<Vec<u8>> {
        Spi::get_one::<Vec<u8>>(sql).unwrap()
    }

    fn int(sql: &str) -> Option<i32> {
        Spi::get_one::<i32>(sql).unwrap()
    }

    /// The SQLSTATE and message of a statement's error, run in a subtransaction.
    fn error_of(sql: &str) -> (String, String) {
        Spi::get_two::<String, String>(&format!(
            "SELECT * FROM pg_temp.err_of($q${sql}$q$)"
        ))
        .map(|(a, b)| (a.unwrap_or_default(), b.unwrap_or_default()))
        .unwrap()
    }

    fn setup_err_helper() {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.err_of(q text, OUT state text, OUT msg text) LANGUAGE plpgsql AS $f$
             BEGIN EXECUTE q; state := 'ok'; msg := '';
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
             END $f$",
        )
        .unwrap();
    }

    #[pg_test]
    fn roundtrip_and_nulls() {
        set_master(MK);
        assert_eq!(int("SELECT authguard.create_key('t1')"), Some(1));
        let pt = bytes("SELECT authguard.decrypt_with_key(authguard.encrypt_with_key('t1', 'hello'::bytea))");
        assert_eq!(pt.as_deref(), Some(&b"hello"[..]));
        assert_eq!(bytes("SELECT authguard.encrypt_with_key(NULL, 'x'::bytea)"), None);
        assert_eq!(bytes("SELECT authguard.encrypt_with_key('t1', NULL)"), None);
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(NULL)"), None);
        assert_eq!(bytes("SELECT authguard.reencrypt(NULL)"), None);
        assert_eq!(int("SELECT authguard.key_version_of(NULL)"), None);
        // Explicit NULL aad is "absent", the same as no aad.
        let pt = bytes("SELECT authguard.decrypt_with_key(authguard.encrypt_with_key('t1', 'x'::bytea, NULL))");
        assert_eq!(pt.as_deref(), Some(&b"x"[..]));
        // Empty plaintext works; two encryptions differ (random nonce).
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(authguard.encrypt_with_key('t1', ''::bytea))"), Some(vec![]));
        let same = Spi::get_one::<bool>(
            "SELECT authguard.encrypt_with_key('t1', 'a'::bytea) = authguard.encrypt_with_key('t1', 'a'::bytea)",
        )
        .unwrap();
        assert_eq!(same, Some(false));
        // Layout: format byte 0x81, length = 61 + plaintext.
        let ct = bytes("SELECT authguard.encrypt_with_key('t1', 'abc'::bytea)").unwrap();
        assert_eq!(ct[0], 0x81);
        assert_eq!(ct.len(), 64);
    }

    #[pg_test]
    fn rotation_across_three_versions_with_mixed_rows() {
        set_master(MK);
        Spi::run("SELECT authguard.create_key('rot')").unwrap();
        Spi::run("CREATE TEMP TABLE mixed (id int, c bytea)").unwrap();
        Spi::run("INSERT INTO mixed SELECT g, authguard.encrypt_with_key('rot', convert_to('v' || g, 'UTF8')) FROM generate_series(1, 10) g").unwrap();
        assert_eq!(int("SELECT authguard.rotate_key('rot')"), Some(2));
        Spi::run("INSERT INTO mixed SELECT g, authguard.encrypt_with_key('rot', convert_to('v' || g, 'UTF8')) FROM generate_series(11, 20) g").unwrap();
        assert_eq!(int("SELECT authguard.rotate_key('rot')"), Some(3));
        Spi::run("INSERT INTO mixed SELECT g, authguard.encrypt_with_key('rot', convert_to('v' || g, 'UTF8')) FROM generate_series(21, 30) g").unwrap();
        let versions = Spi::get_one::<String>(
            "SELECT string_agg(v::text || ':' || n, ',' ORDER BY v) FROM \
             (SELECT authguard.key_version_of(c) v, count(*) n FROM mixed GROUP BY 1) s",
        )
        .unwrap();
        assert_eq!(versions.as_deref(), Some("1:10,2:10,3:10"));
        // Retired versions still decrypt.
        assert_eq!(
            int("SELECT count(*)::int FROM mixed WHERE convert_from(authguard.decrypt_with_key(c), 'UTF8') = 'v' || id"),
            Some(30)
        );
        assert_eq!(
            int("SELECT count(*)::int FROM authguard.keys WHERE name = 'rot' AND status = 'retired' AND retired_at IS NOT NULL"),
            Some(2)
        );
        // reencrypt moves old rows to v3 and leaves v3 rows byte-identical.
        assert_eq!(
            Spi::get_one::<bool>("SELECT bool_and(authguard.reencrypt(c) = c) FROM mixed WHERE id > 20").unwrap(),
            Some(true)
        );
        Spi::run("UPDATE mixed SET c = authguard.reencrypt(c)").unwrap();
        assert_eq!(int("SELECT min(authguard.key_version_of(c)) FROM mixed"), Some(3));
        assert_eq!(
            int("SELECT count(*)::int FROM mixed WHERE convert_from(authguard.decrypt_with_key(c), 'UTF8') = 'v' || id"),
            Some(30)
        );
        assert_eq!(Spi::get_one::<bool>("SELECT bool_or(authguard._reencrypt_needed(c)) FROM mixed").unwrap(), Some(false));
    }

    #[pg_test]
    fn aad_is_bound() {
        set_master(MK);
        setup_err_helper();
        Spi::run("SELECT authguard.create_key('aad')").unwrap();
        Spi::run("CREATE TEMP TABLE a AS SELECT authguard.encrypt_with_key('aad', 'pii'::bytea, 'row-1'::bytea) c").unwrap();
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(c, 'row-1'::bytea) FROM a").as_deref(), Some(&b"pii"[..]));
        let (state, msg) = error_of("SELECT authguard.decrypt_with_key(c, 'row-2'::bytea) FROM a");
        assert_eq!(state, "22000");
        assert!(msg.contains("authentication failed"), "{msg}");
        assert_eq!(error_of("SELECT authguard.decrypt_with_key(c) FROM a").0, "22000");
        assert_eq!(error_of("SELECT authguard.reencrypt(c, 'row-2'::bytea) FROM a").0, "22000");
        // A flipped byte of the body fails authentication too.
        assert_eq!(
            error_of("SELECT authguard.decrypt_with_key(set_byte(c, 50, get_byte(c, 50) # 1), 'row-1'::bytea) FROM a").0,
            "22000"
        );
    }

    #[pg_test]
    fn errors_have_their_sqlstates() {
        set_master(MK);
        setup_err_helper();
        Spi::run("SELECT authguard.create_key('e')").unwrap();
        let (s, m) = error_of("SELECT authguard.create_key('e')");
        assert_eq!((s.as_str(), m.as_str()), ("42710", "pg_authguard: key \"e\" already exists"));
        let (s, m) = error_of("SELECT authguard.encrypt_with_key('nope', 'x'::bytea)");
        assert_eq!(s, "42704");
        assert!(m.contains("\"nope\""), "{m}");
        assert_eq!(error_of("SELECT authguard.rotate_key('nope')").0, "42704");
        assert_eq!(error_of("SELECT authguard.create_key(NULL)").0, "22004");
        assert_eq!(error_of("SELECT authguard.create_key('')").0, "22023");
        assert_eq!(error_of("SELECT authguard.decrypt_with_key('\\x'::bytea)").0, "22P02");
        assert_eq!(error_of("SELECT authguard.decrypt_with_key('\\x8100'::bytea)").0, "22P02");
        assert_eq!(error_of("SELECT authguard.key_version_of('\\x01020304'::bytea)").0, "22P02");
        let (s, m) = error_of("SELECT authguard.decrypt_with_key(set_byte(authguard.encrypt_with_key('e', 'x'::bytea), 1, 0))");
        assert_eq!(s, "42704", "{m}");
        assert_eq!(error_of("SELECT authguard.rotate_master_key('abc')").0, "22023");
    }

    #[pg_test]
    fn missing_malformed_and_wrong_master_key() {
        setup_err_helper();
        Spi::run("RESET authguard.master_key").unwrap();
        let (s, m) = error_of("SELECT authguard.create_key('m')");
        assert_eq!(s, "55000");
        assert!(m.contains("authguard.master_key"), "{m}");
        Spi::run("SET authguard.master_key = 'not-hex'").unwrap();
        let (s, m) = error_of("SELECT authguard.create_key('m')");
        assert_eq!(s, "55000");
        assert!(m.contains("authguard.master_key is malformed") && !m.contains("not-hex"), "{m}");

        set_master(MK);
        Spi::run("SELECT authguard.create_key('m')").unwrap();
        Spi::run("CREATE TEMP TABLE w AS SELECT authguard.encrypt_with_key('m', 'data'::bytea) c").unwrap();
        set_master(MK2);
        for q in [
            "SELECT authguard.decrypt_with_key(c) FROM w",
            "SELECT authguard.encrypt_with_key('m', 'x'::bytea)",
            "SELECT authguard.rotate_key('m')",
            "SELECT authguard.create_key('m2')",
        ] {
            let (s, m) = error_of(q);
            assert_eq!(s, "55000", "{q}: {m}");
            assert!(m.contains("wrong master key"), "{q}: {m}");
        }
        set_master(MK);
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(c) FROM w").as_deref(), Some(&b"data"[..]));
    }

    #[pg_test]
    fn rotate_master_key_rewraps_everything() {
        set_master(MK);
        setup_err_helper();
        Spi::run("SELECT authguard.create_key('r1')").unwrap();
        Spi::run("SELECT authguard.rotate_key('r1')").unwrap();
        Spi::run("SELECT authguard.create_key('r2')").unwrap();
        Spi::run("CREATE TEMP TABLE rm AS SELECT authguard.encrypt_with_key('r1', 'one'::bytea) a, authguard.encrypt_with_key('r2', 'two'::bytea) b").unwrap();
        let before = int("SELECT count(*)::int FROM authguard.keys");
        assert_eq!(int(&format!("SELECT authguard.rotate_master_key('{MK2}')")), before);
        set_master(MK2);
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(a) FROM rm").as_deref(), Some(&b"one"[..]));
        assert_eq!(bytes("SELECT authguard.decrypt_with_key(b) FROM rm").as_deref(), Some(&b"two"[..]));
        assert_eq!(int("SELECT authguard.rotate_key('r1')"), Some(3));
        set_master(MK);
        assert_eq!(error_of("SELECT authguard.decrypt_with_key(a) FROM rm").0, "55000");
    }

    #[pg_test]
    fn app_role_cannot_read_keys() {
        set_master(MK);
        setup_err_helper();
        Spi::run("SELECT authguard.create_key('priv')").unwrap();
        Spi::run("SET LOCAL ROLE authguard_app").unwrap();
        let (s, _) = error_of("SELECT count(*) FROM authguard.keys");
        assert_eq!(s, "42501");
        let pt = bytes("SELECT authguard.decrypt_with_key(authguard.encrypt_with_key('priv', 'ok'::bytea))");
        assert_eq!(pt.as_deref(), Some(&b"ok"[..]));
        assert_eq!(error_of("SELECT authguard.create_key('x')").0, "42501");
        assert_eq!(error_of("SHOW authguard.master_key").0, "42501");
        assert_eq!(int("SELECT count(*)::int FROM pg_settings WHERE name = 'authguard.master_key'"), Some(0));
        Spi::run("RESET ROLE").unwrap();
    }
}

/// Properties of the keyring's pure parsers over many generated inputs
/// (fixed seed, so a failure reproduces), biased toward near-valid inputs.
#[cfg(test)]
mod parser_properties {
    use super::*;

    use crate::test_rng::Rng;

    #[test]
    fn keyring_envelope_parse_accepts_exactly_the_format() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let len = rng.below(2 * MIN_CIPHERTEXT_LEN as u64) as usize;
            let mut ct = rng.bytes(len);
            if !ct.is_empty() && rng.below(2) == 0 {
                ct[0] = FORMAT_XCHACHA_V1;
            }
            if ct.len() > 20 && rng.below(2) == 0 {
                ct[17..21].copy_from_slice(&(rng.below(4) as u32).to_be_bytes());
            }
            let version = (ct.len() > 20).then(|| u32::from_be_bytes([ct[17], ct[18], ct[19], ct[20]]));
            let valid = ct.first() == Some(&FORMAT_XCHACHA_V1)
                && ct.len() >= MIN_CIPHERTEXT_LEN
                && version.is_some_and(|v| v >= 1 && v <= i32::MAX as u32);
            match Envelope::parse(&ct) {
                Ok(env) => {
                    assert!(valid, "accepted {ct:02x?}");
                    assert_eq!(env.version, version.unwrap());
                    assert_eq!(&env.key_id[..], &ct[1..17]);
                    assert_eq!([env.header, env.nonce, env.body].concat(), ct, "the parts are the whole");
                    assert_eq!(env.nonce.len(), NONCE_LEN);
                }
                Err(e) => {
                    assert!(!valid, "refused a well-formed ciphertext: {e}");
                    assert!(matches!(e, AuthGuardError::MalformedInput(_)), "{e:?}");
                }
            }
        }
    }

    #[test]
    fn master_key_hex_accepts_exactly_64_hex_digits() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let alphabet = b"0123456789abcdefABCDEFxyz \n\t-";
        for _ in 0..50_000 {
            let len = [63usize, 64, 65, 66, 0, 10][rng.below(6) as usize];
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    let span = if rng.below(4) == 0 { alphabet.len() as u64 } else { 22 };
                    alphabet[rng.below(span) as usize]
                })
                .collect();
            let trimmed = text.trim_ascii();
            let valid = trimmed.len() == 64 && trimmed.iter().all(u8::is_ascii_hexdigit);
            match parse_master_hex(&text, "authguard.master_key") {
                Ok(key) => {
                    assert!(valid);
                    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                    assert_eq!(hex, String::from_utf8_lossy(trimmed).to_lowercase());
                }
                Err(e) => {
                    assert!(!valid, "refused {:?}", String::from_utf8_lossy(&text));
                    assert!(!e.message().contains(&*String::from_utf8_lossy(trimmed)) || trimmed.is_empty(),
                            "the message must not echo the key");
                }
            }
        }
    }

    #[test]
    fn sealed_ciphertexts_open_and_any_change_is_refused() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        let key = [7u8; 32];
        for _ in 0..2_000 {
            let (plen, alen) = (rng.below(300) as usize, rng.below(20) as usize);
            let plaintext = rng.bytes(plen);
            let aad = rng.bytes(alen);
            let ct = seal(&key, &[1; 16], 3, &plaintext, &aad).unwrap();
            let env = Envelope::parse(&ct).unwrap();
            assert_eq!(open(&key, &env, &aad).unwrap(), plaintext);
            let mut tampered = ct.clone();
            let i = rng.below(tampered.len() as u64) as usize;
            tampered[i] ^= 1 << rng.below(8);
            if let Ok(env) = Envelope::parse(&tampered) {
                assert!(open(&key, &env, &aad).is_err(), "a flipped bit at {i} still opened");
            }
        }
    }
}
