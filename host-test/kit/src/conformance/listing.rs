//! Listing and stat: the root, children, directories, large listings.

use super::walks::names;
use super::*;

case!(list, "TestList", |c| {
    // The reference's root: 8 to 15 random characters.
    let root = format!("/{}", random_name(random_len(8, 15)));
    expect_not_found(
        c.driver.list(&format!("{root}/nonexistent")).await,
        "list nonexistent",
    )?;
    let parent = format!("{root}/{}", random_name(8));
    let mut children = Vec::new();
    for _ in 0..50 {
        let child = format!("{parent}/{}", random_name(16));
        c.put(&child, &contents(32)).await?;
        children.push(child);
    }
    children.sort();
    ensure!(
        ok(c.driver.list("/").await, "list /")? == vec![root.clone()],
        "List(\"/\")"
    );
    ensure!(
        ok(c.driver.list(&root).await, "list root")? == vec![parent.clone()],
        "List(root)"
    );
    let mut got = ok(c.driver.list(&parent).await, "list parent")?;
    got.sort();
    ensure!(
        got == children,
        "List(parent): {} entries differ",
        got.len()
    );
    c.delete(&root).await
});

case!(stat_call, "TestStatCall", |c| {
    let dir = format!("/{}", random_name(32));
    let file = format!("{dir}/{}", random_name(32));
    expect_not_found(c.driver.stat(&dir).await, "stat dir before")?;
    expect_not_found(c.driver.stat(&file).await, "stat file before")?;
    c.put(&file, &contents(4096)).await?;
    let fi = ok(c.driver.stat(&file).await, "stat file")?;
    ensure!(
        fi.path == file && fi.size == 4096 && !fi.is_dir,
        "file info {fi:?}"
    );
    let first = fi
        .mod_time
        .ok_or_else(|| Stop("file without mod-time".into()))?;
    let (pause, settle) = if c.full() {
        (Duration::from_secs(10), Duration::from_secs(5))
    } else {
        (Duration::from_millis(1100), Duration::ZERO)
    };
    tokio::time::sleep(pause).await;
    c.put(&file, &contents(4096)).await?;
    let fi = ok(c.driver.stat(&file).await, "stat file again")?;
    tokio::time::sleep(settle).await;
    let second = fi
        .mod_time
        .ok_or_else(|| Stop("file without mod-time".into()))?;
    ensure!(
        (second.seconds, second.nanoseconds) > (first.seconds, first.nanoseconds),
        "mod-time did not advance"
    );
    let di = ok(c.driver.stat(&dir).await, "stat dir")?;
    ensure!(
        di.path == dir && di.size == 0 && di.is_dir,
        "dir info {di:?}"
    );
    match c.driver.stat("/").await {
        Ok(_) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
        Err(e) => return Err(Stop(format!("Stat(\"/\"): {e}"))),
    }
    c.delete(&dir).await
});

case!(is_subpath, "TestIsSubpath", |c| {
    for p in [
        "/tags/1.2/current",
        "/tags/1.20/current",
        "/tags/1.2-rc/current",
    ] {
        c.put(p, p.as_bytes()).await?;
    }
    let mut w = ok(c.driver.walk("/tags", None).await, "walk")?;
    let mut seen = Vec::new();
    loop {
        let page = ok(w.next(1).await, "next")?;
        let Some(e) = page.into_iter().next() else {
            break;
        };
        if e.path == "/tags/1.2" {
            ok(w.skip_dir(&e.path).await, "skip-dir")?;
        }
        seen.push(e.path);
    }
    ensure!(
        !seen.contains(&"/tags/1.2/current".to_owned()),
        "skipped dir entered: {seen:?}"
    );
    ensure!(
        seen.contains(&"/tags/1.20/current".to_owned())
            && seen.contains(&"/tags/1.2-rc/current".to_owned()),
        "a sibling of the skipped directory was dropped: {seen:?}"
    );
    c.delete("/tags").await
});

case!(empty_root_list, "TestEmptyRootList", |c| {
    // Files written through the case's rooted driver show up, under the
    // root's first component, in the listings of drivers without a root.
    let files = [
        format!("/{}", random_name(16)),
        format!("/{}/{}", random_name(8), random_name(8)),
    ];
    for f in &files {
        c.put(f, b"root list").await?;
    }
    let top = format!(
        "/{}",
        c.root.trim_matches('/').split('/').next().unwrap_or("")
    );
    for root in ["", "/"] {
        let d = c
            .driver_with(&[("rootdirectory", ConfigValue::Text(root.into()))])
            .await?;
        let listed = ok(d.list("/").await, "list / without a root")?;
        ensure!(
            listed.contains(&top),
            "root {root:?}: List(\"/\") = {listed:?} lacks {top}"
        );
        for p in &listed {
            ensure!(
                p.starts_with('/') && !p.ends_with('/') && !p.contains("//"),
                "root {root:?}: invalid path {p:?}"
            );
        }
        let mut below = ok(d.list(&c.root).await, "list the root from outside")?;
        below.sort();
        let mut want: Vec<String> = files
            .iter()
            .map(|f| {
                let first = f.trim_start_matches('/').split('/').next().unwrap_or("");
                format!("{}/{first}", c.root)
            })
            .collect();
        want.sort();
        ensure!(below == want, "root {root:?}: List(root) = {below:?}");
    }
    for f in &files {
        c.delete(f).await?;
    }
    Ok(())
});

case!(over_thousand_blobs, "TestOverThousandBlobs", |c| {
    for i in 0..1005 {
        c.put(&format!("/thousandfiletest/file{i}"), b"value")
            .await?;
    }
    c.delete("/thousandfiletest").await?;
    expect_not_found(
        c.driver.list("/thousandfiletest").await,
        "list after delete",
    )
});

case!(list_objects_v2, "TestListObjectsV2", |c| {
    let prefix = "/test-list-objects-v2";
    let files: Vec<String> = (0..6).map(|i| format!("{prefix}/{i}")).collect();
    for f in &files {
        c.put(f, f.as_bytes()).await?;
    }
    let fi = ok(c.driver.stat(&files[0]).await, "stat")?;
    ensure!(
        !fi.is_dir && fi.size == files[0].len() as u64,
        "stat of the first file: {fi:?}"
    );
    let sub = format!("{prefix}/sub/0");
    c.put(&sub, sub.as_bytes()).await?;
    let mut listed = ok(c.driver.list(prefix).await, "list")?;
    listed.sort();
    let mut want = files.clone();
    want.push(format!("{prefix}/sub"));
    want.sort();
    ensure!(listed == want, "list: {listed:?}");
    let walked = ok(c.driver.walk_all(prefix, None).await, "walk")?;
    let mut want_walk = files.clone();
    want_walk.push(format!("{prefix}/sub"));
    want_walk.push(sub.clone());
    ensure!(names(&walked) == want_walk, "walk: {:?}", names(&walked));
    for e in walked.iter().filter(|e| !e.is_dir) {
        ensure!(e.size == e.path.len() as u64, "{} size {}", e.path, e.size);
    }
    c.delete(prefix).await
});
