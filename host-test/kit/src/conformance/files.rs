//! Whole files: valid and invalid paths, write and read, truncate, missing files.

use super::*;

case!(root_exists, "TestRootExists", |c| {
    ok(c.driver.list("/").await, "List(\"/\")")?;
    Ok(())
});

case!(valid_paths, "TestValidPaths", |c| {
    let data = contents(64);
    for p in [
        "/a",
        "/2",
        "/aa",
        "/a.a",
        "/0-9/abcdefg",
        "/abcdefg/z.75",
        "/abc/1.2.3.4.5-6_zyx/123.z/4",
        "/docker/docker-registry",
        "/123.abc",
        "/abc./abc",
        "/.abc",
        "/a--b",
        "/a-.b",
        "/_.abc",
        "/Docker/docker-registry",
        "/Abc/Cba",
    ] {
        c.put(p, &data).await?;
        ensure!(c.get(p).await? == data, "{p}: content differs");
        let first = format!("/{}", p.split('/').nth(1).unwrap_or_default());
        // deletePath: PathNotFound is fine (an earlier delete took it).
        match c.driver.delete(&first).await {
            Ok(()) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
            Err(e) => return Err(Stop(format!("delete {first}: {e}"))),
        }
    }
    Ok(())
});

case!(invalid_paths, "TestInvalidPaths", |c| {
    for p in ["", "/", "abc", "123.abc", "//bcd", "/abc_123/"] {
        for (what, r) in [
            ("put", c.driver.put_content(p, b"x").await.map(|_| ())),
            ("get", c.driver.get_content(p).await.map(|_| ())),
        ] {
            match r {
                Err(e @ CallError::Driver(DriverError::InvalidPath(_))) => {
                    ensure!(
                        e.to_string().contains("s3aws"),
                        "{what} {p:?}: {e} lacks the driver name"
                    );
                }
                other => {
                    return Err(Stop(format!(
                        "{what} {p:?}: expected invalid-path, got {:?}",
                        other.err()
                    )));
                }
            }
        }
    }
    Ok(())
});

case!(write_read_1, "TestWriteRead1", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), b"a")
        .await
});
case!(write_read_2, "TestWriteRead2", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), "\u{df}".as_bytes())
        .await
});
case!(write_read_3, "TestWriteRead3", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &contents(32))
        .await
});
case!(write_read_4, "TestWriteRead4", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &contents(1 << 20))
        .await
});
case!(write_read_non_utf8, "TestWriteReadNonUTF8", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &[0x80; 4])
        .await
});

case!(truncate, "TestTruncate", |c| {
    let p = format!("/{}", random_name(32));
    c.put(&p, &contents(1 << 20)).await?;
    c.put(&p, &contents(1024)).await?;
    ensure!(c.get(&p).await? == contents(1024), "not truncated to 1 KiB");
    c.delete(&p).await
});

case!(read_nonexistent, "TestReadNonexistent", |c| {
    expect_not_found(
        c.driver.get_content(&format!("/{}", random_name(32))).await,
        "get",
    )
});

case!(
    put_content_multiple_times,
    "TestPutContentMultipleTimes",
    |c| {
        let p = format!("/{}", random_name(32));
        c.put(&p, &contents(4096)).await?;
        c.put(&p, &contents(2048)).await?;
        ensure!(
            c.get(&p).await? == contents(2048),
            "second put not read back"
        );
        c.delete(&p).await
    }
);
