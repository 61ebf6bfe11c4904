//! The `s3-driver` binary: the README's main job and its exit statuses.

use std::process::Command;

fn s3_driver() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3-driver"))
}

#[test]
fn demo_runs_on_the_embedded_server_and_checks_the_sha256() {
    let out = s3_driver().args(["demo", "--mib", "3"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("using the embedded S3 server"), "{stderr}");
    for step in ["put", "stat", "list", "get", "delete"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(step)),
            "no {step} step in {stdout}"
        );
    }
    assert!(stdout.contains("matches"), "{stdout}");
    assert!(stdout.trim_end().ends_with("demo: ok"), "{stdout}");
}

#[test]
fn put_get_stat_ls_rm_share_an_embedded_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], input: Option<&[u8]>| {
        let mut cmd = s3_driver();
        cmd.arg("--embedded-dir").arg(dir.path()).args(args);
        if let Some(data) = input {
            let file = dir.path().join("input.bin");
            std::fs::write(&file, data).unwrap();
            cmd.arg(&file);
        }
        cmd.output().unwrap()
    };
    let out = run(&["put", "/cli/blob"], Some(b"hello from the cli"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["get", "/cli/blob", "--offset", "6"], None);
    assert_eq!(out.stdout, b"from the cli");
    let out = run(&["stat", "/cli/blob"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("size:     18"));
    let out = run(&["ls", "/cli"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/cli/blob\n");
    assert!(run(&["rm", "/cli"], None).status.success());
    let out = run(&["get", "/cli/blob"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3aws: Path not found: /cli/blob"));
}

#[test]
fn usage_and_config_errors_exit_2_driver_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        "version: 0.1\nstorage:\n  s3:\n    regionendpoint: http://127.0.0.1:9\n    accesskey: AK\n    secretkey: SK-SECRET-MARKER\n    bucket: b\n    chunksize: 1024\n",
    )
    .unwrap();
    let out = s3_driver()
        .arg("--config")
        .arg(&config)
        .args(["stat", "/x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("chunksize"), "{stderr}");
    assert!(!stderr.contains("SK-SECRET-MARKER"));

    let out = s3_driver().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = s3_driver().args(["get", "relative/path"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3aws: invalid path: relative/path"));
}
