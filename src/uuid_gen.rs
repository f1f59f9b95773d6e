//! Random (version 4) UUIDs from the operating system's CSPRNG.

use crate::errors::{AuthGuardError, Result};

/// Fill `buf` from the OS CSPRNG (getrandom(2)); an error, never a weak fallback.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf)
        .map_err(|e| AuthGuardError::Internal(format!("could not read the system random source: {e}")))
}

/// A version-4 UUID's 16 bytes (RFC 9562 section 5.4).
pub fn new_v4_bytes() -> Result<[u8; 16]> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
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
}
