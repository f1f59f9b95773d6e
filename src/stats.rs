//! Stats over the application's own tables, given as `regclass`.
//!
//! Same columns and values as the baseline's `get_message_encryption_stats`,
//! `get_device_key_stats` and `count_old_oauth_tokens`, for any table shaped
//! like the baseline's. They run as the caller (SECURITY INVOKER), so the
//! caller's privileges on the table apply; the SQL is built from quoted
//! identifiers and runs with a fixed `search_path`.

use crate::errors::{AuthGuardError, OrReport, Result};
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, quote_qualified_identifier};
use pgrx::{AnyNumeric, PgRelation};

/// Open the table a `regclass` argument names. Taken as a raw OID (not
/// pgrx's PgRelation argument, which opens it before we can check) so that a
/// dangling OID such as `0::regclass` is a clear 42P01, not an internal error.
fn open_table(oid: pg_sys::Oid) -> Result<PgRelation> {
    // SAFETY: get_rel_name only reads the syscache; NULL means no such relation.
    if unsafe { pg_sys::get_rel_name(oid) }.is_null() {
        return Err(AuthGuardError::UndefinedTable(format!("relation with OID {} does not exist", oid.to_u32())));
    }
    // SAFETY: the relation exists; AccessShareLock is what a SELECT takes.
    Ok(unsafe { PgRelation::with_lock(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) })
}

/// The table's quoted name and quoted column names, after checking every
/// column exists (42703 naming the first one missing).
fn table_with_columns<const N: usize>(
    tbl: &PgRelation,
    function: &str,
    columns: [&str; N],
) -> Result<(String, [String; N])> {
    let desc = tbl.tuple_desc();
    let table = quote_qualified_identifier(tbl.namespace(), tbl.name());
    for column in columns {
        if !desc.iter().any(|att| !att.is_dropped() && att.name() == column) {
            return Err(AuthGuardError::UndefinedColumn(format!(
                "{function} needs column \"{column}\", which table {table} does not have"
            )));
        }
    }
    Ok((table, columns.map(quote_identifier)))
}

fn message_encryption_stats(tbl: &PgRelation) -> Result<Vec<(Option<i32>, i64, Option<AnyNumeric>)>> {
    let (table, [version]) = table_with_columns(tbl, "get_message_encryption_stats", ["encryption_version"])?;
    let sql = format!(
        "SELECT m.{version}::int4, count(*),
                round(100.0 * count(*) / sum(count(*)) OVER (), 2)
           FROM {table} m
          GROUP BY m.{version}
          ORDER BY m.{version}"
    );
    Spi::connect(|client| {
        client
            .select(&sql, None, &[])?
            .map(|row| Ok((row.get::<i32>(1)?, row.get::<i64>(2)?.unwrap_or(0), row.get::<AnyNumeric>(3)?)))
            .collect::<std::result::Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .map_err(AuthGuardError::from)
}

/// Messages per `encryption_version`, with each version's share in percent.
#[pg_extern(stable, strict, sql = r#"
CREATE FUNCTION authguard."get_message_encryption_stats"("tbl" regclass)
RETURNS TABLE ("encryption_version" INT, "message_count" bigint, "percentage" NUMERIC)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'get_message_encryption_stats_wrapper';
"#)]
fn get_message_encryption_stats(
    tbl: pg_sys::Oid,
) -> TableIterator<'static, (name!(encryption_version, Option<i32>), name!(message_count, i64), name!(percentage, Option<AnyNumeric>))>
{
    TableIterator::new(open_table(tbl).and_then(|t| message_encryption_stats(&t)).or_report())
}

type DeviceKeyStats = (i64, i64, Option<AnyNumeric>, i64, i64);

fn device_key_stats(tbl: &PgRelation) -> Result<DeviceKeyStats> {
    let (table, [user_id, created_at, updated_at]) =
        table_with_columns(tbl, "get_device_key_stats", ["user_id", "created_at", "updated_at"])?;
    let sql = format!(
        "SELECT count(*), count(DISTINCT {user_id}),
                round(count(*)::numeric / nullif(count(DISTINCT {user_id}), 0), 2),
                count(*) FILTER (WHERE {created_at} > now() - interval '24 hours'),
                count(*) FILTER (WHERE {updated_at} > {created_at})
           FROM {table}"
    );
    Spi::connect(|client| {
        let row = client.select(&sql, None, &[])?.first();
        Ok::<_, pgrx::spi::SpiError>((
            row.get::<i64>(1)?.unwrap_or(0),
            row.get::<i64>(2)?.unwrap_or(0),
            row.get::<AnyNumeric>(3)?,
            row.get::<i64>(4)?.unwrap_or(0),
            row.get::<i64>(5)?.unwrap_or(0),
        ))
    })
    .map_err(AuthGuardError::from)
}

/// Totals over a device-keys table: keys, users, devices per user, keys made
/// in the last 24 hours, keys updated since creation (rotated).
#[pg_extern(stable, strict, sql = r#"
CREATE FUNCTION authguard."get_device_key_stats"("tbl" regclass)
RETURNS TABLE ("total_keys" bigint, "users_with_keys" bigint, "avg_devices_per_user" NUMERIC,
               "keys_created_24h" bigint, "keys_rotated" bigint)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'get_device_key_stats_wrapper';
"#)]
fn get_device_key_stats(
    tbl: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(total_keys, i64),
        name!(users_with_keys, i64),
        name!(avg_devices_per_user, Option<AnyNumeric>),
        name!(keys_created_24h, i64),
        name!(keys_rotated, i64),
    ),
> {
    TableIterator::once(open_table(tbl).and_then(|t| device_key_stats(&t)).or_report())
}

fn old_oauth_tokens(tbl: &PgRelation) -> Result<Vec<(Option<String>, i64, i64)>> {
    let (table, [provider, encrypted]) =
        table_with_columns(tbl, "count_old_oauth_tokens", ["provider", "tokens_encrypted"])?;
    let sql = format!(
        "SELECT o.{provider}::varchar,
                count(*) FILTER (WHERE NOT o.{encrypted}),
                count(*) FILTER (WHERE o.{encrypted})
           FROM {table} o
          GROUP BY o.{provider}
          ORDER BY o.{provider}"
    );
    Spi::connect(|client| {
        client
            .select(&sql, None, &[])?
            .map(|row| Ok((row.get::<String>(1)?, row.get::<i64>(2)?.unwrap_or(0), row.get::<i64>(3)?.unwrap_or(0))))
            .collect::<std::result::Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .map_err(AuthGuardError::from)
}

/// Per provider: connections whose tokens are still only hashed, and encrypted ones.
#[pg_extern(stable, strict, sql = r#"
CREATE FUNCTION authguard."count_old_oauth_tokens"("tbl" regclass)
RETURNS TABLE ("provider" varchar, "old_hashed_tokens" bigint, "encrypted_tokens" bigint)
STABLE STRICT SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'count_old_oauth_tokens_wrapper';
"#)]
fn count_old_oauth_tokens(
    tbl: pg_sys::Oid,
) -> TableIterator<'static, (name!(provider, Option<String>), name!(old_hashed_tokens, i64), name!(encrypted_tokens, i64))> {
    TableIterator::new(open_table(tbl).and_then(|t| old_oauth_tokens(&t)).or_report())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use crate::crypto::tests::error_of;
    use pgrx::prelude::*;

    #[pg_test(error = "pg_authguard: relation with OID 0 does not exist")]
    fn stats_refuse_a_dangling_regclass() {
        Spi::run("SELECT * FROM authguard.get_device_key_stats(0::regclass)").unwrap();
    }


    /// The baseline's three tables (minus defaults that need pgcrypto) with known rows.
    fn seed() {
        Spi::run(
            "CREATE SCHEMA app;
             CREATE TABLE app.messages (id int PRIMARY KEY, encryption_version int NOT NULL DEFAULT 1);
             INSERT INTO app.messages SELECT g, CASE WHEN g <= 2 THEN 1 ELSE 2 END FROM generate_series(1, 3) g;
             CREATE TABLE app.device_keys (id int PRIMARY KEY, user_id int NOT NULL,
                 created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO app.device_keys VALUES
                 (1, 10, now() - interval '2 days', now()),
                 (2, 10, now() - interval '1 hour', now() - interval '1 hour'),
                 (3, 20, now() - interval '3 days', now() - interval '3 days');
             CREATE TABLE app.oauth_connections (id int PRIMARY KEY, provider varchar(50) NOT NULL,
                 tokens_encrypted boolean NOT NULL DEFAULT false);
             INSERT INTO app.oauth_connections VALUES (1, 'google', false), (2, 'google', true),
                 (3, 'github', false), (4, 'google', false);",
        )
        .unwrap();
    }

    #[pg_test]
    fn message_stats_match_the_baseline_query() {
        seed();
        let ours = Spi::get_one::<String>(
            "SELECT string_agg(format('%s|%s|%s', encryption_version, message_count, percentage), ';')
               FROM authguard.get_message_encryption_stats('app.messages')",
        )
        .unwrap();
        assert_eq!(ours.as_deref(), Some("1|2|66.67;2|1|33.33"));
        let baseline = Spi::get_one::<String>(
            "SELECT string_agg(format('%s|%s|%s', v, c, p), ';') FROM (
                 SELECT m.encryption_version v, count(*) c, round(100.0 * count(*) / sum(count(*)) OVER (), 2) p
                   FROM app.messages m GROUP BY m.encryption_version ORDER BY m.encryption_version) s",
        )
        .unwrap();
        assert_eq!(ours, baseline);
        let types = Spi::get_one::<String>(
            "SELECT pg_get_function_result('authguard.get_message_encryption_stats(regclass)'::regprocedure)",
        )
        .unwrap();
        assert_eq!(types.as_deref(), Some("TABLE(encryption_version integer, message_count bigint, percentage numeric)"));
    }

    #[pg_test]
    fn device_key_stats_match_the_baseline_query() {
        seed();
        let ours = Spi::get_one::<String>(
            "SELECT format('%s|%s|%s|%s|%s', total_keys, users_with_keys, avg_devices_per_user, keys_created_24h, keys_rotated)
               FROM authguard.get_device_key_stats('app.device_keys')",
        )
        .unwrap();
        assert_eq!(ours.as_deref(), Some("3|2|1.50|1|1"));
        Spi::run("TRUNCATE app.device_keys").unwrap();
        let empty = Spi::get_one::<String>(
            "SELECT format('%s|%s|%s|%s|%s', total_keys, users_with_keys, avg_devices_per_user, keys_created_24h, keys_rotated)
               FROM authguard.get_device_key_stats('app.device_keys')",
        )
        .unwrap();
        assert_eq!(empty.as_deref(), Some("0|0||0|0"));
    }

    #[pg_test]
    fn old_oauth_token_counts_match_the_baseline_query() {
        seed();
        let ours = Spi::get_one::<String>(
            "SELECT string_agg(format('%s|%s|%s', provider, old_hashed_tokens, encrypted_tokens), ';')
               FROM authguard.count_old_oauth_tokens('app.oauth_connections')",
        )
        .unwrap();
        assert_eq!(ours.as_deref(), Some("github|1|0;google|2|1"));
        let types = Spi::get_one::<String>(
            "SELECT pg_get_function_result('authguard.count_old_oauth_tokens(regclass)'::regprocedure)",
        )
        .unwrap();
        assert_eq!(types.as_deref(), Some("TABLE(provider character varying, old_hashed_tokens bigint, encrypted_tokens bigint)"));
    }

    #[pg_test]
    fn missing_columns_are_named_and_functions_run_as_the_caller() {
        seed();
        assert_eq!(
            error_of("SELECT * FROM authguard.get_message_encryption_stats('app.device_keys')"),
            "42703: pg_authguard: get_message_encryption_stats needs column \"encryption_version\", which table app.device_keys does not have"
        );
        assert_eq!(
            error_of("SELECT * FROM authguard.get_device_key_stats('app.messages')"),
            "42703: pg_authguard: get_device_key_stats needs column \"user_id\", which table app.messages does not have"
        );
        assert_eq!(
            error_of("SELECT * FROM authguard.count_old_oauth_tokens('app.messages')"),
            "42703: pg_authguard: count_old_oauth_tokens needs column \"provider\", which table app.messages does not have"
        );
        let definer = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_proc WHERE prosecdef AND proname IN
                 ('get_message_encryption_stats', 'get_device_key_stats', 'count_old_oauth_tokens')",
        )
        .unwrap();
        assert_eq!(definer, Some(0));
        // A caller without SELECT on the table gets the usual permission error.
        Spi::run(
            "CREATE ROLE authguard_stats_probe; GRANT USAGE ON SCHEMA app, authguard TO authguard_stats_probe;
             SET LOCAL ROLE authguard_stats_probe",
        )
        .unwrap();
        let e = error_of("SELECT * FROM authguard.get_message_encryption_stats('app.messages')");
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(e, "42501: permission denied for table messages");
    }
}
