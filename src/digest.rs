//! The SHA-256 of request bodies. Signing needs it for every signed body and
//! every `aws-chunked` chunk; the edge may hand the core a faster one than
//! the guest's own (the host's, which uses the CPU's hash instructions),
//! as a plain function so the signer stays free of any platform.

/// Computes the SHA-256 of a body.
pub type BodyHasher = fn(&[u8]) -> [u8; 32];

/// The guest's own SHA-256: what tests use, and what the edge uses for
/// bodies too small to be worth a call to the host.
pub fn sha256_in_guest(data: &[u8]) -> [u8; 32] {
    // sha2 0.11: its wasm32 simd128 backend hashes bodies several times faster.
    use sha2_simd::Digest as _;
    sha2_simd::Sha256::digest(data).into()
}
