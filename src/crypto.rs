//! Cryptographic primitives exposed as SQL functions.
//!
//! Only RustCrypto / dalek implementations are used; nothing here implements a
//! primitive itself. Pure functions (`*_bytes`) carry the logic and are unit
//! tested; the `#[pg_extern]` wrappers only convert arguments and errors.
//!
//! NULL rule (SPEC): an argument declared `DEFAULT NULL` (`aad`) treats NULL as
//! "absent"; any other NULL argument yields a NULL result. Functions without
//! such an argument are simply STRICT.

use crate::errors::{AuthGuardError, OrReport, Result};
use crate::uuid_gen::random_bytes;
use base64::Engine as _;
use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

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

// ------------------------------------------------------------------ lengths

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const XNONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
pub const X25519_LEN: usize = 32;
/// RFC 5869: HKDF-Expand yields at most 255 blocks of the hash length.
pub const HKDF_MAX_LEN: usize = 255 * 32;

/// `arg` must be exactly `expected` bytes; the message names the argument and
/// the lengths, never the value.
pub fn check_len(arg: &'static str, bytes: &[u8], expected: usize) -> Result<()> {
    if bytes.len() != expected {
        return Err(AuthGuardError::InvalidParameter(
            format!("{arg} must be exactly {expected} bytes, got {}", bytes.len()).into(),
        ));
    }
    Ok(())
}

fn array32(arg: &'static str, bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    check_len(arg, bytes, 32)?;
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(bytes);
    Ok(out)
}

// --------------------------------------------------------------------- HKDF

/// HKDF-SHA256 (RFC 5869). An empty salt means "no salt" (a zero block), as the RFC says.
pub fn hkdf_sha256_bytes(ikm: &[u8], salt: &[u8], info: &[u8], length: i32) -> Result<Vec<u8>> {
    check_size("ikm", ikm.len())?;
    check_size("info", info.len())?;
    if length < 1 || length as usize > HKDF_MAX_LEN {
        return Err(AuthGuardError::InvalidParameter(
            format!("length must be between 1 and {HKDF_MAX_LEN}, got {length}").into(),
        ));
    }
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = vec![0u8; length as usize];
    hk.expand(info, &mut okm)
        .map_err(|_| AuthGuardError::Internal("HKDF expand refused a checked length".into()))?;
    Ok(okm)
}

// ------------------------------------------------------------------- X25519

/// The public key of a 32-byte X25519 private key (clamped as RFC 7748 says).
pub fn x25519_public_key_bytes(private_key: &[u8]) -> Result<[u8; 32]> {
    let secret = StaticSecret::from(*array32("private_key", private_key)?);
    Ok(PublicKey::from(&secret).to_bytes())
}

/// X25519(private_key, public_key); refuses a non-contributory (all-zero) result,
/// which a low-order public key forces whatever the private key.
pub fn x25519_shared_secret_bytes(private_key: &[u8], public_key: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let secret = StaticSecret::from(*array32("private_key", private_key)?);
    check_len("public_key", public_key, X25519_LEN)?;
    let mut pk = [0u8; 32];
    pk.copy_from_slice(public_key);
    let shared = secret.diffie_hellman(&PublicKey::from(pk));
    if !shared.was_contributory() {
        return Err(AuthGuardError::InvalidParameter(
            "public_key is a low-order point: the shared secret would be all zeros (non-contributory)".into(),
        ));
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// A public key worth accepting: 32 bytes and not of low order. Clamped scalars
/// are multiples of 8, so a low-order point gives zero under every private key;
/// one fixed scalar is enough to tell.
pub fn x25519_public_key_valid_bytes(public_key: &[u8]) -> bool {
    let Ok(pk) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    let probe = StaticSecret::from([0x5a; 32]);
    probe.diffie_hellman(&PublicKey::from(pk)).was_contributory()
}

/// Standard base64 (RFC 4648 §4, padded) of a valid public key.
pub fn x25519_public_key_valid_base64(text: &str) -> bool {
    match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
        Ok(bytes) => x25519_public_key_valid_bytes(&bytes),
        Err(_) => false,
    }
}

/// A fresh key pair from the OS CSPRNG.
pub fn x25519_generate_keypair_bytes() -> Result<(Zeroizing<[u8; 32]>, [u8; 32])> {
    let mut seed = Zeroizing::new([0u8; 32]);
    random_bytes(seed.as_mut())?;
    let secret = StaticSecret::from(*seed);
    let public = PublicKey::from(&secret).to_bytes();
    Ok((Zeroizing::new(secret.to_bytes()), public))
}

/// HMAC-SHA256 keyed by the 32-byte shared secret over the conversation id's 16 bytes.
pub fn key_exchange_hash_bytes(shared_secret: &[u8], conversation_id: &[u8; 16]) -> Result<[u8; 32]> {
    check_len("shared_secret", shared_secret, X25519_LEN)?;
    Ok(hmac_sha256_bytes(shared_secret, conversation_id))
}

// --------------------------------------------------------------------- AEAD

fn check_aead_inputs(data_name: &'static str, data: &[u8], aad: &[u8]) -> Result<()> {
    check_size(data_name, data.len())?;
    check_size("aad", aad.len())
}

/// ChaCha20-Poly1305 (RFC 8439): ciphertext || 16-byte tag.
pub fn chacha20poly1305_encrypt_bytes(plaintext: &[u8], key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = array32("key", key)?;
    check_len("nonce", nonce, NONCE_LEN)?;
    check_aead_inputs("plaintext", plaintext, aad)?;
    let cipher = ChaCha20Poly1305::new(key.as_ref().into());
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = simd::seal(&cipher, nonce.into(), aad, &mut out)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Inverse of [`chacha20poly1305_encrypt_bytes`]; nothing is returned unless the tag verifies.
pub fn chacha20poly1305_decrypt_bytes(ciphertext: &[u8], key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = array32("key", key)?;
    check_len("nonce", nonce, NONCE_LEN)?;
    check_aead_inputs("ciphertext", ciphertext, aad)?;
    if ciphertext.len() < TAG_LEN {
        return Err(AuthGuardError::InvalidParameter(
            format!("ciphertext must be at least {TAG_LEN} bytes (the tag), got {}", ciphertext.len()).into(),
        ));
    }
    let cipher = ChaCha20Poly1305::new(key.as_ref().into());
    let (body, tag) = ciphertext.split_at(ciphertext.len() - TAG_LEN);
    let mut out = body.to_vec();
    simd::open(&cipher, nonce.into(), aad, &mut out, tag.into())?;
    Ok(out)
}

/// The self-describing output of `encrypt()`:
///
/// | offset | size | content                                         |
/// |--------|------|-------------------------------------------------|
/// | 0      | 2    | magic `0x41 0x47` ("AG")                        |
/// | 2      | 1    | format version, `0x01`                          |
/// | 3      | 1    | algorithm id, `0x01` = XChaCha20-Poly1305       |
/// | 4      | 24   | nonce (random)                                  |
/// | 28     | n+16 | ciphertext of n bytes, then the 16-byte tag     |
///
/// A new algorithm gets a new id (its nonce length follows from the id); a new
/// layout gets a new format version. The header is not part of the AEAD's
/// associated data: a key is only ever used with the one algorithm its id
/// names, so a swapped id can only make authentication fail.
pub mod envelope {
    use super::{TAG_LEN, XNONCE_LEN};
    use crate::errors::{AuthGuardError, Result};

    pub const MAGIC: [u8; 2] = *b"AG";
    pub const FORMAT_V1: u8 = 1;
    pub const ALG_XCHACHA20_POLY1305: u8 = 1;
    pub const HEADER_LEN: usize = 4;
    /// Header, nonce and tag: what `encrypt()` adds to the plaintext.
    pub const OVERHEAD: usize = HEADER_LEN + XNONCE_LEN + TAG_LEN;

    #[derive(Debug, PartialEq, Eq)]
    pub struct Envelope<'a> {
        pub algorithm: u8,
        pub nonce: &'a [u8],
        /// ciphertext || tag
        pub sealed: &'a [u8],
    }

    pub fn header(algorithm: u8) -> [u8; HEADER_LEN] {
        [MAGIC[0], MAGIC[1], FORMAT_V1, algorithm]
    }

    pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>> {
        let malformed = |why: String| AuthGuardError::MalformedInput(format!("invalid encrypt() envelope: {why}").into());
        if bytes.len() < HEADER_LEN {
            return Err(malformed(format!("truncated ({} bytes, the header alone is {HEADER_LEN})", bytes.len())));
        }
        if bytes[..2] != MAGIC {
            return Err(malformed("missing the \"AG\" magic bytes; not produced by authguard.encrypt()".into()));
        }
        if bytes[2] != FORMAT_V1 {
            return Err(malformed(format!("unsupported format version {}", bytes[2])));
        }
        let nonce_len = match bytes[3] {
            ALG_XCHACHA20_POLY1305 => XNONCE_LEN,
            other => return Err(malformed(format!("unknown algorithm id {other}"))),
        };
        let min = HEADER_LEN + nonce_len + TAG_LEN;
        if bytes.len() < min {
            return Err(malformed(format!("truncated ({} bytes, at least {min} expected)", bytes.len())));
        }
        let (nonce, sealed) = bytes[HEADER_LEN..].split_at(nonce_len);
        Ok(Envelope { algorithm: bytes[3], nonce, sealed })
    }
}

/// XChaCha20-Poly1305 under a random 24-byte nonce, in the [`envelope`] format.
pub fn encrypt_bytes(plaintext: &[u8], key: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = array32("key", key)?;
    check_aead_inputs("plaintext", plaintext, aad)?;
    let mut nonce = [0u8; XNONCE_LEN];
    random_bytes(&mut nonce)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let mut out = Vec::with_capacity(plaintext.len() + envelope::OVERHEAD);
    out.extend_from_slice(&envelope::header(envelope::ALG_XCHACHA20_POLY1305));
    out.extend_from_slice(&nonce);
    let body_start = out.len();
    out.extend_from_slice(plaintext);
    let tag = simd::seal(&cipher, (&nonce).into(), aad, &mut out[body_start..])?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Inverse of [`encrypt_bytes`].
pub fn decrypt_bytes(data: &[u8], key: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = array32("key", key)?;
    check_aead_inputs("ciphertext", data, aad)?;
    let env = envelope::parse(data)?;
    debug_assert_eq!(env.algorithm, envelope::ALG_XCHACHA20_POLY1305);
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let (body, tag) = env.sealed.split_at(env.sealed.len() - TAG_LEN);
    let mut out = body.to_vec();
    simd::open(&cipher, env.nonce.into(), aad, &mut out, tag.into())?;
    Ok(out)
}

/// AEAD calls, in one place so the SIMD dispatch decision lives in one place.
mod simd {
    use super::{AuthGuardError, Result};
    use chacha20poly1305::aead::{AeadInPlace, Nonce, Tag};

    pub fn seal<A: AeadInPlace>(cipher: &A, nonce: &Nonce<A>, aad: &[u8], buf: &mut [u8]) -> Result<Tag<A>> {
        cipher
            .encrypt_in_place_detached(nonce, aad, buf)
            .map_err(|_| AuthGuardError::TooLarge("plaintext is too long for this cipher".into()))
    }

    pub fn open<A: AeadInPlace>(cipher: &A, nonce: &Nonce<A>, aad: &[u8], buf: &mut [u8], tag: &Tag<A>) -> Result<()> {
        cipher.decrypt_in_place_detached(nonce, aad, buf, tag).map_err(|_| {
            // Never hand back a half-decrypted buffer.
            buf.iter_mut().for_each(|b| *b = 0);
            AuthGuardError::AuthenticationFailed
        })
    }
}

/// 12 random bytes: a nonce for `chacha20poly1305_encrypt`.
pub fn random_nonce_bytes() -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    random_bytes(&mut n)?;
    Ok(n)
}

// ------------------------------------------------------------ SQL functions

/// HKDF-SHA256 output key material of `length` bytes (1..8160).
#[pg_extern(immutable, strict, parallel_safe)]
fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], length: default!(i32, 32)) -> Vec<u8> {
    hkdf_sha256_bytes(ikm, salt, info, length).or_report()
}

/// A fresh X25519 key pair.
#[pg_extern(volatile, parallel_safe)]
fn x25519_generate_keypair() -> TableIterator<'static, (name!(private_key, Vec<u8>), name!(public_key, Vec<u8>))> {
    let (private_key, public_key) = x25519_generate_keypair_bytes().or_report();
    TableIterator::once((private_key.to_vec(), public_key.to_vec()))
}

#[pg_extern(immutable, strict, parallel_safe)]
fn x25519_public_key(private_key: &[u8]) -> Vec<u8> {
    x25519_public_key_bytes(private_key).or_report().to_vec()
}

#[pg_extern(immutable, strict, parallel_safe)]
fn x25519_shared_secret(private_key: &[u8], public_key: &[u8]) -> Vec<u8> {
    x25519_shared_secret_bytes(private_key, public_key).or_report().to_vec()
}

/// True for base64 (standard alphabet, padded) of 32 bytes that is not a low-order point.
#[pg_extern(immutable, strict, parallel_safe, name = "x25519_public_key_valid")]
fn x25519_public_key_valid_text(public_key: &str) -> bool {
    x25519_public_key_valid_base64(public_key)
}

#[pg_extern(immutable, strict, parallel_safe, name = "x25519_public_key_valid")]
fn x25519_public_key_valid_bytea(public_key: &[u8]) -> bool {
    x25519_public_key_valid_bytes(public_key)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn key_exchange_hash(shared_secret: &[u8], conversation_id: pgrx::Uuid) -> Vec<u8> {
    key_exchange_hash_bytes(shared_secret, conversation_id.as_bytes()).or_report().to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn chacha20poly1305_encrypt(
    plaintext: Option<&[u8]>,
    key: Option<&[u8]>,
    nonce: Option<&[u8]>,
    aad: default!(Option<&[u8]>, "NULL"),
) -> Option<Vec<u8>> {
    Some(chacha20poly1305_encrypt_bytes(plaintext?, key?, nonce?, aad.unwrap_or_default()).or_report())
}

#[pg_extern(immutable, parallel_safe)]
fn chacha20poly1305_decrypt(
    ciphertext: Option<&[u8]>,
    key: Option<&[u8]>,
    nonce: Option<&[u8]>,
    aad: default!(Option<&[u8]>, "NULL"),
) -> Option<Vec<u8>> {
    Some(chacha20poly1305_decrypt_bytes(ciphertext?, key?, nonce?, aad.unwrap_or_default()).or_report())
}

#[pg_extern(volatile, parallel_safe)]
fn random_nonce() -> Vec<u8> {
    random_nonce_bytes().or_report().to_vec()
}

/// XChaCha20-Poly1305 with a random nonce; see [`envelope`] for the output.
#[pg_extern(volatile, parallel_safe)]
fn encrypt(plaintext: Option<&[u8]>, key: Option<&[u8]>, aad: default!(Option<&[u8]>, "NULL")) -> Option<Vec<u8>> {
    Some(encrypt_bytes(plaintext?, key?, aad.unwrap_or_default()).or_report())
}

#[pg_extern(immutable, parallel_safe)]
fn decrypt(ciphertext: Option<&[u8]>, key: Option<&[u8]>, aad: default!(Option<&[u8]>, "NULL")) -> Option<Vec<u8>> {
    Some(decrypt_bytes(ciphertext?, key?, aad.unwrap_or_default()).or_report())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn sqlstate_of(e: &AuthGuardError) -> pgrx::pg_sys::errcodes::PgSqlErrorCode {
        e.sqlstate()
    }

    #[test]
    fn hkdf_matches_rfc5869_case_1_and_checks_length() {
        let okm = hkdf_sha256_bytes(
            &unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
            &unhex("000102030405060708090a0b0c"),
            &unhex("f0f1f2f3f4f5f6f7f8f9"),
            42,
        )
        .unwrap();
        assert_eq!(
            to_hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        for bad in [0, -1, 8161] {
            let e = hkdf_sha256_bytes(b"k", b"", b"", bad).unwrap_err();
            assert_eq!(e.message(), format!("pg_authguard: length must be between 1 and 8160, got {bad}"));
        }
        assert_eq!(hkdf_sha256_bytes(b"k", b"", b"", 8160).unwrap().len(), 8160);
    }

    #[test]
    fn length_errors_name_the_argument_not_the_value() {
        let e = chacha20poly1305_encrypt_bytes(b"p", &[0xAB; 31], &[0; 12], b"").unwrap_err();
        assert_eq!(e, AuthGuardError::InvalidParameter("key must be exactly 32 bytes, got 31".into()));
        assert!(!e.message().contains("ab"), "no key bytes in the message");
        let e = chacha20poly1305_encrypt_bytes(b"p", &[0; 32], &[0; 24], b"").unwrap_err();
        assert_eq!(e.message(), "pg_authguard: nonce must be exactly 12 bytes, got 24");
        let e = x25519_shared_secret_bytes(&[1; 32], &[9; 31]).unwrap_err();
        assert_eq!(e.message(), "pg_authguard: public_key must be exactly 32 bytes, got 31");
        let e = x25519_public_key_bytes(&[]).unwrap_err();
        assert_eq!(e.message(), "pg_authguard: private_key must be exactly 32 bytes, got 0");
        let e = key_exchange_hash_bytes(&[1; 16], &[0; 16]).unwrap_err();
        assert_eq!(e.message(), "pg_authguard: shared_secret must be exactly 32 bytes, got 16");
        let e = chacha20poly1305_decrypt_bytes(&[0; 15], &[0; 32], &[0; 12], b"").unwrap_err();
        assert_eq!(e.message(), "pg_authguard: ciphertext must be at least 16 bytes (the tag), got 15");
    }

    #[test]
    fn chacha20poly1305_matches_rfc8439_2_8_2_and_refuses_tampering() {
        let key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        let nonce = unhex("070000004041424344454647");
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let sealed = chacha20poly1305_encrypt_bytes(pt, &key, &nonce, &aad).unwrap();
        assert_eq!(to_hex(&sealed[sealed.len() - 16..]), "1ae10b594f09e26a7e902ecbd0600691");
        assert_eq!(to_hex(&sealed[..16]), "d31a8d34648e60db7b86afbc53ef7ec2");
        assert_eq!(chacha20poly1305_decrypt_bytes(&sealed, &key, &nonce, &aad).unwrap(), pt);
        for i in [0, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                chacha20poly1305_decrypt_bytes(&bad, &key, &nonce, &aad).unwrap_err(),
                AuthGuardError::AuthenticationFailed
            );
        }
        assert_eq!(
            chacha20poly1305_decrypt_bytes(&sealed, &key, &nonce, b"other aad").unwrap_err(),
            AuthGuardError::AuthenticationFailed
        );
        let mut other_key = key.clone();
        other_key[0] ^= 1;
        assert_eq!(
            chacha20poly1305_decrypt_bytes(&sealed, &other_key, &nonce, &aad).unwrap_err(),
            AuthGuardError::AuthenticationFailed
        );
    }

    #[test]
    fn encrypt_round_trips_in_a_v1_envelope_with_fresh_nonces() {
        let key = [7u8; 32];
        let a = encrypt_bytes(b"hello", &key, b"ctx").unwrap();
        let b = encrypt_bytes(b"hello", &key, b"ctx").unwrap();
        assert_eq!(a.len(), 5 + envelope::OVERHEAD);
        assert_eq!(&a[..4], &[b'A', b'G', 1, 1]);
        assert_ne!(a[4..28], b[4..28], "nonces must differ");
        assert_eq!(decrypt_bytes(&a, &key, b"ctx").unwrap(), b"hello");
        assert_eq!(decrypt_bytes(&a, &key, b"").unwrap_err(), AuthGuardError::AuthenticationFailed);
        assert_eq!(decrypt_bytes(&a, &[8u8; 32], b"ctx").unwrap_err(), AuthGuardError::AuthenticationFailed);
        let empty = encrypt_bytes(b"", &key, b"").unwrap();
        assert_eq!(empty.len(), envelope::OVERHEAD);
        assert_eq!(decrypt_bytes(&empty, &key, b"").unwrap(), b"");
    }

    #[test]
    fn envelope_parser_rejects_truncated_foreign_and_unknown_formats() {
        let key = [3u8; 32];
        let good = encrypt_bytes(b"secret", &key, b"").unwrap();
        let env = envelope::parse(&good).unwrap();
        assert_eq!(env.algorithm, envelope::ALG_XCHACHA20_POLY1305);
        assert_eq!(env.nonce, &good[4..28]);
        assert_eq!(env.sealed.len(), 6 + TAG_LEN);

        let malformed = |bytes: &[u8]| match envelope::parse(bytes) {
            Err(e @ AuthGuardError::MalformedInput(_)) => e.message(),
            other => panic!("expected MalformedInput, got {other:?}"),
        };
        assert!(malformed(b"").contains("truncated (0 bytes"));
        assert!(malformed(b"AG\x01").contains("truncated (3 bytes"));
        assert!(malformed(&good[..envelope::OVERHEAD - 1]).contains("truncated (43 bytes, at least 44 expected)"));
        assert!(malformed(b"XX\x01\x01").contains("magic"));
        let mut v2 = good.clone();
        v2[2] = 2;
        assert!(malformed(&v2).contains("unsupported format version 2"));
        let mut alg = good.clone();
        alg[3] = 9;
        assert!(malformed(&alg).contains("unknown algorithm id 9"));
        // The envelope's minimum (no plaintext) parses; the tag then decides.
        assert!(envelope::parse(&good[..envelope::OVERHEAD]).is_ok());
        assert_eq!(decrypt_bytes(&good[..good.len() - 1], &key, b"").unwrap_err(), AuthGuardError::AuthenticationFailed);
        let mut tampered = good.clone();
        tampered[30] ^= 0x80;
        assert_eq!(decrypt_bytes(&tampered, &key, b"").unwrap_err(), AuthGuardError::AuthenticationFailed);
        assert_eq!(
            sqlstate_of(&decrypt_bytes(b"AG", &key, b"").unwrap_err()),
            pgrx::pg_sys::errcodes::PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION
        );
    }

    #[test]
    fn x25519_matches_rfc7748_6_1_and_refuses_low_order_points() {
        let a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let a_pub = x25519_public_key_bytes(&a).unwrap();
        assert_eq!(to_hex(&a_pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let b_pub = x25519_public_key_bytes(&b).unwrap();
        let k1 = x25519_shared_secret_bytes(&a, &b_pub).unwrap();
        let k2 = x25519_shared_secret_bytes(&b, &a_pub).unwrap();
        assert_eq!(to_hex(k1.as_ref()), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(*k1, *k2);
        // Zero and one are points of low order.
        for low in [[0u8; 32], { let mut p = [0u8; 32]; p[0] = 1; p }] {
            let e = x25519_shared_secret_bytes(&a, &low).unwrap_err();
            assert!(e.message().contains("low-order point"), "{e}");
            assert!(!x25519_public_key_valid_bytes(&low));
        }
        assert!(x25519_public_key_valid_bytes(&a_pub));
        assert!(!x25519_public_key_valid_bytes(&a_pub[..31]));
    }

    #[test]
    fn public_key_validity_from_base64() {
        let (_, public) = x25519_generate_keypair_bytes().unwrap();
        let text = base64::engine::general_purpose::STANDARD.encode(public);
        assert!(x25519_public_key_valid_base64(&text));
        assert!(!x25519_public_key_valid_base64(&text[..text.len() - 1]), "missing padding");
        assert!(!x25519_public_key_valid_base64("not base64!"));
        assert!(!x25519_public_key_valid_base64(""));
        assert!(!x25519_public_key_valid_base64(&base64::engine::general_purpose::STANDARD.encode([1u8; 31])));
        assert!(!x25519_public_key_valid_base64(&base64::engine::general_purpose::STANDARD.encode([0u8; 32])));
    }

    #[test]
    fn generated_keypairs_are_consistent_and_distinct() {
        let (sk1, pk1) = x25519_generate_keypair_bytes().unwrap();
        let (sk2, pk2) = x25519_generate_keypair_bytes().unwrap();
        assert_ne!(pk1, pk2);
        assert_eq!(x25519_public_key_bytes(sk1.as_ref()).unwrap(), pk1);
        assert_eq!(
            *x25519_shared_secret_bytes(sk1.as_ref(), &pk2).unwrap(),
            *x25519_shared_secret_bytes(sk2.as_ref(), &pk1).unwrap()
        );
    }

    #[test]
    fn key_exchange_hash_is_hmac_over_uuid_bytes() {
        let secret = [0x42u8; 32];
        let id = [0x11u8; 16];
        assert_eq!(key_exchange_hash_bytes(&secret, &id).unwrap(), hmac_sha256_bytes(&secret, &id));
    }

    #[test]
    fn oversized_inputs_are_refused_before_any_work() {
        assert!(matches!(check_size("plaintext", MAX_INPUT_BYTES + 1), Err(AuthGuardError::TooLarge(_))));
        assert!(check_size("plaintext", MAX_INPUT_BYTES).is_ok());
    }

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
