//! Builds the component (the workspace's root package) for `wasm32-wasip2`
//! before the host compiles, so `cargo test` from a fresh clone needs nothing
//! else. The nested cargo has its own target dir: the outer one holds the lock
//! on `target/`.
//!
//! It builds the same source twice: the component (`S3_DRIVER_COMPONENT`) and
//! a copy whose version carries the label `b` (`S3_DRIVER_COMPONENT_B`), which
//! the hot-swap tests alternate with. Only the root crate is rebuilt for the
//! second one; its dependencies are shared.

use std::path::{Path, PathBuf};
use std::process::Command;

fn build(root: &Path, target_dir: &Path, label: Option<&str>, out: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "-p",
            "s3-storage-driver",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["--profile", "guest", "--target-dir"])
        .arg(target_dir);
    if std::env::var_os("CARGO_NET_OFFLINE").is_some() {
        cmd.arg("--offline");
    }
    // The outer build's flags and target are for the host, not the component.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_PROFILE_") {
            cmd.env_remove(k);
        }
    }
    match label {
        Some(l) => cmd.env("S3_DRIVER_BUILD_LABEL", l),
        None => cmd.env_remove("S3_DRIVER_BUILD_LABEL"),
    };
    let status = cmd.status().expect("failed to run cargo for the component");
    if !status.success() {
        panic!(
            "building the component for wasm32-wasip2 failed; if rustc says the target is \
             missing, run `rustup target add wasm32-wasip2`"
        );
    }
    let wasm = target_dir.join("wasm32-wasip2/guest/s3_storage_driver.wasm");
    assert!(wasm.exists(), "component not found at {}", wasm.display());
    std::fs::copy(&wasm, out).expect("copying the component");
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let target_dir = root.join("target").join("guest");
    for p in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=S3_DRIVER_BUILD_LABEL");
    let label = std::env::var("S3_DRIVER_BUILD_LABEL").ok();

    let a = target_dir.join("s3_storage_driver.wasm");
    let b = target_dir.join("s3_storage_driver-b.wasm");
    build(&root, &target_dir, Some("b"), &b);
    // The main one last, so the cargo artifact matches it.
    build(&root, &target_dir, label.as_deref(), &a);
    println!("cargo:rustc-env=S3_DRIVER_COMPONENT={}", a.display());
    println!("cargo:rustc-env=S3_DRIVER_COMPONENT_B={}", b.display());
}
