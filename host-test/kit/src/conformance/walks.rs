//! Walks: order, skipping, empty upload directories.

use super::*;

case!(walk_empty_uploads_dir, "TestWalkEmptyUploadsDir", |c| {
    let raw = c.raw()?;
    let base = "/docker/registry/v2/repositories/testns/testimg";
    c.put(&format!("{base}/_layers/sha256/abc/link"), b"link")
        .await?;
    let marker = c.key(&format!("{base}/_uploads/"));
    let r = raw
        .put(&marker, &[])
        .await
        .map_err(|e| format!("raw put: {e:#}"))?;
    let stored = r.status == 200
        && raw
            .get(&marker)
            .await
            .map(|g| g.status == 200 || g.status == 206 || g.status == 416)
            .unwrap_or(false);
    if !stored {
        let _ = c.driver.delete("/docker").await;
        return Err(Stop(format!(
            "the server did not store the empty-directory marker {marker} (HTTP {})",
            r.status
        )));
    }
    let all = ok(c.driver.walk_all("/docker/registry/v2", None).await, "walk")?;
    for e in &all {
        ensure!(
            !e.path.ends_with('/') && !e.path.contains("//"),
            "walk yielded {:?}",
            e.path
        );
    }
    ensure!(
        all.iter()
            .any(|e| e.path == format!("{base}/_uploads") && e.is_dir),
        "the marker's directory is missing: {all:?}"
    );
    raw.send(raw.requests().delete_object(&marker), &[])
        .await
        .map_err(|e| format!("raw delete: {e:#}"))?;
    c.delete("/docker").await
});

/// What the "error" walk's visitor fails with.
#[derive(Debug, PartialEq)]
enum VisitError {
    /// The visitor refused this entry.
    Refused(String),
    /// The driver failed.
    Driver(String),
}

impl From<CallError> for VisitError {
    fn from(e: CallError) -> Self {
        VisitError::Driver(e.to_string())
    }
}

pub(super) fn names(entries: &[FileInfo]) -> Vec<String> {
    entries.iter().map(|e| e.path.clone()).collect()
}

case!(walk, "TestWalk", |c| {
    let files = [
        "/file1",
        "/folder1-suffix/file1",
        "/folder1/file1",
        "/folder2/file1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4/file1",
    ];
    for f in files {
        c.put(f, f.as_bytes()).await?;
    }
    let all: Vec<String> = [
        "/file1",
        "/folder1-suffix",
        "/folder1-suffix/file1",
        "/folder1",
        "/folder1/file1",
        "/folder2",
        "/folder2/file1",
        "/folder3",
        "/folder3/subfolder1",
        "/folder3/subfolder1/subfolder1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2",
        "/folder3/subfolder2/subfolder1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4",
        "/folder4/file1",
    ]
    .map(String::from)
    .to_vec();
    let got = ok(c.driver.walk_all("/", None).await, "walk all")?;
    ensure!(names(&got) == all, "walk all: {:?}", names(&got));
    for e in &got {
        let want_size = if e.is_dir { 0 } else { e.path.len() as u64 };
        ensure!(e.size == want_size, "{}: size {}", e.path, e.size);
    }
    // skip directory
    let mut w = ok(c.driver.walk("/", None).await, "walk")?;
    let mut seen = Vec::new();
    loop {
        let Some(e) = ok(w.next(1).await, "next")?.pop() else {
            break;
        };
        if e.path == "/folder3" {
            ok(w.skip_dir("/folder3").await, "skip")?;
        }
        seen.push(e.path);
    }
    ensure!(
        !seen.iter().any(|p| p.starts_with("/folder3/")),
        "skip directory: {seen:?}"
    );
    ensure!(
        seen.contains(&"/folder4/file1".to_owned()),
        "skip stopped the walk"
    );
    let hint = "/folder3/subfolder1/subfolder1/file1";
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            "/",
            Some(hint),
            &[
                "/folder3",
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
                "/folder4",
                "/folder4/file1",
            ],
        ),
        (
            "/folder3",
            Some(hint),
            &[
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
            ],
        ),
        ("/folder1", Some("/folder2"), &[]),
        ("/folder1", None, &["/folder1/file1"]),
    ];
    let folder3: Vec<&str> = all
        .iter()
        .filter(|p| p.starts_with("/folder3/"))
        .map(String::as_str)
        .collect();
    for (from, hint, want) in cases {
        let got = ok(
            c.driver.walk_all(from, *hint).await,
            format!("walk {from} after {hint:?}"),
        )?;
        ensure!(
            names(&got) == *want,
            "walk {from} after {hint:?}: {:?}",
            names(&got)
        );
    }
    for hint in ["/folder3", "/folder3/notafolder/notafile"] {
        let got = ok(
            c.driver.walk_all("/folder3", Some(hint)).await,
            "walk folder3",
        )?;
        ensure!(names(&got) == folder3, "start {hint}: {:?}", names(&got));
    }
    // skip directory, through the visitor: nothing below /folder3 is visited
    let mut seen = Vec::new();
    ok(
        c.driver
            .walk_with("/", None, |e| {
                seen.push(e.path.clone());
                if e.path == "/folder3" {
                    WalkControl::SkipDir
                } else {
                    WalkControl::Continue
                }
            })
            .await,
        "walk skipping /folder3",
    )?;
    let want: Vec<String> = all
        .iter()
        .filter(|p| !p.starts_with("/folder3/"))
        .cloned()
        .collect();
    ensure!(seen == want, "skip directory (visitor): {seen:?}");
    // stop early: the visitor stops at /folder1/file1, having seen
    // everything up to it, and the walk ends without an error
    let mut seen = Vec::new();
    ok(
        c.driver
            .walk_with("/", None, |e| {
                seen.push(e.path.clone());
                if e.path == "/folder1/file1" {
                    WalkControl::Stop
                } else {
                    WalkControl::Continue
                }
            })
            .await,
        "walk stopping early",
    )?;
    ensure!(seen == all[..5], "stop early: {seen:?}");
    // error: a visitor that fails on the first entry ends the walk there,
    // and its error is what the walk returns
    let mut seen = Vec::new();
    let r = c
        .driver
        .try_walk_with("/", None, |e| {
            seen.push(e.path.clone());
            Err(VisitError::Refused(e.path.clone()))
        })
        .await;
    ensure!(
        r == Err(VisitError::Refused("/file1".into())),
        "error: the walk returned {r:?}"
    );
    ensure!(seen == ["/file1"], "error: visited {seen:?}");
    for top in [
        "/file1",
        "/folder1-suffix",
        "/folder1",
        "/folder2",
        "/folder3",
        "/folder4",
    ] {
        c.delete(top).await?;
    }
    // a walk of a missing path is empty, not an error
    let none = ok(
        c.driver.walk_all("/nothing-here", None).await,
        "walk missing",
    )?;
    ensure!(
        none.is_empty(),
        "walk of a missing path: {:?}",
        names(&none)
    );
    Ok(())
});
