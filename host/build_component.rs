//! Building the component (the workspace's root package) for
//! `wasm32-wasip2` from a build script: a nested cargo with its own target
//! directory (the outer one holds the lock on `target/`), the host's flags
//! removed. Shared by `s3-driver-host`'s build script (the component) and
//! `s3-driver-suite`'s (a second build for hot-swap tests).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root: the nearest directory above the crate whose
/// `Cargo.toml` declares the workspace.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    manifest
        .ancestors()
        .skip(1)
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
        })
        .expect("the crate is inside the workspace")
        .to_path_buf()
}

/// Tells cargo to run the build script again when the component's sources change.
pub fn rerun_on_component_changes(root: &Path) {
    for p in ["src", "wit", "Cargo.toml", "Cargo.lock", ".cargo"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
}

/// Builds the component with `label` in its version (`0.6.0+label`) and
/// the build-time settings `settings` (`S3_DRIVER_IP_RANGES_URL`; others
/// unset), and copies it to `out`.
pub fn build(root: &Path, label: Option<&str>, settings: &[(&str, &str)], out: &Path) {
    let target_dir = root.join("target").join("guest");
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
        .arg(&target_dir);
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
        if k.starts_with("CARGO_PROFILE_") || k.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(k);
        }
    }
    match label {
        Some(l) => cmd.env("S3_DRIVER_BUILD_LABEL", l),
        None => cmd.env_remove("S3_DRIVER_BUILD_LABEL"),
    };
    cmd.env_remove("S3_DRIVER_IP_RANGES_URL");
    for (k, v) in settings {
        cmd.env(k, v);
    }
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
