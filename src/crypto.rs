//! Cryptographic primitives exposed as SQL functions.
//!
//! Only RustCrypto / dalek implementations are used; nothing here implements a
//! primitive itself. Pure functions (`*_bytes`) carry the logic and are unit
//! tested; the `#[pg_extern]` wrappers only convert arguments and errors.

use crate::errors::{AuthGuardError, Result};
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Largest input any primitive accepts. A varlena is at most 1 GB anyway; this
/// keeps output (input + nonce + tag + header) representable too.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024 * 1024 - 1024;

pub fn check_size(what: &'static str, len: usize) -> Result<()> {
    if len > MAX_INPUT_BYTES {
        return Err(AuthGuardError::TooLarge(
            format!("{what} is {len} bytes; at most {MAX_INPUT_BYTES} are accepted").into(),
        ));
    }
    Ok(())
}

pub fn sha256_bytes(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn hmac_sha256_bytes(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (RFC 2104), so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of a MAC; a tag of the wrong length is simply false.
pub fn hmac_sha256_verify_bytes(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let expected = hmac_sha256_bytes(key, data);
    tag.len() == expected.len() && bool::from(expected.ct_eq(tag))
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// SHA-256 digest (32 bytes).
#[pg_extern(immutable, strict, parallel_safe)]
fn sha256(data: &[u8]) -> Vec<u8> {
    sha256_bytes(data).to_vec()
}

/// HMAC-SHA256 tag (32 bytes).
#[pg_extern(immutable, strict, parallel_safe)]
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac_sha256_bytes(key, data).to_vec()
}

/// True when `mac` is the HMAC-SHA256 of `data` under `key`; compared in constant time.
#[pg_extern(immutable, strict, parallel_safe)]
fn hmac_sha256_verify(key: &[u8], data: &[u8], mac: &[u8]) -> bool {
    hmac_sha256_verify_bytes(key, data, mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_180_abc() {
        assert_eq!(
            to_hex(&sha256_bytes(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            to_hex(&hmac_sha256_bytes(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_refuses_wrong_and_short_tags() {
        let tag = hmac_sha256_bytes(b"k", b"m");
        assert!(hmac_sha256_verify_bytes(b"k", b"m", &tag));
        let mut bad = tag;
        bad[31] ^= 1;
        assert!(!hmac_sha256_verify_bytes(b"k", b"m", &bad));
        assert!(!hmac_sha256_verify_bytes(b"k", b"m", &tag[..16]));
        assert!(!hmac_sha256_verify_bytes(b"k", b"m", b""));
    }
}
