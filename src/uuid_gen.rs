//! Random (version 4) UUIDs from the operating system's CSPRNG.

use crate::errors::{AuthGuardError, Result};

/// Fill `buf` from the OS CSPRNG (getrandom(2)); an error, never a weak fallback.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf)
        .map_err(|e| AuthGuardError::Internal(format!("could not read the system random source: {e}")))
}

/// Random bytes for identifiers, read from the OS CSPRNG 512 bytes at a time.
///
/// One getrandom(2) per 32 UUIDs instead of one per UUID: the system call
/// was a measurable part of a rotation. The pool belongs to one process: a
/// forked child (every backend is forked from the postmaster, which may have
/// loaded this library through shared_preload_libraries) must never hand out
/// its parent's bytes, so the pool is tagged with the pid and refilled when
/// it differs. Bytes handed out are wiped from the pool.
struct Pool {
    pid: i32,
    used: usize,
    bytes: [u8; POOL_BYTES],
}

const POOL_BYTES: usize = 512;

thread_local! {
    static POOL: std::cell::RefCell<Pool> =
        const { std::cell::RefCell::new(Pool { pid: 0, used: POOL_BYTES, bytes: [0; POOL_BYTES] }) };
}

fn current_pid() -> i32 {
    // SAFETY: MyProcPid is set by Postgres in every process before any SQL
    // runs; outside Postgres (unit tests) fall back to the OS pid.
    #[cfg(not(test))]
    {
        unsafe { pgrx::pg_sys::MyProcPid }
    }
    #[cfg(test)]
    {
        std::process::id() as i32
    }
}

fn pooled_bytes<const N: usize>() -> Result<[u8; N]> {
    const { assert!(N <= POOL_BYTES) };
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let pid = current_pid();
        if pool.pid != pid || pool.used + N > POOL_BYTES {
            random_bytes(&mut pool.bytes)?;
            pool.pid = pid;
            pool.used = 0;
        }
        let mut out = [0u8; N];
        let start = pool.used;
        out.copy_from_slice(&pool.bytes[start..start + N]);
        pool.bytes[start..start + N].fill(0);
        pool.used += N;
        Ok(out)
    })
}

/// A version-4 UUID's 16 bytes (RFC 9562 section 5.4).
pub fn new_v4_bytes() -> Result<[u8; 16]> {
    let mut b: [u8; 16] = pooled_bytes()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(b)
}

pub fn new_v4() -> Result<pgrx::Uuid> {
    Ok(pgrx::Uuid::from_bytes(new_v4_bytes()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_bits_are_set_and_values_differ() {
        let a = new_v4_bytes().unwrap();
        let b = new_v4_bytes().unwrap();
        assert_ne!(a, b);
        for u in [a, b] {
            assert_eq!(u[6] >> 4, 4, "version nibble");
            assert_eq!(u[8] >> 6, 0b10, "RFC 4122 variant");
        }
    }

    #[test]
    fn pooled_ids_are_distinct_across_refills_and_the_pool_is_wiped() {
        // 10 refills' worth: no repeats (a stuck or replayed pool would repeat).
        let ids: std::collections::HashSet<[u8; 16]> = (0..320).map(|_| new_v4_bytes().unwrap()).collect();
        assert_eq!(ids.len(), 320);
        POOL.with(|p| {
            let p = p.borrow();
            assert!(p.bytes[..p.used].iter().all(|&b| b == 0), "handed-out bytes are wiped");
        });
    }

    #[test]
    fn a_new_process_refills_the_pool() {
        new_v4_bytes().unwrap();
        // Pretend the pool was filled by a parent process.
        POOL.with(|p| p.borrow_mut().pid = -1);
        new_v4_bytes().unwrap();
        POOL.with(|p| {
            let p = p.borrow();
            assert_eq!(p.pid, current_pid());
            assert_eq!(p.used, 16, "refilled, then one id taken");
        });
    }
}
