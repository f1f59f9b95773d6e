//! Per-call cost of SHA-256 (short input), HMAC-SHA256 and ChaCha20-Poly1305
//! over 1 KiB, as built by the given RUSTFLAGS; the AEAD's two halves apart
//! (ChaCha20 keystream, Poly1305); and the AEAD call wrapped in an
//! `#[target_feature(enable = "avx2")]` function, to test whether run-time
//! dispatch from our side recovers the `target-cpu=native` speed (it does not:
//! the crates' generic code is not inlined into the wrapper).
//! Then what the extension ships since: `ring`'s ChaCha20-Poly1305 (run-time
//! dispatched assembly) and XChaCha20-Poly1305 composed as HChaCha20
//! (RustCrypto `chacha20`) + ring, against RustCrypto's `XChaCha20Poly1305`;
//! and 1 MiB messages for throughput.
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;

const N: u32 = 100_000;

fn time(name: &str, f: impl FnMut()) {
    time_n(name, N, 0, f)
}

/// Best of 3 runs of `n` calls; with `bytes` > 0 also MB/s (1 MB = 10^6 bytes).
fn time_n(name: &str, n: u32, bytes: usize, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    if bytes > 0 {
        println!("{name:<48} {best:9.3} us/call {:8.0} MB/s", bytes as f64 / best);
    } else {
        println!("{name:<48} {best:9.3} us/call");
    }
}

fn ring_key(key: &[u8; 32]) -> ring::aead::LessSafeKey {
    use ring::aead::{LessSafeKey, UnboundKey, CHACHA20_POLY1305};
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap())
}

/// As the extension does per call: key setup, seal in place, tag appended.
fn ring_seal(key: &[u8; 32], nonce: [u8; 12], buf: &mut Vec<u8>) {
    use ring::aead::{Aad, Nonce};
    let k = ring_key(key);
    let tag = k.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf).unwrap();
    buf.extend_from_slice(tag.as_ref());
}

/// XChaCha20-Poly1305 = HChaCha20 subkey + ChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3).
fn ring_xseal(key: &[u8; 32], xnonce: &[u8; 24], buf: &mut Vec<u8>) {
    use chacha20::cipher::consts::U10;
    let sub = chacha20::hchacha::<U10>(key[..].into(), xnonce[..16].into());
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&xnonce[16..]);
    ring_seal(&<[u8; 32]>::try_from(&sub[..]).unwrap(), nonce, buf);
}

fn seal(cipher: &ChaCha20Poly1305, nonce: &Nonce, buf: &mut Vec<u8>) {
    cipher.encrypt_in_place(nonce, b"", buf).unwrap();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn seal_avx2(cipher: &ChaCha20Poly1305, nonce: &Nonce, buf: &mut Vec<u8>) {
    cipher.encrypt_in_place(nonce, b"", buf).unwrap();
}

fn main() {
    let token = b"3f1c0c2e-8d7b-4b7e-9a51-2f0e6c1d9b44";
    time("sha256 (36 bytes)", || {
        black_box(Sha256::digest(black_box(token)));
    });
    time("hmac_sha256 (32-byte key, 36 bytes)", || {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(black_box(&[7u8; 32])).unwrap();
        m.update(black_box(token));
        black_box(m.finalize().into_bytes());
    });
    let key = Key::from([9u8; 32]);
    let nonce = Nonce::from([1u8; 12]);
    let cipher = ChaCha20Poly1305::new(&key);
    let plain = vec![0x5au8; 1024];
    let mut buf = Vec::with_capacity(1024 + 16);
    time("chacha20poly1305 encrypt 1 KiB (plain)", || {
        buf.clear();
        buf.extend_from_slice(black_box(&plain));
        seal(&cipher, &nonce, &mut buf);
        black_box(&buf);
    });
    // The two halves of the AEAD apart, to see which one loses the SIMD path.
    let mut ks = vec![0u8; 1024];
    time("chacha20 keystream 1 KiB", || {
        use chacha20::cipher::{KeyIvInit, StreamCipher};
        let mut c = chacha20::ChaCha20::new(&key, &nonce);
        c.apply_keystream(black_box(&mut ks));
    });
    time("poly1305 1 KiB", || {
        use poly1305::universal_hash::{KeyInit, UniversalHash};
        let mut m = poly1305::Poly1305::new(black_box(&key));
        m.update_padded(black_box(&plain));
        black_box(m.finalize());
    });
    let raw_key = [9u8; 32];
    time("ring chacha20poly1305 encrypt 1 KiB", || {
        buf.clear();
        buf.extend_from_slice(black_box(&plain));
        ring_seal(black_box(&raw_key), [1u8; 12], &mut buf);
        black_box(&buf);
    });
    let xcipher = chacha20poly1305::XChaCha20Poly1305::new(&key);
    let xnonce = [3u8; 24];
    time("rustcrypto xchacha20poly1305 encrypt 1 KiB", || {
        buf.clear();
        buf.extend_from_slice(black_box(&plain));
        xcipher.encrypt_in_place(black_box(&xnonce).into(), b"", &mut buf).unwrap();
        black_box(&buf);
    });
    time("hchacha20 + ring xchacha20poly1305 1 KiB", || {
        buf.clear();
        buf.extend_from_slice(black_box(&plain));
        ring_xseal(black_box(&raw_key), black_box(&xnonce), &mut buf);
        black_box(&buf);
    });
    time("hchacha20 alone", || {
        use chacha20::cipher::consts::U10;
        black_box(chacha20::hchacha::<U10>(black_box(&key), black_box(&xnonce[..16]).into()));
    });
    // Throughput: 1 MiB messages.
    let big = vec![0x5au8; 1 << 20];
    let mut bigbuf = Vec::with_capacity((1 << 20) + 16);
    time_n("rustcrypto chacha20poly1305 encrypt 1 MiB", 200, big.len(), || {
        bigbuf.clear();
        bigbuf.extend_from_slice(black_box(&big));
        seal(&cipher, &nonce, &mut bigbuf);
        black_box(&bigbuf);
    });
    time_n("ring chacha20poly1305 encrypt 1 MiB", 200, big.len(), || {
        bigbuf.clear();
        bigbuf.extend_from_slice(black_box(&big));
        ring_seal(black_box(&raw_key), [1u8; 12], &mut bigbuf);
        black_box(&bigbuf);
    });
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        time("chacha20poly1305 encrypt 1 KiB (avx2 fn)", || {
            buf.clear();
            buf.extend_from_slice(black_box(&plain));
            unsafe { seal_avx2(&cipher, &nonce, &mut buf) };
            black_box(&buf);
        });
    }
}
