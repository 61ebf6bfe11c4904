//! A second build of the component, whose version carries the label `b`
//! (`S3_DRIVER_COMPONENT_B`): the hot-swap tests alternate between it and
//! the component the host library bundles. It differs in one rule, so the
//! host can be seen following the running version's requirements: it
//! fetches AWS's IP ranges from a loopback mirror. Built for the test suite
//! only.

#[path = "../../host/build_component.rs"]
mod build_component;

fn main() {
    println!("cargo:rerun-if-changed=../../host/build_component.rs");
    let root = build_component::workspace_root();
    build_component::rerun_on_component_changes(&root);
    let out = root.join("target/guest/s3_storage_driver-b.wasm");
    build_component::build(
        &root,
        Some("b"),
        &[(
            "S3_DRIVER_IP_RANGES_URL",
            "http://127.0.0.1:9/ip-ranges.json",
        )],
        &out,
    );
    println!("cargo:rustc-env=S3_DRIVER_COMPONENT_B={}", out.display());
}
