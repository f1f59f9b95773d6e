//! pg_authguard: session and token security inside PostgreSQL.
//!
//! Module map (one concern each):
//! - [`errors`]: the single error type and its SQLSTATE mapping.
//! - [`gucs`]: the `authguard.*` settings.
//! - [`crypto`]: hashing, MACs, KDF, X25519 and AEAD primitives as SQL functions.
//! - [`privacy`]: device hashes, IP truncation, token hashing.
//! - [`sessions`]: refresh-token rotation, replay detection, revocation, cleanup.
//! - [`session_probe`]: `validate_session`'s index probe without SPI.
//! - [`keyring`]: master key, versioned data keys, envelope encryption, re-encryption.
//! - [`spi_plans`]: SPI plans kept across calls for the hot paths.
//! - [`srf`]: one-row `RETURNS TABLE` results in materialize mode.
//! - [`encryption_checks`]: the encryption-version contract, its CHECK function and row triggers.
//! - [`stats`]: stats over the application's own tables.

use pgrx::prelude::*;

pub mod crypto;
pub mod encryption_checks;
pub mod errors;
pub mod gucs;
pub mod keyring;
pub mod privacy;
pub mod session_probe;
pub mod sessions;
pub mod spi_plans;
pub mod srf;
pub mod stats;
pub mod uuid_gen;

#[cfg(test)]
mod test_rng;

::pgrx::pg_module_magic!(name, version);

// Roles are cluster-wide; the schema's tables and views come next; grants last.
extension_sql_file!("../sql/roles.sql", name = "roles", bootstrap);
extension_sql_file!("../sql/sessions.sql", name = "sessions_schema", requires = ["roles"]);
extension_sql_file!("../sql/keyring.sql", name = "keyring_schema", requires = ["roles"]);
extension_sql_file!("../sql/grants.sql", name = "grants", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::register();
    // SAFETY: plain read of a backend-global flag.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        keyring::install_log_redaction();
    } else if !gucs::preloaded_everywhere() {
        // A secret set in the configuration is only hidden from other roles when
        // the library is preloaded: before a backend loads it, the value sits in
        // a plain placeholder setting that every role can SHOW. Say so loudly
        // (the keyring and the hash key also refuse to use such a value).
        let exposed = gucs::secrets_exposed_before_load();
        if !exposed.is_empty() {
            pgrx::ereport!(
                PgLogLevel::WARNING,
                PgSqlErrorCode::ERRCODE_WARNING,
                format!(
                    "pg_authguard: {} set in the configuration but pg_authguard is not preloaded",
                    exposed.join(", ")
                ),
                "Until a session loads pg_authguard, any role can read such a setting with SHOW. \
                 Add pg_authguard to shared_preload_libraries (restart) or session_preload_libraries (reload)."
            );
        }
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
