//! The world's imports of ours served to each instance: `host` (log lines
//! to the driver's log), `shared` (values fetched once for all instances)
//! and `digest` (SHA-256 on the host's CPU). They live with the store's
//! state, so the types they serve (`guest_log`, `shared_values`, `digest`)
//! never depend on the runtime.

use wasmtime::component::Resource;

use super::HostState;
use crate::bindings::registry::storage::digest;
use crate::bindings::registry::storage::host::{self, LogLevel};
use crate::bindings::registry::storage::shared::{self, ClaimResult, SharedValue};
use crate::digest::Sha256State;

impl host::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.log.line(level, &message);
    }
}

impl shared::Host for HostState {
    async fn claim(&mut self, key: String, usable_until: i64) -> ClaimResult {
        self.share.claim(key, usable_until).await
    }

    fn publish(&mut self, key: String, value: SharedValue) {
        self.share.publish(&key, value);
    }

    fn release(&mut self, key: String) {
        self.share.release(&key);
    }
}

impl digest::Host for HostState {}

impl digest::HostSha256 for HostState {
    fn new(&mut self) -> wasmtime::Result<Resource<Sha256State>> {
        Ok(self.table.push(Sha256State::default())?)
    }

    fn update(&mut self, hash: Resource<Sha256State>, data: Vec<u8>) -> wasmtime::Result<()> {
        self.table.get_mut(&hash)?.update(&data);
        Ok(())
    }

    fn finish(&mut self, hash: Resource<Sha256State>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get_mut(&hash)?.finish())
    }

    fn drop(&mut self, hash: Resource<Sha256State>) -> wasmtime::Result<()> {
        self.table.delete(hash)?;
        Ok(())
    }
}
