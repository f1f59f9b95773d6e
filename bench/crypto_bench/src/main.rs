//! Per-call cost of SHA-256 (short input), HMAC-SHA256 and ChaCha20-Poly1305
//! over 1 KiB, as built by the given RUSTFLAGS; the AEAD's two halves apart
//! (ChaCha20 keystream, Poly1305); and the AEAD call wrapped in an
//! `#[target_feature(enable = "avx2")]` function, to test whether run-time
//! dispatch from our side recovers the `target-cpu=native` speed (it does not:
//! the crates' generic code is not inlined into the wrapper).
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;

const N: u32 = 100_000;

fn time(name: &str, mut f: impl FnMut()) {
    for _ in 0..N / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..N {
        f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / N as f64;
    println!("{name:<40} {us:8.3} us/call");
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
