//! With the `bundled-component` feature (the default), builds the component
//! for `wasm32-wasip2` before the host compiles, so `cargo test` from a fresh
//! clone needs nothing else, and exports its path as `S3_DRIVER_COMPONENT`.
//! A registry that ships its own `.wasm` turns the feature off: nothing is
//! built and the library loads whatever file it is given.

#[path = "build_component.rs"]
mod build_component;

fn main() {
    println!("cargo:rerun-if-changed=build_component.rs");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_COMPONENT").is_none() {
        return;
    }
    let root = build_component::workspace_root();
    build_component::rerun_on_component_changes(&root);
    println!("cargo:rerun-if-env-changed=S3_DRIVER_BUILD_LABEL");
    let label = std::env::var("S3_DRIVER_BUILD_LABEL").ok();
    let out = root.join("target/guest/s3_storage_driver.wasm");
    build_component::build(&root, label.as_deref(), &[], &out);
    println!("cargo:rustc-env=S3_DRIVER_COMPONENT={}", out.display());
}
