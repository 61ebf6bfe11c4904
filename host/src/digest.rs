//! The state behind the `digest` import's `sha256` resource: the SHA-256
//! of request bodies, on the host's CPU. sha2 picks the SHA instructions
//! (x86 SHA-NI, ARMv8 SHA2) at run time, so a large signed body hashes
//! several times faster here than in wasm. (The import itself is served in
//! `runtime/imports.rs`.)

use sha2::Digest as _;

/// The state of one `sha256` resource.
#[derive(Default)]
pub struct Sha256State(sha2::Sha256);

impl Sha256State {
    /// Hashes `data` after what came before.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest so far; the state starts over.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        self.0.finalize_reset().to_vec()
    }
}
