//! The S3 driver's own cases: its settings, redirects, storage classes.

use super::*;

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
        .ok_or_else(|| Stop::Fail("no HEAD URL".into()))?;
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
    // The reference constructor: minimum chunk size, default copy settings,
    // user agent "s3aws-test", a non-empty root, STANDARD.
    ensure!(
        !c.root.trim_matches('/').is_empty(),
        "the suite needs a non-empty root"
    );
    let d = c
        .driver_with(&[
            ("useragent", ConfigValue::Text("s3aws-test".into())),
            ("storageclass", ConfigValue::Text("STANDARD".into())),
        ])
        .await?;
    ensure!(ok(d.name().await, "name")? == "s3aws", "driver name");
    ensure!(d.warnings().is_empty(), "warnings: {:?}", d.warnings());
    let p = format!("/{}", random_name(16));
    ok(d.put_content(&p, b"suite").await, "put")?;
    ensure!(ok(d.get_content(&p).await, "get")? == b"suite", "content");
    ok(d.delete(&p).await, "delete")
});

case!(s3_log_level_from_param, "TestGetS3LogLevelFromParam", |c| {
    let t = |s: &str| ConfigValue::Text(s.into());
    let known = [
        ConfigValue::Boolean(false),
        ConfigValue::Boolean(true),
        t("off"),
        t("OFF"),
        t("debug"),
        t("DEBUG"),
        t("debugwithsigning"),
        t("debugwithhttpbody"),
        t("debugwithrequestretries"),
        t("debugwithrequesterrors"),
        t("debugwitheventstreambody"),
        t(""),
        ConfigValue::Integer(42),
        ConfigValue::Float(42.0),
        ConfigValue::TextList(vec!["debug".into()]),
    ];
    for v in known {
        let d = c.driver_with(&[("loglevel", v.clone())]).await?;
        ensure!(
            d.warnings().is_empty(),
            "loglevel {v:?}: warnings {:?}",
            d.warnings()
        );
    }
    // An unknown name means "off", as in the reference; we also say so.
    let d = c.driver_with(&[("loglevel", t("invalid"))]).await?;
    ensure!(
        d.warnings().iter().any(|w| w.contains("loglevel")),
        "no warning for an unknown loglevel"
    );
    Ok(())
});

case!(client_transport, "TestClientTransport", |c| {
    for (value, skips) in [("true", true), ("false", false)] {
        let params = c.params_with(&[("skipverify", ConfigValue::Text(value.into()))]);
        let policy =
            OutgoingPolicy::new(Allowlist::for_params(&params)).with_tls_from_params(&params);
        ensure!(
            policy.skips_tls_verification() == skips,
            "skipverify {value}: the host's TLS policy disagrees"
        );
        let d = ok(Driver::open(&c.runtime, &params, policy, &[]).await, "open")?;
        ok(d.list("/").await, "list through that transport")?;
    }
    Ok(())
});

case!(storage_class, "TestStorageClass", |c| {
    if let Some(why) = c.target.quirks.storage_class_not_kept {
        return Err(Stop::Skip(why.into()));
    }
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
