//! The `s3-driver` binary: the README's main job, its exit statuses and
//! messages, and the redirect URL it shows.

use std::process::Command;

/// A file of the repository's `testdata/`.
fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

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
    // Output shows values, never Rust's Debug forms.
    assert_rfc3339(&stdout, "mtime ");
    assert!(
        !stdout.contains("Some(") && !stdout.contains("[\""),
        "{stdout}"
    );
}

/// The text after `label` is an RFC 3339 UTC time (`2026-11-28T23:30:46Z`).
fn assert_rfc3339(text: &str, label: &str) {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len();
    let t: String = text[at..].chars().take(20).collect();
    let shape: String = t
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99Z", "{label}{t}");
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
    let stat = String::from_utf8_lossy(&out.stdout);
    assert!(stat.contains("size:     18"), "{stat}");
    assert_rfc3339(&stat, "mod-time: ");
    let out = run(&["stat", "/cli"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("mod-time: -\n"));
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

#[test]
fn the_cli_exits_2_with_the_message() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, want) in [
        (
            "chunksize",
            "1024",
            "the chunksize 1024 parameter should be a number between",
        ),
        (
            "storageclass",
            "COLD",
            "the storageclass parameter must be one of",
        ),
        (
            "encrypt",
            "\"yes\"",
            "the encrypt parameter should be a boolean",
        ),
    ] {
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "storage:\n  s3:\n    accesskey: AK\n    secretkey: SECRET-MARKER-7f3a\n    region: us-east-1\n    bucket: registry\n    {key}: {value}\n"
            ),
        )
        .unwrap();
        let out = s3_driver()
            .arg("--config")
            .arg(&config)
            .args(["stat", "/x"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(stderr.contains(want), "{key}: {stderr}");
        assert!(!stderr.contains("SECRET-MARKER"), "{stderr}");
    }
}

#[test]
fn the_cli_shows_the_chosen_url() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  s3:\n    rootdirectory: /reg\nmiddleware:\n  storage:\n    - name: cloudfront\n      options:\n        baseurl: https://d111111abcdef8.cloudfront.net/\n        privatekey: {}\n        keypairid: K2JCJMDEHXQW5F\n        duration: 30m\n",
            testdata("cloudfront/cloudfront-pkcs1.pem")
        ),
    )
    .unwrap();
    let out = s3_driver()
        .arg("--config")
        .arg(&config)
        .args([
            "url",
            "/docker/registry/v2/blobs/sha256/ab/abc/data",
            "--client-ip",
            "203.0.113.7",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout.trim();
    assert!(url.starts_with("https://d111111abcdef8.cloudfront.net/reg/docker/registry/v2/blobs/sha256/ab/abc/data?Expires="), "{url}");
    let public = std::fs::read_to_string(testdata("cloudfront/cloudfront-public.pem")).unwrap();
    let (_, expires) = s3_driver_kit::cloudfront_url::verify(url, "K2JCJMDEHXQW5F", &public);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (expires - now - 1800).abs() <= 5,
        "expires {expires}, now {now}"
    );
}

/// Configuration errors of the middleware and the region are refused with
/// exit 2 and a message naming the parameter, before anything starts: no
/// embedded server, no driver, no file access.
#[test]
fn configuration_errors_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let key = testdata("cloudfront/cloudfront-pkcs1.pem");
    for (storage, middleware, want) in [
        (
            "rootdirectory: /reg".to_owned(),
            "baseurl: https://d111111abcdef8.cloudfront.net/\n        privatekey: /nonexistent/pk.pem\n        keypairid: K2JCJMDEHXQW5F".to_owned(),
            "cloudfront: failed to read privatekey file: /nonexistent/pk.pem",
        ),
        (
            "rootdirectory: /reg".to_owned(),
            format!("privatekey: {key}\n        keypairid: K2JCJMDEHXQW5F"),
            "cloudfront: no baseurl provided",
        ),
        (
            "rootdirectory: /reg".to_owned(),
            format!("baseurl: https://d.example/\n        privatekey: {key}"),
            "cloudfront: no keypairid provided",
        ),
        (
            "rootdirectory: /reg".to_owned(),
            format!("baseurl: https://d.example/\n        privatekey: {key}\n        keypairid: K\n        ipfilteredby: everyone"),
            "ipfilteredby",
        ),
        (
            "rootdirectory: /reg".to_owned(),
            format!("baseurl: https://d.example/\n        privatekey: {key}\n        keypairid: K\n        duration: soon"),
            "invalid duration: soon",
        ),
        (
            "accesskey: AK\n    secretkey: SK\n    region: us-moon-1\n    bucket: b".to_owned(),
            format!("baseurl: https://d.example/\n        privatekey: {key}\n        keypairid: K"),
            "invalid region provided: us-moon-1",
        ),
    ] {
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  s3:\n    {storage}\nmiddleware:\n  storage:\n    - name: cloudfront\n      options:\n        {middleware}\n"
            ),
        )
        .unwrap();
        let out = s3_driver()
            .arg("--config")
            .arg(&config)
            .args(["stat", "/x"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{want}: {stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(
            !stderr.contains("embedded S3 server") && !stderr.contains("granting"),
            "something started before the refusal: {stderr}"
        );
    }
}

#[test]
fn uploads_lists_and_refuses_a_short_cut_without_force() {
    let out = s3_driver().args(["uploads"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("0 upload(s) in progress below /"),
        "{stdout}"
    );
    for (args, want) in [
        (
            &["uploads", "--abort", "--older-than", "10m"][..],
            "without --force",
        ),
        (
            &["uploads", "--older-than", "soon"][..],
            "is not a duration",
        ),
    ] {
        let out = s3_driver().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("embedded S3 server"),
            "refused before a server started: {stderr}"
        );
    }
}

/// `serve` with no S3 configured: its embedded store answers no one without
/// this run's keys (the well-known defaults are refused), keeps its data
/// where only its owner can read it, and the registry streams blobs rather
/// than redirect clients to the store's loopback address.
#[test]
fn serve_keeps_its_embedded_store_private() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut child = s3_driver()
        .arg("--embedded-dir")
        .arg(&root)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut store, mut data, mut registry) = (None, None, None);
    while registry.is_none() {
        let line = lines.next().expect("serve ended early").unwrap();
        if let Some(rest) = line.split("embedded S3 server at ").nth(1) {
            let (url, dir) = rest.split_once(" (data in ").unwrap();
            store = Some(url.to_owned());
            data = Some(dir.trim_end_matches(')').to_owned());
        }
        if let Some(rest) = line.split("registry on ").nth(1) {
            registry = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let (store, data, registry) = (store.unwrap(), data.unwrap(), registry.unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(async {
        use s3_driver_host::ConfigValue;
        use s3_driver_kit::s3_server::{DEFAULT_ACCESS_KEY, DEFAULT_BUCKET, DEFAULT_SECRET_KEY};
        let c = s3_driver_kit::oci::OciClient::new(&registry);
        let digest = c.push_blob("private/app", b"layer bytes").await?;
        let got = c
            .send(
                http::Method::GET,
                &format!("/v2/private/app/blobs/{digest}"),
                &[],
                s3_driver_kit::oci::client::full(bytes::Bytes::new()),
            )
            .await?;
        anyhow::ensure!(got.status == 200, "blob GET answered {}", got.status);
        anyhow::ensure!(&got.body[..] == b"layer bytes");
        let t = |s: &str| ConfigValue::Text(s.to_owned());
        let guess = s3_driver_kit::raw::RawS3::from_params(&[
            ("accesskey".into(), t(DEFAULT_ACCESS_KEY)),
            ("secretkey".into(), t(DEFAULT_SECRET_KEY)),
            ("region".into(), t("us-east-1")),
            ("regionendpoint".into(), t(&store)),
            ("bucket".into(), t(DEFAULT_BUCKET)),
            ("forcepathstyle".into(), ConfigValue::Boolean(true)),
            ("secure".into(), ConfigValue::Boolean(false)),
        ])?;
        let key = format!(
            "docker/registry/v2/blobs/sha256/{}/{}/data",
            &digest[7..9],
            &digest[7..]
        );
        let read = guess.get(&key).await?;
        anyhow::ensure!(
            read.status == 403,
            "a guessed key read the store: {}",
            read.status
        );
        let write = guess.put(&key, b"rewritten").await?;
        anyhow::ensure!(
            write.status == 403,
            "a guessed key wrote the store: {}",
            write.status
        );
        Ok(())
    });
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{data} is open to others: {mode:o}");
}
