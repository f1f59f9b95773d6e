//! Cryptographic primitives exposed as SQL functions.
//!
//! Only audited implementations are used (RustCrypto, dalek, and `ring` for
//! the AEAD, chosen in [`aead`]); nothing here implements a primitive itself.
//! Pure functions (`*_bytes`) carry the logic and are unit tested; the
//! `#[pg_extern]` wrappers only convert arguments and errors.
//!
//! NULL rule (SPEC): an argument declared `DEFAULT NULL` (`aad`) treats NULL as
//! "absent"; any other NULL argument yields a NULL result. Functions without
//! such an argument are simply STRICT.

use crate::errors::{AuthGuardError, OrReport, Result};
use crate::uuid_gen::random_bytes;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use pgrx::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

pub mod aead;

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

pub use aead::{KEY_LEN, NONCE_LEN, TAG_LEN, XNONCE_LEN};
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
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    aead::chacha20poly1305_seal_append(&key, nonce.try_into().expect("checked length"), aad, plaintext, &mut out)?;
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
    aead::chacha20poly1305_open(&key, nonce.try_into().expect("checked length"), aad, ciphertext)
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
    let mut out = Vec::with_capacity(plaintext.len() + envelope::OVERHEAD);
    out.extend_from_slice(&envelope::header(envelope::ALG_XCHACHA20_POLY1305));
    out.extend_from_slice(&nonce);
    aead::xchacha20poly1305_seal_append(&key, &nonce, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Inverse of [`encrypt_bytes`].
pub fn decrypt_bytes(data: &[u8], key: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = array32("key", key)?;
    check_aead_inputs("ciphertext", data, aad)?;
    let env = envelope::parse(data)?;
    debug_assert_eq!(env.algorithm, envelope::ALG_XCHACHA20_POLY1305);
    aead::xchacha20poly1305_open(&key, env.nonce.try_into().expect("the parser fixes the nonce length"), aad, env.sealed)
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

/// Properties of the pure parsers over many generated inputs (fixed seed, so
/// a failure reproduces), biased toward near-valid inputs.
#[cfg(test)]
mod parser_properties {
    use super::*;

    use crate::test_rng::Rng;

    #[test]
    fn envelope_parse_accepts_exactly_the_v1_format() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..100_000 {
            let len = rng.below(2 * envelope::OVERHEAD as u64) as usize;
            let mut bytes = rng.bytes(len);
            for (i, b) in envelope::header(envelope::ALG_XCHACHA20_POLY1305).iter().enumerate() {
                if i < bytes.len() && rng.below(4) != 0 {
                    bytes[i] = *b;
                }
            }
            let valid = bytes.len() >= envelope::OVERHEAD
                && bytes[..envelope::HEADER_LEN] == envelope::header(envelope::ALG_XCHACHA20_POLY1305);
            match envelope::parse(&bytes) {
                Ok(env) => {
                    assert!(valid, "accepted {bytes:02x?}");
                    assert_eq!(env.nonce.len(), XNONCE_LEN);
                    assert_eq!([env.nonce, env.sealed].concat(), &bytes[envelope::HEADER_LEN..]);
                }
                Err(e) => {
                    assert!(!valid, "refused a well-formed envelope: {e}");
                    assert!(matches!(e, AuthGuardError::MalformedInput(_)), "{e:?}");
                }
            }
        }
    }

    #[test]
    fn decrypt_refuses_every_single_bit_change() {
        let mut rng = Rng(0x5851_f42d_4c95_7f2d);
        let key = [9u8; 32];
        for _ in 0..2_000 {
            let (plen, alen) = (rng.below(300) as usize, rng.below(20) as usize);
            let plaintext = rng.bytes(plen);
            let aad = rng.bytes(alen);
            let ct = encrypt_bytes(&plaintext, &key, &aad).unwrap();
            assert_eq!(decrypt_bytes(&ct, &key, &aad).unwrap(), plaintext);
            let mut tampered = ct.clone();
            let i = rng.below(tampered.len() as u64) as usize;
            tampered[i] ^= 1 << rng.below(8);
            assert!(decrypt_bytes(&tampered, &key, &aad).is_err(), "a flipped bit at {i} still decrypted");
        }
    }

    #[test]
    fn base64_public_key_check_never_accepts_malformed_text() {
        use base64::Engine as _;
        let mut rng = Rng(0x1405_7b7e_f767_814f);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ !";
        for _ in 0..50_000 {
            let text: String = if rng.below(2) == 0 {
                // A real encoding of 32 random bytes, sometimes damaged.
                let raw = rng.bytes(32);
                let mut t = base64::engine::general_purpose::STANDARD.encode(raw).into_bytes();
                if rng.below(2) == 0 {
                    let i = rng.below(t.len() as u64) as usize;
                    t[i] = alphabet[rng.below(alphabet.len() as u64) as usize];
                }
                String::from_utf8(t).unwrap()
            } else {
                let len = rng.below(50) as usize;
                (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char).collect()
            };
            let decoded = base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).ok();
            let accepted = x25519_public_key_valid_base64(&text);
            if accepted {
                let bytes = decoded.expect("accepted text must be valid standard base64");
                assert_eq!(bytes.len(), 32);
                assert!(x25519_public_key_valid_bytes(&bytes));
            } else if let Some(bytes) = decoded {
                assert!(bytes.len() != 32 || !x25519_public_key_valid_bytes(&bytes));
            }
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
pub(crate) mod tests {
    use super::*;

    #[cfg(test)]
    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[cfg(test)]
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

    // ------------------------------------------------ through SQL (#[pg_test])

    /// "SQLSTATE: message" of the error `sql` raises, or "ok" when it succeeds.
    pub(crate) fn error_of(sql: &str) -> String {
        // Created once per session, so tests may call it after SET ROLE too.
        Spi::run(
            "DO $do$ BEGIN IF to_regprocedure('pg_temp.error_of(text)') IS NULL THEN
                 CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
                 BEGIN EXECUTE q; RETURN 'ok';
                 EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $f$;
             END IF; END $do$",
        )
        .unwrap();
        Spi::get_one_with_args::<String>("SELECT pg_temp.error_of($1)", &[sql.into()]).unwrap().unwrap()
    }

    pub(crate) fn hex_of(sql: &str) -> Option<String> {
        Spi::get_one::<String>(&format!("SELECT encode(({sql}), 'hex')")).unwrap()
    }

    fn bool_of(sql: &str) -> Option<bool> {
        Spi::get_one::<bool>(&format!("SELECT ({sql})")).unwrap()
    }

    fn lit(hex: &str) -> String {
        format!("'\\x{hex}'::bytea")
    }

    #[pg_test]
    fn sql_hkdf_vector_default_length_nulls_and_errors() {
        assert_eq!(
            hex_of("authguard.hkdf_sha256('\\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', '\\x000102030405060708090a0b0c', '\\xf0f1f2f3f4f5f6f7f8f9', 42)").unwrap(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        assert_eq!(Spi::get_one::<i32>("SELECT length(authguard.hkdf_sha256('k', '', ''))").unwrap(), Some(32));
        assert_eq!(hex_of("authguard.hkdf_sha256(NULL, '', '')"), None);
        assert_eq!(hex_of("authguard.hkdf_sha256('k', NULL, '')"), None);
        assert_eq!(hex_of("authguard.hkdf_sha256('k', '', '', NULL)"), None);
        assert_eq!(
            error_of("SELECT authguard.hkdf_sha256('k', '', '', 8161)"),
            "22023: pg_authguard: length must be between 1 and 8160, got 8161"
        );
        assert_eq!(error_of("SELECT authguard.hkdf_sha256('k', '', '', 0)"), "22023: pg_authguard: length must be between 1 and 8160, got 0");
    }

    #[pg_test]
    fn sql_x25519_keypair_agreement_and_refusals() {
        let row = Spi::get_two::<Vec<u8>, Vec<u8>>("SELECT private_key, public_key FROM authguard.x25519_generate_keypair()").unwrap();
        let (sk, pk) = (row.0.unwrap(), row.1.unwrap());
        assert_eq!((sk.len(), pk.len()), (32, 32));
        assert_eq!(x25519_public_key_bytes(&sk).unwrap(), pk.as_slice());
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM authguard.x25519_generate_keypair()").unwrap(), Some(1));
        assert!(!bool_of("(SELECT public_key FROM authguard.x25519_generate_keypair()) = (SELECT public_key FROM authguard.x25519_generate_keypair())").unwrap());

        let a = "'\\x77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'::bytea";
        let b = "'\\x5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'::bytea";
        assert_eq!(
            hex_of(&format!("authguard.x25519_public_key({a})")).unwrap(),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        let k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        assert_eq!(hex_of(&format!("authguard.x25519_shared_secret({a}, authguard.x25519_public_key({b}))")).unwrap(), k);
        assert_eq!(hex_of(&format!("authguard.x25519_shared_secret({b}, authguard.x25519_public_key({a}))")).unwrap(), k);

        assert_eq!(
            error_of(&format!("SELECT authguard.x25519_shared_secret({a}, '\\x{}')", "00".repeat(32))),
            "22023: pg_authguard: public_key is a low-order point: the shared secret would be all zeros (non-contributory)"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.x25519_shared_secret({a}, '\\x0102')")),
            "22023: pg_authguard: public_key must be exactly 32 bytes, got 2"
        );
        assert_eq!(
            error_of("SELECT authguard.x25519_public_key('\\x01')"),
            "22023: pg_authguard: private_key must be exactly 32 bytes, got 1"
        );
        assert_eq!(hex_of("authguard.x25519_public_key(NULL)"), None);
        assert_eq!(hex_of(&format!("authguard.x25519_shared_secret({a}, NULL)")), None);
        assert_eq!(hex_of(&format!("authguard.x25519_shared_secret(NULL, {b})")), None);
    }

    #[pg_test]
    fn sql_x25519_public_key_valid_text_and_bytea() {
        let pk = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="; // RFC 7748 §6.1 Alice's public key
        assert_eq!(bool_of(&format!("authguard.x25519_public_key_valid('{pk}'::text)")), Some(true));
        assert_eq!(bool_of(&format!("authguard.x25519_public_key_valid(decode('{pk}', 'base64'))")), Some(true));
        for bad in ["not base64!", "", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", "AAECAw==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="] {
            assert_eq!(bool_of(&format!("authguard.x25519_public_key_valid('{bad}'::text)")), Some(false), "{bad}");
        }
        assert_eq!(bool_of("authguard.x25519_public_key_valid('\\x0102'::bytea)"), Some(false));
        assert_eq!(bool_of("authguard.x25519_public_key_valid(NULL::text)"), None);
        assert_eq!(bool_of("authguard.x25519_public_key_valid(NULL::bytea)"), None);
    }

    #[pg_test]
    fn sql_key_exchange_hash_is_hmac_over_uuid_bytes() {
        let secret = format!("'\\x{}'::bytea", "42".repeat(32));
        let id = "'6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'::uuid";
        assert_eq!(
            hex_of(&format!("authguard.key_exchange_hash({secret}, {id})")),
            hex_of(&format!("authguard.hmac_sha256({secret}, uuid_send({id}))"))
        );
        assert_eq!(hex_of(&format!("authguard.key_exchange_hash(NULL, {id})")), None);
        assert_eq!(hex_of(&format!("authguard.key_exchange_hash({secret}, NULL)")), None);
        assert_eq!(
            error_of(&format!("SELECT authguard.key_exchange_hash('\\x00', {id})")),
            "22023: pg_authguard: shared_secret must be exactly 32 bytes, got 1"
        );
    }

    const RFC8439_KEY: &str = "'\\x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'::bytea";
    const RFC8439_NONCE: &str = "'\\x070000004041424344454647'::bytea";
    const RFC8439_AAD: &str = "'\\x50515253c0c1c2c3c4c5c6c7'::bytea";
    const RFC8439_TEXT: &str = "convert_to('Ladies and Gentlemen of the class of ''99: If I could offer you only one tip for the future, sunscreen would be it.', 'UTF8')";

    #[pg_test]
    fn sql_chacha20poly1305_rfc8439_aad_and_null_rules() {
        let sealed = hex_of(&format!(
            "authguard.chacha20poly1305_encrypt({RFC8439_TEXT}, {RFC8439_KEY}, {RFC8439_NONCE}, {RFC8439_AAD})"
        ))
        .unwrap();
        assert!(sealed.starts_with("d31a8d34648e60db7b86afbc53ef7ec2"));
        assert!(sealed.ends_with("1ae10b594f09e26a7e902ecbd0600691"));
        assert_eq!(sealed.len(), (114 + 16) * 2);
        assert_eq!(
            bool_of(&format!(
                "authguard.chacha20poly1305_decrypt('\\x{sealed}', {RFC8439_KEY}, {RFC8439_NONCE}, {RFC8439_AAD}) = {RFC8439_TEXT}"
            )),
            Some(true)
        );
        // Omitted aad, explicit NULL and empty aad are the same thing.
        let omitted = hex_of(&format!("authguard.chacha20poly1305_encrypt('abc', {RFC8439_KEY}, {RFC8439_NONCE})"));
        assert_eq!(omitted, hex_of(&format!("authguard.chacha20poly1305_encrypt('abc', {RFC8439_KEY}, {RFC8439_NONCE}, NULL)")));
        assert_eq!(omitted, hex_of(&format!("authguard.chacha20poly1305_encrypt('abc', {RFC8439_KEY}, {RFC8439_NONCE}, ''::bytea)")));
        // Any other NULL argument: NULL.
        assert_eq!(hex_of(&format!("authguard.chacha20poly1305_encrypt(NULL, {RFC8439_KEY}, {RFC8439_NONCE})")), None);
        assert_eq!(hex_of(&format!("authguard.chacha20poly1305_encrypt('abc', NULL, {RFC8439_NONCE})")), None);
        assert_eq!(hex_of(&format!("authguard.chacha20poly1305_decrypt('\\x{sealed}', {RFC8439_KEY}, NULL, {RFC8439_AAD})")), None);
    }

    #[pg_test]
    fn sql_chacha20poly1305_errors_carry_their_sqlstate() {
        let auth = "22000: pg_authguard: decryption failed: authentication failed (tampered ciphertext, wrong key or wrong AAD)";
        let sealed = hex_of(&format!("authguard.chacha20poly1305_encrypt('secret', {RFC8439_KEY}, {RFC8439_NONCE}, 'ctx')")).unwrap();
        let mut tampered = sealed.clone().into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(error_of(&format!("SELECT authguard.chacha20poly1305_decrypt('\\x{tampered}', {RFC8439_KEY}, {RFC8439_NONCE}, 'ctx')")), auth);
        assert_eq!(error_of(&format!("SELECT authguard.chacha20poly1305_decrypt('\\x{sealed}', {RFC8439_KEY}, {RFC8439_NONCE}, 'other')")), auth);
        assert_eq!(error_of(&format!("SELECT authguard.chacha20poly1305_decrypt('\\x{sealed}', {RFC8439_KEY}, {RFC8439_NONCE})")), auth);
        assert_eq!(
            error_of(&format!("SELECT authguard.chacha20poly1305_decrypt('\\x{sealed}', sha256('other key'), {RFC8439_NONCE}, 'ctx')")),
            auth
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.chacha20poly1305_encrypt('x', '\\x00', {RFC8439_NONCE})")),
            "22023: pg_authguard: key must be exactly 32 bytes, got 1"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.chacha20poly1305_encrypt('x', {RFC8439_KEY}, authguard.random_nonce() || '\\x00')")),
            "22023: pg_authguard: nonce must be exactly 12 bytes, got 13"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.chacha20poly1305_decrypt('\\x00', {RFC8439_KEY}, {RFC8439_NONCE})")),
            "22023: pg_authguard: ciphertext must be at least 16 bytes (the tag), got 1"
        );
    }

    #[pg_test]
    fn sql_random_nonce_is_12_fresh_bytes() {
        assert_eq!(Spi::get_one::<i32>("SELECT length(authguard.random_nonce())").unwrap(), Some(12));
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(DISTINCT authguard.random_nonce()) FROM generate_series(1, 100)").unwrap(),
            Some(100)
        );
    }

    #[pg_test]
    fn sql_encrypt_decrypt_envelope_round_trip_and_refusals() {
        let key = "sha256('k1')";
        assert_eq!(
            Spi::get_one::<String>(&format!("SELECT convert_from(authguard.decrypt(authguard.encrypt('hello', {key}), {key}), 'UTF8')")).unwrap(),
            Some("hello".into())
        );
        assert_eq!(
            bool_of(&format!("authguard.decrypt(authguard.encrypt('m', {key}, 'ctx'), {key}, 'ctx') = 'm'::bytea")),
            Some(true)
        );
        // Explicit NULL aad means "no aad".
        assert_eq!(bool_of(&format!("authguard.decrypt(authguard.encrypt('m', {key}, NULL), {key}) = 'm'::bytea")), Some(true));
        let header = hex_of(&format!("substr(authguard.encrypt('hello', {key}), 1, 4)")).unwrap();
        assert_eq!(header, "41470101");
        assert_eq!(Spi::get_one::<i32>(&format!("SELECT length(authguard.encrypt('hello', {key}))")).unwrap(), Some(5 + 44));
        assert_eq!(bool_of(&format!("authguard.encrypt('same', {key}) <> authguard.encrypt('same', {key})")), Some(true));

        let auth = "22000: pg_authguard: decryption failed: authentication failed (tampered ciphertext, wrong key or wrong AAD)";
        assert_eq!(error_of(&format!("SELECT authguard.decrypt(authguard.encrypt('m', {key}, 'ctx'), {key}, 'other')")), auth);
        assert_eq!(error_of(&format!("SELECT authguard.decrypt(authguard.encrypt('m', {key}), sha256('k2'))")), auth);
        for offset in [4, 28, 43] {
            // Flip one bit of the nonce, the ciphertext, the tag.
            assert_eq!(
                error_of(&format!(
                    "SELECT authguard.decrypt(set_byte(c, {offset}, get_byte(c, {offset}) # 1), {key}) FROM (SELECT authguard.encrypt('m', {key}) AS c) s"
                )),
                auth
            );
        }
        assert_eq!(
            error_of(&format!("SELECT authguard.decrypt('\\x41470101', {key})")),
            "22P02: pg_authguard: invalid encrypt() envelope: truncated (4 bytes, at least 44 expected)"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.decrypt(overlay(authguard.encrypt('m', {key}) placing '\\x07'::bytea from 4), {key})")),
            "22P02: pg_authguard: invalid encrypt() envelope: unknown algorithm id 7"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.decrypt(overlay(authguard.encrypt('m', {key}) placing '\\x02'::bytea from 3), {key})")),
            "22P02: pg_authguard: invalid encrypt() envelope: unsupported format version 2"
        );
        assert_eq!(
            error_of(&format!("SELECT authguard.decrypt('plain text'::bytea, {key})")),
            "22P02: pg_authguard: invalid encrypt() envelope: missing the \"AG\" magic bytes; not produced by authguard.encrypt()"
        );
        assert_eq!(error_of("SELECT authguard.encrypt('m', 'short')"), "22023: pg_authguard: key must be exactly 32 bytes, got 5");
        assert_eq!(hex_of(&format!("authguard.encrypt(NULL, {key})")), None);
        assert_eq!(hex_of("authguard.encrypt('m', NULL)"), None);
        assert_eq!(hex_of(&format!("authguard.decrypt(NULL, {key}, 'ctx')")), None);
    }

    // ------------------------------------------ Wycheproof, through the SQL functions

    fn vectors(json: &str) -> (serde_json::Value, Vec<(serde_json::Value, serde_json::Value)>) {
        let doc: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut cases = Vec::new();
        for group in doc["testGroups"].as_array().unwrap() {
            for case in group["tests"].as_array().unwrap() {
                cases.push((group.clone(), case.clone()));
            }
        }
        assert!(!cases.is_empty());
        assert_eq!(cases.len() as u64, doc["numberOfTests"].as_u64().unwrap());
        (doc, cases)
    }

    fn s<'v>(case: &'v serde_json::Value, field: &str) -> &'v str {
        case[field].as_str().unwrap()
    }

    fn has_flag(case: &serde_json::Value, flag: &str) -> bool {
        case["flags"].as_array().unwrap().iter().any(|f| f == flag)
    }

    #[pg_test]
    fn wycheproof_x25519() {
        let (_, cases) = vectors(include_str!("../tests/vectors/wycheproof/x25519_test.json"));
        let (mut refused, mut agreed) = (0, 0);
        for (_, case) in &cases {
            let sql = format!("SELECT authguard.x25519_shared_secret({}, {})", lit(s(case, "private")), lit(s(case, "public")));
            if has_flag(case, "ZeroSharedSecret") {
                assert_eq!(s(case, "shared"), "00".repeat(32));
                assert!(error_of(&sql).starts_with("22023: "), "tcId {}", case["tcId"]);
                refused += 1;
            } else {
                assert_ne!(s(case, "result"), "invalid");
                assert_eq!(hex_of(&sql[7..]).as_deref(), Some(s(case, "shared")), "tcId {}", case["tcId"]);
                agreed += 1;
            }
        }
        assert_eq!(refused + agreed, cases.len());
        assert_eq!(refused, 31);
    }

    fn aad_arg(case: &serde_json::Value) -> String {
        // An empty AAD goes in as NULL: both mean "absent".
        match s(case, "aad") {
            "" => "NULL".into(),
            hex => lit(hex),
        }
    }

    #[pg_test]
    fn wycheproof_chacha20_poly1305() {
        let (_, cases) = vectors(include_str!("../tests/vectors/wycheproof/chacha20_poly1305_test.json"));
        let mut checked = 0;
        for (_, case) in &cases {
            let (key, iv, aad) = (lit(s(case, "key")), lit(s(case, "iv")), aad_arg(case));
            let sealed = format!("{}{}", s(case, "ct"), s(case, "tag"));
            let open = format!("authguard.chacha20poly1305_decrypt({}, {key}, {iv}, {aad})", lit(&sealed));
            match s(case, "result") {
                "valid" => {
                    let seal = format!("authguard.chacha20poly1305_encrypt({}, {key}, {iv}, {aad})", lit(s(case, "msg")));
                    assert_eq!(hex_of(&seal).as_deref(), Some(sealed.as_str()), "tcId {}", case["tcId"]);
                    assert_eq!(hex_of(&open).as_deref(), Some(s(case, "msg")), "tcId {}", case["tcId"]);
                }
                "invalid" => {
                    let e = error_of(&format!("SELECT {open}"));
                    assert!(e.starts_with("22000: ") || e.starts_with("22023: "), "tcId {}: {e}", case["tcId"]);
                    if has_flag(case, "InvalidNonceSize") {
                        assert!(e.starts_with("22023: pg_authguard: nonce must be exactly 12 bytes"), "{e}");
                    }
                }
                other => panic!("unexpected result {other}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 325);
    }

    #[pg_test]
    fn wycheproof_xchacha20_poly1305_via_decrypt_envelope() {
        let (_, cases) = vectors(include_str!("../tests/vectors/wycheproof/xchacha20_poly1305_test.json"));
        let mut checked = 0;
        for (_, case) in &cases {
            // encrypt() picks its own nonce, so the vectors go through decrypt()
            // in a v1 envelope built around the vector's nonce.
            let env = format!("414701{:02x}{}{}{}", envelope::ALG_XCHACHA20_POLY1305, s(case, "iv"), s(case, "ct"), s(case, "tag"));
            let open = format!("authguard.decrypt({}, {}, {})", lit(&env), lit(s(case, "key")), aad_arg(case));
            match s(case, "result") {
                "valid" => assert_eq!(hex_of(&open).as_deref(), Some(s(case, "msg")), "tcId {}", case["tcId"]),
                "invalid" => {
                    let e = error_of(&format!("SELECT {open}"));
                    assert!(e.starts_with("22000: ") || e.starts_with("22P02: "), "tcId {}: {e}", case["tcId"]);
                }
                other => panic!("unexpected result {other}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 315);
    }

    #[pg_test]
    fn wycheproof_hmac_sha256() {
        let (_, cases) = vectors(include_str!("../tests/vectors/wycheproof/hmac_sha256_test.json"));
        let mut checked = 0;
        for (group, case) in &cases {
            let tag_bytes = group["tagSize"].as_u64().unwrap() / 8;
            let (key, msg, tag) = (lit(s(case, "key")), lit(s(case, "msg")), s(case, "tag"));
            let truncated = hex_of(&format!("substr(authguard.hmac_sha256({key}, {msg}), 1, {tag_bytes})")).unwrap();
            let verified = bool_of(&format!("authguard.hmac_sha256_verify({key}, {msg}, {})", lit(tag))).unwrap();
            match s(case, "result") {
                "valid" => {
                    assert_eq!(truncated, tag, "tcId {}", case["tcId"]);
                    // verify takes full tags only: a truncated one is refused.
                    assert_eq!(verified, tag_bytes == 32, "tcId {}", case["tcId"]);
                }
                "invalid" => {
                    assert_ne!(truncated, tag, "tcId {}", case["tcId"]);
                    assert!(!verified, "tcId {}", case["tcId"]);
                }
                other => panic!("unexpected result {other}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 174);
    }

    #[pg_test]
    fn wycheproof_hkdf_sha256() {
        let (_, cases) = vectors(include_str!("../tests/vectors/wycheproof/hkdf_sha256_test.json"));
        let mut checked = 0;
        for (_, case) in &cases {
            let sql = format!(
                "authguard.hkdf_sha256({}, {}, {}, {})",
                lit(s(case, "ikm")),
                lit(s(case, "salt")),
                lit(s(case, "info")),
                case["size"]
            );
            match s(case, "result") {
                "valid" => assert_eq!(hex_of(&sql).as_deref(), Some(s(case, "okm")), "tcId {}", case["tcId"]),
                "invalid" => assert!(error_of(&format!("SELECT {sql}")).starts_with("22023: "), "tcId {}", case["tcId"]),
                other => panic!("unexpected result {other}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 86);
    }
}
