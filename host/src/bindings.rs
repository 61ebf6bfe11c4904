//! Host bindings of the `storage-driver` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "storage-driver",
    exports: { default: async },
    // A claim waits for another instance's fetch.
    imports: {
        "registry:storage/shared.claim": async,
        // A full resource table or a stale handle traps the guest.
        "registry:storage/digest": trappable,
    },
    additional_derives: [PartialEq],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "registry:storage/digest.sha256": crate::digest::Sha256State,
    },
});

pub use exports::registry::storage::maintenance::Upload;
pub use registry::storage::types::{
    ConfigValue, Error as DriverError, FileInfo, Middleware, Parameter, RedirectRequest,
};
