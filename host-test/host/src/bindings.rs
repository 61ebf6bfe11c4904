//! Host bindings of the `storage-driver` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "storage-driver",
    exports: { default: async },
    // A claim waits for another instance's fetch.
    imports: { "registry:storage/shared.claim": async },
    additional_derives: [PartialEq],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::registry::storage::maintenance::Upload;
pub use registry::storage::types::{
    ConfigValue, Error as DriverError, FileInfo, Middleware, Parameter, RedirectRequest,
};
