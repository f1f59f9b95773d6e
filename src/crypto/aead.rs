//! The one place that chooses the AEAD implementation; `crypto.rs` (the SQL
//! primitives) and `keyring.rs` (data encryption, key wrapping) call only this.
//!
//! - ChaCha20-Poly1305 (RFC 8439) is `ring`'s (`ring::aead::CHACHA20_POLY1305`:
//!   BoringSSL-derived assembly that picks its SIMD path at run time, so a
//!   portable build gets the AVX2 speed and still runs on CPUs without it).
//! - XChaCha20-Poly1305 is composed as draft-irtf-cfrg-xchacha-03 §2.3 defines
//!   it: subkey = HChaCha20(key, nonce[0..16]) (RustCrypto `chacha20`), then
//!   ChaCha20-Poly1305 above under the subkey with nonce
//!   `0x00000000 || nonce[16..24]`. The subkey is zeroized after use.
//!
//! RustCrypto's `chacha20poly1305` is kept as the differential reference in
//! the tests below (it was the implementation before; see docs/crypto.md).
//!
//! Callers check lengths (key, nonce) first: the arrays here cannot be wrong.

use crate::errors::{AuthGuardError, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use zeroize::{Zeroize, Zeroizing};

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const XNONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

fn ring_key(key: &[u8; KEY_LEN]) -> LessSafeKey {
    // ring refuses only a key of the wrong length, which the type rules out.
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key is valid for ChaCha20-Poly1305"))
}

/// Append `ciphertext || tag` of `plaintext` to `out`.
fn seal_append(key: &LessSafeKey, nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.reserve(plaintext.len() + TAG_LEN);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[start..])
        .map_err(|_| {
            out[start..].zeroize();
            AuthGuardError::TooLarge("plaintext is too long for this cipher".into())
        })?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// The plaintext of `sealed` (= ciphertext || tag), or AuthenticationFailed;
/// a half-decrypted buffer is wiped, never returned.
fn open(key: &LessSafeKey, nonce: [u8; NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let Some(body_len) = sealed.len().checked_sub(TAG_LEN) else {
        return Err(AuthGuardError::AuthenticationFailed);
    };
    let (body, tag) = sealed.split_at(body_len);
    let tag = Tag::try_from(tag).map_err(|_| AuthGuardError::AuthenticationFailed)?;
    let mut out = body.to_vec();
    match key.open_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), tag, &mut out, 0..) {
        Ok(_) => Ok(out),
        Err(ring::error::Unspecified) => {
            out.zeroize();
            Err(AuthGuardError::AuthenticationFailed)
        }
    }
}

/// ChaCha20-Poly1305 (RFC 8439): append `ciphertext || tag` to `out`.
pub fn chacha20poly1305_seal_append(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    seal_append(&ring_key(key), *nonce, aad, plaintext, out)
}

/// Inverse of [`chacha20poly1305_seal_append`]; `sealed` is `ciphertext || tag`.
pub fn chacha20poly1305_open(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    open(&ring_key(key), *nonce, aad, sealed)
}

/// The XChaCha20 subkey and the 12-byte ChaCha20 nonce (draft-irtf-cfrg-xchacha-03 §2.3).
fn xchacha_key(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN]) -> (LessSafeKey, [u8; NONCE_LEN]) {
    use chacha20::cipher::consts::U10;
    let mut derived = chacha20::hchacha::<U10>(key[..].into(), nonce[..16].into());
    let mut subkey = Zeroizing::new([0u8; KEY_LEN]);
    subkey.copy_from_slice(&derived);
    derived.as_mut_slice().zeroize();
    let mut chacha_nonce = [0u8; NONCE_LEN];
    chacha_nonce[4..].copy_from_slice(&nonce[16..]);
    (ring_key(&subkey), chacha_nonce)
}

/// XChaCha20-Poly1305: append `ciphertext || tag` to `out`.
pub fn xchacha20poly1305_seal_append(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let (subkey, chacha_nonce) = xchacha_key(key, nonce);
    seal_append(&subkey, chacha_nonce, aad, plaintext, out)
}

/// Inverse of [`xchacha20poly1305_seal_append`]; `sealed` is `ciphertext || tag`.
pub fn xchacha20poly1305_open(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let (subkey, chacha_nonce) = xchacha_key(key, nonce);
    open(&subkey, chacha_nonce, aad, sealed)
}

#[cfg(test)]
mod tests {
    //! Differential test against RustCrypto `chacha20poly1305` (the reference).
    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};

    /// SplitMix64: a fixed-seed PRNG, so a failure is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
        fn array<const N: usize>(&mut self) -> [u8; N] {
            self.bytes(N).try_into().unwrap()
        }
        /// Mostly uniform over 0..=max, with the edges (0, 1, 15..17, 63..65, max) often.
        fn len(&mut self, max: usize) -> usize {
            const EDGES: [usize; 8] = [0, 1, 15, 16, 17, 63, 64, 65];
            match self.below(4) {
                0 => EDGES[self.below(EDGES.len())],
                1 => max - self.below(3),
                _ => self.below(max + 1),
            }
        }
    }

    fn flip_one_bit(rng: &mut Rng, sealed: &[u8]) -> Vec<u8> {
        let mut bad = sealed.to_vec();
        let bit = rng.below(bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        bad
    }

    const CASES: usize = 3000;
    const MAX_LEN: usize = 2048;

    #[test]
    fn chacha20poly1305_equals_rustcrypto_reference() {
        let mut rng = Rng(0x5eed_c4a7_0001);
        for case in 0..CASES {
            let key: [u8; 32] = rng.array();
            let nonce: [u8; 12] = rng.array();
            let aad = { let n = rng.len(MAX_LEN / 4); rng.bytes(n) };
            let msg = { let n = rng.len(MAX_LEN); rng.bytes(n) };
            let reference = ChaCha20Poly1305::new(&key.into())
                .encrypt(&nonce.into(), Payload { msg: &msg, aad: &aad })
                .unwrap();
            let mut ours = b"prefix".to_vec();
            chacha20poly1305_seal_append(&key, &nonce, &aad, &msg, &mut ours).unwrap();
            assert_eq!(&ours[..6], b"prefix");
            assert_eq!(ours[6..], reference[..], "case {case}: ciphertext differs (len {}, aad {})", msg.len(), aad.len());
            assert_eq!(chacha20poly1305_open(&key, &nonce, &aad, &reference).unwrap(), msg, "case {case}");
            let bad = flip_one_bit(&mut rng, &reference);
            assert!(matches!(chacha20poly1305_open(&key, &nonce, &aad, &bad), Err(AuthGuardError::AuthenticationFailed)));
            if !aad.is_empty() {
                let bad_aad = flip_one_bit(&mut rng, &aad);
                assert!(chacha20poly1305_open(&key, &nonce, &bad_aad, &reference).is_err(), "case {case}");
            }
        }
    }

    #[test]
    fn xchacha20poly1305_equals_rustcrypto_reference() {
        let mut rng = Rng(0x5eed_c4a7_0002);
        for case in 0..CASES {
            let key: [u8; 32] = rng.array();
            let nonce: [u8; 24] = rng.array();
            let aad = { let n = rng.len(MAX_LEN / 4); rng.bytes(n) };
            let msg = { let n = rng.len(MAX_LEN); rng.bytes(n) };
            let reference = XChaCha20Poly1305::new(&key.into())
                .encrypt(&nonce.into(), Payload { msg: &msg, aad: &aad })
                .unwrap();
            let mut ours = Vec::new();
            xchacha20poly1305_seal_append(&key, &nonce, &aad, &msg, &mut ours).unwrap();
            assert_eq!(ours, reference, "case {case}: ciphertext differs (len {}, aad {})", msg.len(), aad.len());
            assert_eq!(xchacha20poly1305_open(&key, &nonce, &aad, &reference).unwrap(), msg, "case {case}");
            let bad = flip_one_bit(&mut rng, &reference);
            assert!(matches!(xchacha20poly1305_open(&key, &nonce, &aad, &bad), Err(AuthGuardError::AuthenticationFailed)));
            // Only the first 16 nonce bytes go into HChaCha20: check the last 8 matter too.
            let mut other_nonce = nonce;
            other_nonce[16 + rng.below(8)] ^= 0x01;
            assert!(xchacha20poly1305_open(&key, &other_nonce, &aad, &reference).is_err(), "case {case}");
        }
    }

    #[test]
    fn open_refuses_input_shorter_than_a_tag() {
        for len in 0..TAG_LEN {
            assert!(matches!(chacha20poly1305_open(&[0; 32], &[0; 12], b"", &vec![0; len]), Err(AuthGuardError::AuthenticationFailed)));
            assert!(matches!(xchacha20poly1305_open(&[0; 32], &[0; 24], b"", &vec![0; len]), Err(AuthGuardError::AuthenticationFailed)));
        }
    }
}
