//! The one error type of the extension.
//!
//! Every failure a caller can cause is an [`AuthGuardError`]; each variant maps
//! to exactly one SQLSTATE, so the same mistake always yields the same code and
//! the same wording wherever it is detected. Messages never carry key material,
//! plaintexts or tokens: only names, lengths and what to fix.

use pgrx::pg_sys::errcodes::PgSqlErrorCode;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgLogLevel;
use std::borrow::Cow;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, AuthGuardError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthGuardError {
    /// 22023: an argument has a wrong length or an out-of-range value.
    InvalidParameter(Cow<'static, str>),
    /// 22004: a required argument is NULL.
    NullArgument(&'static str),
    /// 22P02: an encoded input (base64, hex, ciphertext envelope) is malformed.
    MalformedInput(Cow<'static, str>),
    /// 22000: a ciphertext failed authentication (tampered, wrong key or wrong AAD).
    AuthenticationFailed,
    /// 22015: an interval does not fit the range we accept.
    IntervalOutOfRange(Cow<'static, str>),
    /// 23514: a row breaks the encryption-version contract.
    CheckViolation { message: String, detail: String },
    /// 28000: the caller asked for something it has no right to (e.g. a family
    /// owned by another user).
    NotAuthorized(Cow<'static, str>),
    /// 42703: a table given by regclass lacks a column we need.
    UndefinedColumn(String),
    /// 42P01: a table given by regclass/OID does not exist.
    UndefinedTable(String),
    /// 42704: a named object (key, family) does not exist.
    UndefinedObject(String),
    /// 42710: a named object already exists.
    DuplicateObject(String),
    /// 25006: a write was attempted on a hot standby or in a read-only transaction.
    ReadOnly(&'static str),
    /// 55000: configuration the operation needs is missing or unusable
    /// (e.g. `authguard.master_key` not set, or wrong).
    NotConfigured { message: String, hint: Option<String> },
    /// 54000: an input is larger than we are willing to process.
    TooLarge(Cow<'static, str>),
    /// 0A000: the function was called in a way it does not support
    /// (e.g. a set-returning function where no set is accepted).
    Unsupported(&'static str),
    /// XX000: an internal invariant failed; a bug, never the caller's fault.
    Internal(String),
}

impl AuthGuardError {
    /// The SQLSTATE this error is reported with.
    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use AuthGuardError::*;
        match self {
            InvalidParameter(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            NullArgument(_) => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            MalformedInput(_) => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            AuthenticationFailed => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            IntervalOutOfRange(_) => PgSqlErrorCode::ERRCODE_INTERVAL_FIELD_OVERFLOW,
            CheckViolation { .. } => PgSqlErrorCode::ERRCODE_CHECK_VIOLATION,
            NotAuthorized(_) => PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            UndefinedColumn(_) => PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            UndefinedTable(_) => PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            UndefinedObject(_) => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            DuplicateObject(_) => PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            ReadOnly(_) => PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            NotConfigured { .. } => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            TooLarge(_) => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            Unsupported(_) => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            Internal(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        }
    }

    /// The primary message, prefixed with `pg_authguard:` like core extensions do.
    pub fn message(&self) -> String {
        use AuthGuardError::*;
        let body: Cow<'_, str> = match self {
            InvalidParameter(m) | MalformedInput(m) | IntervalOutOfRange(m) | NotAuthorized(m)
            | TooLarge(m) => Cow::Borrowed(m.as_ref()),
            NullArgument(arg) => Cow::Owned(format!("argument \"{arg}\" must not be NULL")),
            AuthenticationFailed => {
                Cow::Borrowed("decryption failed: authentication failed (tampered ciphertext, wrong key or wrong AAD)")
            }
            CheckViolation { message, .. } => Cow::Borrowed(message.as_str()),
            UndefinedColumn(m) | UndefinedTable(m) | UndefinedObject(m) | DuplicateObject(m) | Internal(m) => {
                Cow::Borrowed(m.as_str())
            }
            ReadOnly(what) => Cow::Owned(format!(
                "{what} writes to the database and cannot run in a read-only transaction or on a hot standby"
            )),
            NotConfigured { message, .. } => Cow::Borrowed(message.as_str()),
            Unsupported(m) => Cow::Borrowed(*m),
        };
        format!("pg_authguard: {body}")
    }

    fn detail(&self) -> Option<&str> {
        match self {
            AuthGuardError::CheckViolation { detail, .. } => Some(detail),
            _ => None,
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            AuthGuardError::NotConfigured { hint, .. } => hint.as_deref(),
            AuthGuardError::ReadOnly(_) => Some("Call it on the primary, outside a READ ONLY transaction."),
            _ => None,
        }
    }

    /// Raise this error as a Postgres `ERROR`. Never returns.
    #[track_caller]
    pub fn report(self) -> ! {
        let mut report = ErrorReport::new(self.sqlstate(), self.message(), "pg_authguard");
        if let Some(detail) = self.detail() {
            report = report.set_detail(detail.to_owned());
        }
        if let Some(hint) = self.hint() {
            report = report.set_hint(hint.to_owned());
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR-level reports do not return")
    }
}

impl std::fmt::Display for AuthGuardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for AuthGuardError {}

impl From<pgrx::spi::SpiError> for AuthGuardError {
    fn from(e: pgrx::spi::SpiError) -> Self {
        AuthGuardError::Internal(format!("SPI failure: {e}"))
    }
}

/// Unwrap a [`Result`] or raise its error. Used at the SQL boundary.
pub trait OrReport<T> {
    fn or_report(self) -> T;
}

impl<T> OrReport<T> for Result<T> {
    #[track_caller]
    #[inline]
    fn or_report(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.report(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_distinct_purposeful_sqlstate() {
        let cases = [
            (AuthGuardError::InvalidParameter("x".into()), "22023"),
            (AuthGuardError::NullArgument("x"), "22004"),
            (AuthGuardError::MalformedInput("x".into()), "22P02"),
            (AuthGuardError::AuthenticationFailed, "22000"),
            (AuthGuardError::IntervalOutOfRange("x".into()), "22015"),
            (AuthGuardError::CheckViolation { message: "m".into(), detail: "d".into() }, "23514"),
            (AuthGuardError::NotAuthorized("x".into()), "28000"),
            (AuthGuardError::UndefinedColumn("x".into()), "42703"),
            (AuthGuardError::UndefinedTable("x".into()), "42P01"),
            (AuthGuardError::UndefinedObject("x".into()), "42704"),
            (AuthGuardError::DuplicateObject("x".into()), "42710"),
            (AuthGuardError::ReadOnly("x"), "25006"),
            (AuthGuardError::NotConfigured { message: "m".into(), hint: None }, "55000"),
            (AuthGuardError::TooLarge("x".into()), "54000"),
            (AuthGuardError::Unsupported("x"), "0A000"),
            (AuthGuardError::Internal("x".into()), "XX000"),
        ];
        for (err, expected) in cases {
            assert_eq!(sqlstate_text(err.sqlstate()), expected, "{err:?}");
        }
    }

    #[test]
    fn messages_are_prefixed_and_name_the_argument() {
        assert_eq!(
            AuthGuardError::NullArgument("family_id").message(),
            "pg_authguard: argument \"family_id\" must not be NULL"
        );
        assert!(AuthGuardError::AuthenticationFailed.message().contains("authentication failed"));
    }

    /// Decode Postgres' MAKE_SQLSTATE packing (6 bits a character, '0' based).
    fn sqlstate_text(code: PgSqlErrorCode) -> String {
        let mut v = code as i32;
        let mut s = String::new();
        for _ in 0..5 {
            s.push((((v & 0x3F) as u8) + b'0') as char);
            v >>= 6;
        }
        s
    }
}
