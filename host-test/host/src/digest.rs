//! The `digest` import: the SHA-256 of request bodies, on the host's CPU.
//! sha2 picks the SHA instructions (x86 SHA-NI, ARMv8 SHA2) at run time, so
//! a large signed body hashes several times faster here than in wasm.

use sha2::Digest as _;
use wasmtime::component::Resource;

use crate::bindings::registry::storage::digest;

/// The state of one `sha256` resource.
#[derive(Default)]
pub struct Sha256State(sha2::Sha256);

impl digest::Host for crate::runtime::HostState {}

impl digest::HostSha256 for crate::runtime::HostState {
    fn new(&mut self) -> wasmtime::Result<Resource<Sha256State>> {
        Ok(self.table.push(Sha256State::default())?)
    }

    fn update(&mut self, hash: Resource<Sha256State>, data: Vec<u8>) -> wasmtime::Result<()> {
        self.table.get_mut(&hash)?.0.update(&data);
        Ok(())
    }

    fn finish(&mut self, hash: Resource<Sha256State>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get_mut(&hash)?.0.finalize_reset().to_vec())
    }

    fn drop(&mut self, hash: Resource<Sha256State>) -> wasmtime::Result<()> {
        self.table.delete(hash)?;
        Ok(())
    }
}
