//! One instance of one version: its store and its bindings. A file of its
//! own, so the store's state and the versions never depend on each other.

use std::sync::Arc;

use wasmtime::Store;

use super::store::HostState;
use super::version::Version;
use crate::bindings::StorageDriver;

/// One instance of one version, with its store, not running a driver yet
/// (drivers make their own; see [`crate::Runtime::instantiate`]).
pub struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: StorageDriver,
    pub(crate) version: Arc<Version>,
}
