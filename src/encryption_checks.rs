//! The encryption-version contract of application rows, and the row triggers
//! that replace per-table PL/pgSQL ones.
//!
//! Owns: `encryption_row_valid()` (for CHECK constraints), the trigger
//! functions `check_encryption_version()` and `set_updated_at()`, and the pure
//! decision [`row_fault`] both share. The contract (SPEC): version 1 is
//! plaintext and carries no ciphertext or nonce; version 2 (ChaCha20-Poly1305
//! E2EE) has a ciphertext of at least 16 bytes (the tag), a nonce of exactly
//! 12 bytes and an empty `content`. Any other version is not valid.

use crate::crypto::{NONCE_LEN, TAG_LEN};
use crate::errors::{AuthGuardError, OrReport};

// Not imported as `Result`: `#[pg_trigger]` expands to code naming std's two-parameter `Result`.
type Fallible<T> = crate::errors::Result<T>;
use pgrx::prelude::*;
use pgrx::{direct_function_call_as_datum, PgTupleDesc};
use std::num::NonZeroUsize;

/// What a row carries, reduced to what the contract looks at: lengths, never contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowShape {
    pub version: Option<i64>,
    /// Byte length of `content`; NULL counts as empty (no plaintext).
    pub content_len: usize,
    pub ciphertext_len: Option<usize>,
    pub nonce_len: Option<usize>,
}

/// The first way a row breaks the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFault {
    NullVersion,
    UnknownVersion(i64),
    PlaintextWithCiphertext,
    PlaintextWithNonce,
    MissingCiphertext,
    CiphertextTooShort(usize),
    MissingNonce,
    WrongNonceLength(usize),
    ContentNotEmpty,
}

/// The contract as a pure function: `None` when the row is valid.
pub fn row_fault(row: &RowShape) -> Option<RowFault> {
    use RowFault::*;
    match row.version {
        None => Some(NullVersion),
        Some(1) => {
            if row.ciphertext_len.is_some() {
                Some(PlaintextWithCiphertext)
            } else if row.nonce_len.is_some() {
                Some(PlaintextWithNonce)
            } else {
                None
            }
        }
        Some(2) => match (row.ciphertext_len, row.nonce_len) {
            (None, _) => Some(MissingCiphertext),
            (Some(n), _) if n < TAG_LEN => Some(CiphertextTooShort(n)),
            (_, None) => Some(MissingNonce),
            (_, Some(n)) if n != NONCE_LEN => Some(WrongNonceLength(n)),
            _ if row.content_len != 0 => Some(ContentNotEmpty),
            _ => None,
        },
        Some(v) => Some(UnknownVersion(v)),
    }
}

/// The columns the trigger reads; the defaults are the baseline `messages` table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractColumns {
    pub version: String,
    pub content: String,
    pub ciphertext: String,
    pub nonce: String,
}

impl ContractColumns {
    /// Trigger arguments, positional, each optional: version, content, ciphertext, nonce.
    pub fn from_args(args: &[String]) -> Fallible<Self> {
        if args.len() > 4 {
            return Err(AuthGuardError::InvalidParameter(
                format!(
                    "check_encryption_version() takes at most 4 trigger arguments (version, content, ciphertext, nonce columns), got {}",
                    args.len()
                )
                .into(),
            ));
        }
        let pick = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
        Ok(ContractColumns {
            version: pick(0, "encryption_version"),
            content: pick(1, "content"),
            ciphertext: pick(2, "content_encrypted"),
            nonce: pick(3, "content_nonce"),
        })
    }

    /// What is wrong, in the table's own column names.
    pub fn describe(&self, fault: RowFault) -> String {
        let ContractColumns { version: v, content: c, ciphertext: ct, nonce: n } = self;
        match fault {
            RowFault::NullVersion => format!("{v} is NULL"),
            RowFault::UnknownVersion(x) => format!("{v} {x} is not a known version (1 = plaintext, 2 = ChaCha20-Poly1305)"),
            RowFault::PlaintextWithCiphertext => format!("{v} 1 (plaintext) must not carry {ct}"),
            RowFault::PlaintextWithNonce => format!("{v} 1 (plaintext) must not carry {n}"),
            RowFault::MissingCiphertext => format!("{v} 2 requires {ct}"),
            RowFault::CiphertextTooShort(len) => {
                format!("{v} 2 requires {ct} of at least {TAG_LEN} bytes (the tag), got {len}")
            }
            RowFault::MissingNonce => format!("{v} 2 requires {n}"),
            RowFault::WrongNonceLength(len) => format!("{v} 2 requires {n} of exactly {NONCE_LEN} bytes, got {len}"),
            RowFault::ContentNotEmpty => format!("{v} 2 requires an empty {c} (the plaintext must not be stored)"),
        }
    }
}

const CONTRACT_DETAIL: &str = "Version 1 is plaintext with no ciphertext and no nonce; version 2 has a ciphertext of at least 16 bytes, a 12-byte nonce and empty content.";

/// True when the row satisfies the contract. A NULL version gives NULL, so in a
/// CHECK constraint it passes and the column's NOT NULL decides (SQL's rule for
/// CHECK); the other arguments are NULL when absent, which is meaningful.
#[pg_extern(immutable, parallel_safe)]
fn encryption_row_valid(
    version: Option<i32>,
    content: Option<&str>,
    ciphertext: Option<&[u8]>,
    nonce: Option<&[u8]>,
) -> Option<bool> {
    let row = RowShape {
        version: Some(i64::from(version?)),
        content_len: content.map_or(0, str::len),
        ciphertext_len: ciphertext.map(<[u8]>::len),
        nonce_len: nonce.map(<[u8]>::len),
    };
    Some(row_fault(&row).is_none())
}

// ----------------------------------------------------------------- triggers

/// The row being written and its descriptor, checked to be a BEFORE ROW
/// INSERT/UPDATE trigger call.
struct TriggerRow<'a> {
    tuple: *mut pg_sys::HeapTupleData,
    tupdesc: pg_sys::TupleDesc,
    trigger: &'a PgTrigger<'a>,
}

impl<'a> TriggerRow<'a> {
    fn new(trigger: &'a PgTrigger<'a>, function: &'static str) -> Fallible<Self> {
        let ok = matches!(trigger.when(), Ok(PgTriggerWhen::Before))
            && matches!(trigger.level(), PgTriggerLevel::Row)
            && matches!(trigger.op(), Ok(PgTriggerOperation::Insert | PgTriggerOperation::Update));
        if !ok {
            return Err(AuthGuardError::NotConfigured {
                message: format!("{function} must be fired BEFORE INSERT OR UPDATE ... FOR EACH ROW"),
                hint: Some(format!("CREATE TRIGGER ... BEFORE INSERT OR UPDATE ON tbl FOR EACH ROW EXECUTE FUNCTION authguard.{function}")),
            });
        }
        let data = trigger.trigger_data();
        let tuple = if matches!(trigger.op(), Ok(PgTriggerOperation::Update)) {
            data.tg_newtuple
        } else {
            data.tg_trigtuple
        };
        // SAFETY: fmgr hands a row trigger a valid relation.
        let tupdesc = unsafe { (*data.tg_relation).rd_att };
        Ok(TriggerRow { tuple, tupdesc, trigger })
    }

    fn table(&self) -> String {
        let schema = self.trigger.table_schema().unwrap_or_default();
        let name = self.trigger.table_name().unwrap_or_default();
        pgrx::spi::quote_qualified_identifier(schema, name)
    }

    /// Attribute number and type of a live column, or 42703 naming table and column.
    fn column(&self, name: &str) -> Fallible<(NonZeroUsize, pg_sys::Oid)> {
        // SAFETY: tupdesc belongs to the trigger's relation and outlives this call.
        let desc = unsafe { PgTupleDesc::from_pg_unchecked(self.tupdesc) };
        desc.iter()
            .enumerate()
            .find(|(_, att)| !att.is_dropped() && att.name() == name)
            .map(|(i, att)| (NonZeroUsize::new(i + 1).unwrap(), att.type_oid().value()))
            .ok_or_else(|| {
                AuthGuardError::UndefinedColumn(format!("column \"{name}\" of table {} does not exist", self.table()))
            })
    }

    fn datum(&self, attno: NonZeroUsize) -> Option<pg_sys::Datum> {
        // SAFETY: tuple and tupdesc are the trigger's, attno was found in tupdesc.
        unsafe { pgrx::htup::heap_getattr_raw(self.tuple, attno, self.tupdesc) }
    }

    fn wrong_type(&self, column: &str, wanted: &str) -> AuthGuardError {
        AuthGuardError::InvalidParameter(
            format!("column \"{column}\" of table {} must be of type {wanted}", self.table()).into(),
        )
    }

    fn integer(&self, column: &str) -> Fallible<Option<i64>> {
        let (attno, typ) = self.column(column)?;
        let convert: fn(pg_sys::Datum) -> i64 = match typ {
            pg_sys::INT2OID => |d| i64::from(d.value() as i16),
            pg_sys::INT4OID => |d| i64::from(d.value() as i32),
            pg_sys::INT8OID => |d| d.value() as i64,
            _ => return Err(self.wrong_type(column, "smallint, integer or bigint")),
        };
        Ok(self.datum(attno).map(convert))
    }

    /// Length of a varlena column without detoasting it (ciphertexts may be large).
    fn varlena_len(&self, column: &str, accepted: &[pg_sys::Oid], wanted: &str) -> Fallible<Option<usize>> {
        let (attno, typ) = self.column(column)?;
        if !accepted.contains(&typ) {
            return Err(self.wrong_type(column, wanted));
        }
        Ok(self.datum(attno).map(|d| {
            // SAFETY: a non-NULL datum of a varlena type.
            let raw = unsafe { pg_sys::toast_raw_datum_size(d) };
            raw.saturating_sub(pg_sys::VARHDRSZ)
        }))
    }

    /// "(id)=(42)" from the primary key, like Postgres' own key descriptions.
    fn key_description(&self) -> String {
        let relid = self.trigger.relid().unwrap_or(pg_sys::InvalidOid);
        let columns: Vec<String> = Spi::get_one_with_args::<Vec<String>>(
            "SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = $1 AND i.indisprimary",
            &[relid.into()],
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        if columns.is_empty() {
            return "(table has no primary key)".to_owned();
        }
        let values: Vec<String> = columns
            .iter()
            .map(|c| match self.column(c).ok().and_then(|(attno, typ)| self.datum(attno).map(|d| (d, typ))) {
                Some((datum, typ)) => output_text(datum, typ),
                None => "NULL".to_owned(),
            })
            .collect();
        format!("({})=({})", columns.join(", "), values.join(", "))
    }
}

/// A value as the type's output function writes it, cut short if long.
fn output_text(datum: pg_sys::Datum, typ: pg_sys::Oid) -> String {
    let mut text = unsafe {
        // SAFETY: datum is a non-NULL value of type typ.
        let mut func = pg_sys::InvalidOid;
        let mut is_varlena = false;
        pg_sys::getTypeOutputInfo(typ, &mut func, &mut is_varlena);
        let cstr = pg_sys::OidOutputFunctionCall(func, datum);
        let s = std::ffi::CStr::from_ptr(cstr).to_string_lossy().into_owned();
        pg_sys::pfree(cstr.cast());
        s
    };
    const MAX: usize = 64;
    if text.len() > MAX {
        let cut = (0..=MAX).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

fn check_row(trigger: &PgTrigger<'_>) -> Fallible<()> {
    let row = TriggerRow::new(trigger, "check_encryption_version()")?;
    let args = trigger.extra_args().map_err(|e| AuthGuardError::Internal(format!("trigger arguments: {e}")))?;
    let cols = ContractColumns::from_args(&args)?;
    let text_types = [pg_sys::TEXTOID, pg_sys::VARCHAROID];
    let shape = RowShape {
        version: row.integer(&cols.version)?,
        content_len: row.varlena_len(&cols.content, &text_types, "text or varchar")?.unwrap_or(0),
        ciphertext_len: row.varlena_len(&cols.ciphertext, &[pg_sys::BYTEAOID], "bytea")?,
        nonce_len: row.varlena_len(&cols.nonce, &[pg_sys::BYTEAOID], "bytea")?,
    };
    match row_fault(&shape) {
        None => Ok(()),
        Some(fault) => Err(AuthGuardError::CheckViolation {
            message: format!(
                "row {} of table {} breaks the encryption-version contract: {}",
                row.key_description(),
                row.table(),
                cols.describe(fault)
            ),
            detail: CONTRACT_DETAIL.to_owned(),
        }),
    }
}

/// BEFORE INSERT OR UPDATE row trigger enforcing the encryption-version contract.
/// Arguments (optional, positional): version, content, ciphertext, nonce column names.
#[pg_trigger]
fn check_encryption_version<'a>(
    trigger: &'a PgTrigger<'a>,
) -> std::result::Result<Option<PgHeapTuple<'a, impl WhoAllocated>>, AuthGuardError> {
    check_row(trigger).or_report();
    Ok(trigger.new())
}

fn stamp_updated_at<'a>(trigger: &'a PgTrigger<'a>) -> Fallible<Option<PgHeapTuple<'a, AllocatedByRust>>> {
    let row = TriggerRow::new(trigger, "set_updated_at()")?;
    let args = trigger.extra_args().map_err(|e| AuthGuardError::Internal(format!("trigger arguments: {e}")))?;
    if args.len() > 1 {
        return Err(AuthGuardError::InvalidParameter(
            format!("set_updated_at() takes at most 1 trigger argument (the column name), got {}", args.len()).into(),
        ));
    }
    let column = args.first().map_or("updated_at", String::as_str);
    let (attno, typ) = row.column(column)?;
    // now(): the transaction's start, exactly what the PL/pgSQL triggers stored.
    let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    let value = match typ {
        pg_sys::TIMESTAMPTZOID => pg_sys::Datum::from(now),
        // Same conversion as assigning now() to a timestamp column (session time zone).
        pg_sys::TIMESTAMPOID => unsafe {
            direct_function_call_as_datum(pg_sys::timestamptz_timestamp, &[Some(pg_sys::Datum::from(now))])
                .ok_or_else(|| AuthGuardError::Internal("timestamptz_timestamp returned NULL".into()))?
        },
        _ => return Err(row.wrong_type(column, "timestamptz or timestamp")),
    };
    let Some(new) = trigger.new() else {
        return Ok(None);
    };
    let mut new = new.into_owned();
    // SAFETY: value is a Datum of the column's own type, checked above.
    unsafe { new.set_by_index_unchecked(attno, Some(value)) };
    Ok(Some(new))
}

/// BEFORE INSERT OR UPDATE row trigger setting a timestamp column (default
/// `updated_at`, or the trigger's one argument) to now().
#[pg_trigger]
fn set_updated_at<'a>(
    trigger: &'a PgTrigger<'a>,
) -> std::result::Result<Option<PgHeapTuple<'a, impl WhoAllocated>>, AuthGuardError> {
    Ok(stamp_updated_at(trigger).or_report())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    #[cfg(test)]
    fn shape(version: Option<i64>, content_len: usize, ct: Option<usize>, nonce: Option<usize>) -> RowShape {
        RowShape { version, content_len, ciphertext_len: ct, nonce_len: nonce }
    }

    #[test]
    fn contract_accepts_exactly_the_valid_rows() {
        assert_eq!(row_fault(&shape(Some(1), 5, None, None)), None);
        assert_eq!(row_fault(&shape(Some(1), 0, None, None)), None);
        assert_eq!(row_fault(&shape(Some(2), 0, Some(16), Some(12))), None);
        assert_eq!(row_fault(&shape(Some(2), 0, Some(4096), Some(12))), None);
    }

    #[test]
    fn contract_names_the_first_fault() {
        use RowFault::*;
        let cases = [
            (shape(None, 0, None, None), NullVersion),
            (shape(Some(0), 0, None, None), UnknownVersion(0)),
            (shape(Some(3), 0, Some(16), Some(12)), UnknownVersion(3)),
            (shape(Some(1), 0, Some(0), None), PlaintextWithCiphertext),
            (shape(Some(1), 3, None, Some(12)), PlaintextWithNonce),
            (shape(Some(2), 0, None, Some(12)), MissingCiphertext),
            (shape(Some(2), 0, Some(15), Some(12)), CiphertextTooShort(15)),
            (shape(Some(2), 0, Some(16), None), MissingNonce),
            (shape(Some(2), 0, Some(16), Some(24)), WrongNonceLength(24)),
            (shape(Some(2), 0, Some(16), Some(11)), WrongNonceLength(11)),
            (shape(Some(2), 1, Some(16), Some(12)), ContentNotEmpty),
        ];
        for (row, fault) in cases {
            assert_eq!(row_fault(&row), Some(fault), "{row:?}");
        }
    }

    #[test]
    fn trigger_arguments_default_and_override_positionally() {
        let d = ContractColumns::from_args(&[]).unwrap();
        assert_eq!(
            (d.version.as_str(), d.content.as_str(), d.ciphertext.as_str(), d.nonce.as_str()),
            ("encryption_version", "content", "content_encrypted", "content_nonce")
        );
        let c = ContractColumns::from_args(&["ver".into(), "body".into()]).unwrap();
        assert_eq!((c.version.as_str(), c.content.as_str(), c.ciphertext.as_str()), ("ver", "body", "content_encrypted"));
        let too_many: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert!(matches!(ContractColumns::from_args(&too_many), Err(AuthGuardError::InvalidParameter(_))));
    }

    #[test]
    fn descriptions_use_the_configured_column_names() {
        let c = ContractColumns::from_args(&["ver".into(), "body".into(), "ct".into(), "iv".into()]).unwrap();
        assert_eq!(c.describe(RowFault::WrongNonceLength(8)), "ver 2 requires iv of exactly 12 bytes, got 8");
        assert_eq!(c.describe(RowFault::PlaintextWithCiphertext), "ver 1 (plaintext) must not carry ct");
        assert_eq!(c.describe(RowFault::ContentNotEmpty), "ver 2 requires an empty body (the plaintext must not be stored)");
    }

    // ------------------------------------------------ through SQL (#[pg_test])

    use crate::crypto::tests::error_of;

    #[pg_test]
    fn sql_encryption_row_valid_follows_the_contract() {
        let check = |args: &str| Spi::get_one::<bool>(&format!("SELECT authguard.encryption_row_valid({args})")).unwrap();
        let ct16 = "'\\x00112233445566778899aabbccddeeff'::bytea";
        let n12 = "'\\x000102030405060708090a0b'::bytea";
        assert_eq!(check("1, 'hi', NULL, NULL"), Some(true));
        assert_eq!(check(&format!("2, '', {ct16}, {n12}")), Some(true));
        assert_eq!(check(&format!("2, NULL, {ct16}, {n12}")), Some(true));
        assert_eq!(check(&format!("1, 'hi', {ct16}, NULL")), Some(false));
        assert_eq!(check(&format!("1, 'hi', NULL, {n12}")), Some(false));
        assert_eq!(check(&format!("2, 'leak', {ct16}, {n12}")), Some(false));
        assert_eq!(check(&format!("2, '', '\\x00'::bytea, {n12}")), Some(false));
        assert_eq!(check(&format!("2, '', {ct16}, '\\x00'::bytea")), Some(false));
        assert_eq!(check(&format!("2, '', NULL, {n12}")), Some(false));
        assert_eq!(check(&format!("2, '', {ct16}, NULL")), Some(false));
        assert_eq!(check("3, '', NULL, NULL"), Some(false));
        assert_eq!(check("NULL, '', NULL, NULL"), None);
        let volatility = Spi::get_one::<String>(
            "SELECT provolatile::text FROM pg_proc WHERE oid = 'authguard.encryption_row_valid(int, text, bytea, bytea)'::regprocedure",
        )
        .unwrap();
        assert_eq!(volatility.as_deref(), Some("i"));
    }

    fn messages_table(name: &str, trigger_args: &str) {
        Spi::run(&format!(
            "CREATE TABLE {name} (
                 id int PRIMARY KEY,
                 ver int NOT NULL DEFAULT 1,
                 body text NOT NULL DEFAULT '',
                 ct bytea,
                 iv bytea,
                 updated_at timestamptz);
             CREATE TRIGGER trg_enc BEFORE INSERT OR UPDATE ON {name}
                 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version({trigger_args})"
        ))
        .unwrap();
    }

    #[pg_test]
    fn sql_trigger_with_custom_columns_accepts_valid_and_names_each_fault() {
        messages_table("public.msgs", "'ver', 'body', 'ct', 'iv'");
        Spi::run("INSERT INTO public.msgs (id, ver, body) VALUES (1, 1, 'plain')").unwrap();
        Spi::run("INSERT INTO public.msgs (id, ver, ct, iv) VALUES (2, 2, '\\x00112233445566778899aabbccddeeff', '\\x000102030405060708090a0b')").unwrap();
        let prefix = "23514: pg_authguard: row (id)=";
        assert_eq!(
            error_of("INSERT INTO public.msgs (id, ver, body, ct) VALUES (3, 1, 'x', '\\x00')"),
            format!("{prefix}(3) of table public.msgs breaks the encryption-version contract: ver 1 (plaintext) must not carry ct")
        );
        assert_eq!(
            error_of("UPDATE public.msgs SET iv = '\\x0001' WHERE id = 2"),
            format!("{prefix}(2) of table public.msgs breaks the encryption-version contract: ver 2 requires iv of exactly 12 bytes, got 2")
        );
        assert_eq!(
            error_of("UPDATE public.msgs SET body = 'leaked' WHERE id = 2"),
            format!("{prefix}(2) of table public.msgs breaks the encryption-version contract: ver 2 requires an empty body (the plaintext must not be stored)")
        );
        assert_eq!(
            error_of("UPDATE public.msgs SET ver = 2 WHERE id = 1"),
            format!("{prefix}(1) of table public.msgs breaks the encryption-version contract: ver 2 requires ct")
        );
        assert_eq!(
            error_of("INSERT INTO public.msgs (id, ver) VALUES (4, 7)"),
            format!("{prefix}(4) of table public.msgs breaks the encryption-version contract: ver 7 is not a known version (1 = plaintext, 2 = ChaCha20-Poly1305)")
        );
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM public.msgs").unwrap(), Some(2));
    }

    #[pg_test]
    fn sql_trigger_defaults_missing_columns_and_no_primary_key() {
        Spi::run(
            "CREATE TABLE public.m2 (encryption_version int, content text, content_encrypted bytea, content_nonce bytea);
             CREATE TRIGGER t BEFORE INSERT OR UPDATE ON public.m2
                 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version()",
        )
        .unwrap();
        Spi::run("INSERT INTO public.m2 VALUES (1, 'ok', NULL, NULL)").unwrap();
        assert_eq!(
            error_of("INSERT INTO public.m2 VALUES (NULL, 'x', NULL, NULL)"),
            "23514: pg_authguard: row (table has no primary key) of table public.m2 breaks the encryption-version contract: encryption_version is NULL"
        );
        Spi::run(
            "CREATE TABLE public.m3 (id int PRIMARY KEY, content text);
             CREATE TRIGGER t BEFORE INSERT ON public.m3
                 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version()",
        )
        .unwrap();
        assert_eq!(
            error_of("INSERT INTO public.m3 VALUES (1, 'x')"),
            "42703: pg_authguard: column \"encryption_version\" of table public.m3 does not exist"
        );
        Spi::run(
            "CREATE TABLE public.m4 (a int, b text, PRIMARY KEY (b, a), encryption_version text, content text, content_encrypted bytea, content_nonce bytea);
             CREATE TRIGGER t BEFORE INSERT ON public.m4
                 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version()",
        )
        .unwrap();
        assert_eq!(
            error_of("INSERT INTO public.m4 VALUES (1, 'k', '1')"),
            "22023: pg_authguard: column \"encryption_version\" of table public.m4 must be of type smallint, integer or bigint"
        );
        Spi::run("DROP TRIGGER t ON public.m4; ALTER TABLE public.m4 ALTER encryption_version TYPE int USING encryption_version::int;
                  CREATE TRIGGER t BEFORE INSERT ON public.m4 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version()").unwrap();
        assert_eq!(
            error_of("INSERT INTO public.m4 VALUES (1, 'k', 1, '', '\\x00')"),
            "23514: pg_authguard: row (b, a)=(k, 1) of table public.m4 breaks the encryption-version contract: encryption_version 1 (plaintext) must not carry content_encrypted"
        );
        Spi::run("CREATE TRIGGER a_after AFTER INSERT ON public.m2 FOR EACH ROW EXECUTE FUNCTION authguard.check_encryption_version()").unwrap();
        assert_eq!(
            error_of("INSERT INTO public.m2 VALUES (1, 'ok', NULL, NULL)"),
            "55000: pg_authguard: check_encryption_version() must be fired BEFORE INSERT OR UPDATE ... FOR EACH ROW"
        );
    }

    #[pg_test]
    fn sql_set_updated_at_stamps_now_on_the_named_column() {
        Spi::run(
            "CREATE TABLE public.dk (id int PRIMARY KEY, v text, updated_at timestamptz, changed timestamp);
             CREATE TRIGGER t1 BEFORE UPDATE ON public.dk FOR EACH ROW EXECUTE FUNCTION authguard.set_updated_at();
             CREATE TRIGGER t2 BEFORE UPDATE ON public.dk FOR EACH ROW EXECUTE FUNCTION authguard.set_updated_at('changed');
             INSERT INTO public.dk VALUES (1, 'a', '2000-01-01', '2000-01-01');
             UPDATE public.dk SET v = 'b'",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<bool>("SELECT updated_at = now() FROM public.dk").unwrap(), Some(true));
        assert_eq!(Spi::get_one::<bool>("SELECT changed = now()::timestamp FROM public.dk").unwrap(), Some(true));
        assert_eq!(Spi::get_one::<String>("SELECT v FROM public.dk").unwrap().as_deref(), Some("b"));
        Spi::run("CREATE TRIGGER t3 BEFORE UPDATE ON public.dk FOR EACH ROW EXECUTE FUNCTION authguard.set_updated_at('nope')").unwrap();
        assert_eq!(
            error_of("UPDATE public.dk SET v = 'c'"),
            "42703: pg_authguard: column \"nope\" of table public.dk does not exist"
        );
        Spi::run("DROP TRIGGER t3 ON public.dk; CREATE TRIGGER t3 BEFORE UPDATE ON public.dk FOR EACH ROW EXECUTE FUNCTION authguard.set_updated_at('v')").unwrap();
        assert_eq!(
            error_of("UPDATE public.dk SET v = 'c'"),
            "22023: pg_authguard: column \"v\" of table public.dk must be of type timestamptz or timestamp"
        );
    }
}
