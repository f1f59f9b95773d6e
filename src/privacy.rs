//! Privacy helpers: what the extension stores instead of raw client data.
//!
//! Raw user agents, IP addresses and opaque tokens never reach a table: a
//! device is kept as a (keyed) hash, an address as its network at a configured
//! prefix, a token as its hash.

use crate::crypto::{hmac_sha256_bytes, sha256_bytes, to_hex};
use crate::errors::{AuthGuardError, OrReport, Result};
use crate::gucs;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::nullable::Nullable;
use pgrx::{direct_function_call_as_datum, FromDatum, IntoDatum};

/// Lowercase hex HMAC-SHA256 under `authguard.hash_key` when set, else SHA-256.
pub fn keyed_hash_hex(input: &[u8]) -> Result<String> {
    Ok(match gucs::hash_key()? {
        Some(key) => to_hex(&hmac_sha256_bytes(&key, input)),
        None => to_hex(&sha256_bytes(input)),
    })
}

/// The stored form of a device fingerprint (user agent or client-provided id).
#[pg_extern(stable, strict, parallel_safe, sql = r#"
CREATE FUNCTION authguard."device_hash"("fingerprint" TEXT) RETURNS varchar(64)
STABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'device_hash_wrapper';
"#)]
pub fn device_hash(fingerprint: &str) -> String {
    keyed_hash_hex(fingerprint.as_bytes()).or_report()
}

/// How an opaque token is stored: its keyed hash, never the token itself.
#[pg_extern(stable, strict, parallel_safe)]
pub fn hash_token(token: &str) -> String {
    keyed_hash_hex(token.as_bytes()).or_report()
}

/// An `inet` argument kept as the raw Datum, so it can be handed to the
/// server's own network functions without a text round trip.
pub struct InetDatum(pg_sys::Datum);

/// A `cidr` result built by the server's own `network()`.
pub struct CidrDatum(pg_sys::Datum);

impl CidrDatum {
    /// Another handle to the same Datum (it is only read, never freed, by SPI).
    pub fn clone_datum(&self) -> CidrDatum {
        CidrDatum(self.0)
    }
}

impl FromDatum for InetDatum {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _oid: pg_sys::Oid) -> Option<Self> {
        if is_null { None } else { Some(InetDatum(datum)) }
    }
}

impl IntoDatum for InetDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::INETOID
    }
}

impl FromDatum for CidrDatum {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _oid: pg_sys::Oid) -> Option<Self> {
        if is_null { None } else { Some(CidrDatum(datum)) }
    }
}

impl IntoDatum for CidrDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::CIDROID
    }
}

// SAFETY: both wrap a Datum of exactly the SQL type they declare; NULLs are
// handled by Option at the boundary like pgrx's own Inet.
unsafe impl<'fcx> ArgAbi<'fcx> for InetDatum {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        unsafe { arg.unbox_arg_using_from_datum() }.expect("inet argument must not be NULL")
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum::<InetDatum>() }.into()
    }
}

unsafe impl BoxRet for CidrDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

unsafe impl SqlTranslatable for InetDatum {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(InetDatum);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: std::result::Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("inet"));
    const RETURN_SQL: std::result::Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("inet")));
}

unsafe impl SqlTranslatable for CidrDatum {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(CidrDatum);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: std::result::Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("cidr"));
    const RETURN_SQL: std::result::Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("cidr")));
}

/// Pick the prefix for an address family, validating explicit overrides.
pub fn prefix_for(is_v4: bool, v4_prefix: Option<i32>, v6_prefix: Option<i32>) -> Result<i32> {
    let (given, default, max, name) = if is_v4 {
        (v4_prefix, gucs::IPV4_PREFIX.get(), 32, "v4_prefix")
    } else {
        (v6_prefix, gucs::IPV6_PREFIX.get(), 128, "v6_prefix")
    };
    let prefix = given.unwrap_or(default);
    if !(0..=max).contains(&prefix) {
        return Err(AuthGuardError::InvalidParameter(
            format!("{name} must be between 0 and {max}, got {prefix}").into(),
        ));
    }
    Ok(prefix)
}

/// The network of `ip` at the configured (or given) prefix, as `cidr`.
pub fn network_of(ip: &InetDatum, v4_prefix: Option<i32>, v6_prefix: Option<i32>) -> Result<CidrDatum> {
    // SAFETY: ip.0 is a valid inet Datum handed to us by fmgr; these are the
    // server's own inet functions with their documented argument types.
    unsafe {
        let family = direct_function_call_as_datum(pg_sys::network_family, &[Some(ip.0)])
            .map(|d| d.value() as i32)
            .unwrap_or(4);
        let prefix = prefix_for(family == 4, v4_prefix, v6_prefix)?;
        let masked = direct_function_call_as_datum(
            pg_sys::inet_set_masklen,
            &[Some(ip.0), prefix.into_datum()],
        );
        let network = direct_function_call_as_datum(pg_sys::network_network, &[masked]);
        network
            .map(CidrDatum)
            .ok_or_else(|| AuthGuardError::Internal("network() returned NULL".into()))
    }
}

/// `ip` truncated to its network: `authguard.ipv4_prefix` (24) / `ipv6_prefix` (48)
/// unless a prefix is given.
#[pg_extern(stable, parallel_safe)]
pub fn ip_to_cidr(
    ip: Option<InetDatum>,
    v4_prefix: default!(Option<i32>, "NULL"),
    v6_prefix: default!(Option<i32>, "NULL"),
) -> Option<CidrDatum> {
    ip.map(|ip| network_of(&ip, v4_prefix, v6_prefix).or_report())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn device_hash_is_sha256_hex_without_key() {
        let h = Spi::get_one::<String>("SELECT authguard.device_hash('Mozilla/5.0')").unwrap().unwrap();
        let expected = Spi::get_one::<String>(
            "SELECT encode(authguard.sha256(convert_to('Mozilla/5.0','UTF8')),'hex')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h, expected);
        assert_eq!(h.len(), 64);
    }

    #[pg_test]
    fn device_hash_uses_hmac_when_keyed() {
        Spi::run("SET authguard.hash_key = 'pepper'").unwrap();
        let h = Spi::get_one::<String>("SELECT authguard.device_hash('ua')").unwrap().unwrap();
        let mac = Spi::get_one::<String>(
            "SELECT encode(authguard.hmac_sha256('pepper'::bytea, 'ua'::bytea),'hex')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(h, mac);
        Spi::run("RESET authguard.hash_key").unwrap();
    }

    #[pg_test]
    fn ip_to_cidr_truncates_per_family() {
        let v4 = Spi::get_one::<String>("SELECT authguard.ip_to_cidr('203.0.113.77')::text").unwrap();
        assert_eq!(v4.as_deref(), Some("203.0.113.0/24"));
        let v6 = Spi::get_one::<String>("SELECT authguard.ip_to_cidr('2001:db8:1234:5678::1')::text").unwrap();
        assert_eq!(v6.as_deref(), Some("2001:db8:1234::/48"));
        let custom = Spi::get_one::<String>("SELECT authguard.ip_to_cidr('10.1.2.3', 16, NULL)::text").unwrap();
        assert_eq!(custom.as_deref(), Some("10.1.0.0/16"));
        let null = Spi::get_one::<String>("SELECT authguard.ip_to_cidr(NULL)::text").unwrap();
        assert_eq!(null, None);
    }

    #[pg_test(error = "pg_authguard: v4_prefix must be between 0 and 32, got 33")]
    fn ip_to_cidr_rejects_bad_prefix() {
        Spi::run("SELECT authguard.ip_to_cidr('10.1.2.3', 33, NULL)").unwrap();
    }
}
