//! The S3 driver's own cases: its settings, redirects, storage classes.

use super::*;
use crate::EmbeddedS3;

case!(redirect_url, "TestRedirectURL", |c| {
    let p = format!("/{}", random_name(32));
    let data = contents(32);
    c.put(&p, &data).await?;
    let request = |method: &str| RedirectRequest {
        method: method.into(),
        remote_addr: "127.0.0.1".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let raw = c.raw()?;
    if let Some(url) = ok(
        c.driver.redirect_url(&request("GET"), &p).await,
        "redirect GET",
    )? {
        let r = raw
            .fetch("GET", &url)
            .await
            .map_err(|e| format!("GET {url}: {e:#}"))?;
        ensure!(r.status == 200, "GET of the URL: HTTP {}", r.status);
        ensure!(
            r.body[..] == data[..],
            "GET of the URL returned other bytes"
        );
        let url = ok(
            c.driver.redirect_url(&request("HEAD"), &p).await,
            "redirect HEAD",
        )?
        .ok_or_else(|| Stop("no HEAD URL".into()))?;
        let r = raw
            .fetch("HEAD", &url)
            .await
            .map_err(|e| format!("HEAD: {e:#}"))?;
        ensure!(r.status == 200, "HEAD of the URL: HTTP {}", r.status);
        ensure!(
            r.header("content-length") == Some("32"),
            "HEAD content-length"
        );
    }
    ensure!(
        ok(
            c.driver.redirect_url(&request("PUT"), &p).await,
            "redirect PUT"
        )?
        .is_none(),
        "PUT must not redirect"
    );
    c.delete(&p).await
});

case!(s3_driver_suite, "TestS3DriverSuite", |c| {
    // The whole generic suite with the reference constructor's settings
    // (5 MiB parts, default copy settings, user agent "s3aws-test",
    // STANDARD): each generic case runs under a fresh non-empty root of its
    // own, as every case does, and must pass and clean up.
    let mut params = c.target.params.clone();
    for (k, v) in [
        ("chunksize", ConfigValue::Integer(5 << 20)),
        ("useragent", ConfigValue::Text("s3aws-test".into())),
        ("storageclass", ConfigValue::Text("STANDARD".into())),
    ] {
        params.retain(|(key, _)| key != k);
        params.push((k.to_owned(), v));
    }
    let target = Target {
        name: format!("{} (s3 driver suite)", c.target.name),
        params,
        full_size: c.target.full_size,
        server: c.target.server,
    };
    let mut failed = Vec::new();
    for case in &CASES[..GENERIC_CASES] {
        match run_case(&c.runtime, &target, case).await {
            Outcome::Pass => {}
            Outcome::Fail(why) => failed.push(format!("{}: {why}", case.name)),
            Outcome::Unsupported(why) => failed.push(format!("{}: unsupported: {why}", case.name)),
        }
    }
    ensure!(failed.is_empty(), "generic cases failed: {failed:?}");
    Ok(())
});

case!(s3_log_level_from_param, "TestGetS3LogLevelFromParam", |c| {
    // The reference's table: which values mean "debug". A debug driver
    // reports each request it sends as one line; an "off" one reports none.
    let t = |s: &str| ConfigValue::Text(s.into());
    let table = [
        (ConfigValue::Boolean(false), false),
        (ConfigValue::Boolean(true), false),
        (t("off"), false),
        (t("OFF"), false),
        (t("debug"), true),
        (t("DEBUG"), true),
        (t("debugwithsigning"), true),
        (t("debugwithhttpbody"), true),
        (t("debugwithrequestretries"), true),
        (t("debugwithrequesterrors"), true),
        (t("debugwitheventstreambody"), true),
        (t(""), false),
        (t("invalid"), false),
        (ConfigValue::Integer(42), false),
        (ConfigValue::Float(42.0), false),
        (ConfigValue::TextList(vec!["debug".into()]), false),
    ];
    let p = format!("/{}", random_name(16));
    for (value, debug) in table {
        let d = c.driver_with(&[("loglevel", value.clone())]).await?;
        ok(d.put_content(&p, b"log").await, "put")?;
        ok(d.stat(&p).await, "stat")?;
        ok(d.delete(&p).await, "delete")?;
        let requests = d.http_stats().requests;
        let lines = d.metrics().log_lines.debug;
        let want = if debug { requests } else { 0 };
        ensure!(
            lines == want,
            "loglevel {value:?}: {lines} request lines for {requests} requests"
        );
        let unknown = matches!(&value, ConfigValue::Text(s) if s == "invalid");
        ensure!(
            d.warnings().iter().any(|w| w.contains("loglevel")) == unknown,
            "loglevel {value:?}: warnings {:?}",
            d.warnings()
        );
    }
    Ok(())
});

/// The embedded server's test certificate, signed by a CA no system trusts.
const TLS_CERT: &str = include_str!("../../../../testdata/tls/server.pem");
/// Its key.
const TLS_KEY: &str = include_str!("../../../../testdata/tls/server-key.pem");

case!(client_transport, "TestClientTransport", |c| {
    // Against an HTTPS endpoint whose certificate the default roots do not
    // trust: `skipverify: true` connects, `false` is refused with a TLS error.

    let server = EmbeddedS3::start_temp_tls(TLS_CERT, TLS_KEY)
        .await
        .map_err(|e| format!("starting a TLS server: {e:#}"))?;
    for (value, connects) in [("true", true), ("false", false)] {
        let mut params = server.params();
        params.push(("skipverify".into(), ConfigValue::Text(value.into())));
        // The embedder's policy verifies; the component says when its
        // configuration does not, and the driver's pool follows.
        let policy = OutgoingPolicy::new(Allowlist::any());
        let d = ok(
            Driver::open(&c.runtime, OpenOptions::new(&params).policy(policy)).await,
            "open",
        )?;
        ensure!(
            d.policy().skips_tls_verification() == connects,
            "skipverify {value}: the driver's TLS policy disagrees"
        );
        match d.put_content("/transport", b"tls").await {
            Ok(()) if connects => {
                ok(d.delete("/transport").await, "delete")?;
            }
            Ok(()) => {
                return Err(Stop(
                    "skipverify false: the untrusted certificate was accepted".into(),
                ));
            }
            Err(CallError::Driver(DriverError::Network(m))) if !connects && m.contains("TLS") => {}
            Err(e) => {
                return Err(Stop(format!("skipverify {value}: {e}")));
            }
        }
    }
    Ok(())
});

case!(storage_class, "TestStorageClass", |c| {
    let raw = c.raw()?;
    for class in ["NONE", "STANDARD", "REDUCED_REDUNDANCY"] {
        let d = c
            .driver_with(&[("storageclass", ConfigValue::Text(class.into()))])
            .await?;
        let p = format!("/{}", class.to_ascii_lowercase());
        ok(
            d.put_content(&p, b"class").await,
            format!("put with {class}"),
        )?;
        let r = raw
            .get(&c.key(&p))
            .await
            .map_err(|e| format!("raw get: {e:#}"))?;
        ensure!(matches!(r.status, 200 | 206), "raw get: HTTP {}", r.status);
        let header = r.header("x-amz-storage-class");
        match class {
            // AWS omits the header for STANDARD; radosgw names it. Same class.
            "STANDARD" => ensure!(
                matches!(header, None | Some("STANDARD")),
                "STANDARD reported as {header:?}"
            ),
            "REDUCED_REDUNDANCY" => {
                ensure!(header == Some(class), "{class} reported as {header:?}")
            }
            _ => {}
        }
        ok(d.delete(&p).await, "delete")?;
    }
    Ok(())
});
