//! Deletes: files, folders, only subpaths, batches.

use super::*;

case!(delete, "TestDelete", |c| {
    let p = format!("/{}", random_name(32));
    c.put(&p, &contents(32)).await?;
    c.delete(&p).await?;
    expect_not_found(c.driver.get_content(&p).await, "get after delete")
});

case!(delete_nonexistent, "TestDeleteNonexistent", |c| {
    expect_not_found(
        c.driver.delete(&format!("/{}", random_name(32))).await,
        "delete",
    )
});

case!(delete_folder, "TestDeleteFolder", |c| {
    let dir = format!("/{}", random_name(32));
    let files: Vec<String> = (0..3)
        .map(|_| format!("{dir}/{}", random_name(32)))
        .collect();
    for f in &files {
        c.put(f, &contents(32)).await?;
    }
    c.delete(&files[0]).await?;
    expect_not_found(c.driver.get_content(&files[0]).await, "first file")?;
    ensure!(c.get(&files[1]).await? == contents(32), "second file lost");
    c.delete(&dir).await?;
    for f in &files {
        expect_not_found(c.driver.get_content(f).await, "after folder delete")?;
    }
    Ok(())
});

case!(
    delete_only_deletes_subpaths,
    "TestDeleteOnlyDeletesSubpaths",
    |c| {
        let dir = format!("/{}", random_name(32));
        let file = random_name(32);
        let sub = random_name(32);
        let paths = [
            format!("{dir}/{file}"),
            format!("{dir}/{file}suffix"),
            format!("{dir}/{sub}/{file}"),
            format!("{dir}/{sub}suffix/{file}"),
        ];
        for p in &paths {
            c.put(p, &contents(32)).await?;
        }
        c.delete(&paths[0]).await?;
        expect_not_found(c.driver.get_content(&paths[0]).await, "deleted file")?;
        ensure!(
            c.get(&paths[1]).await? == contents(32),
            "sibling file deleted"
        );
        c.delete(&format!("{dir}/{sub}")).await?;
        expect_not_found(c.driver.get_content(&paths[2]).await, "file in deleted dir")?;
        ensure!(
            c.get(&paths[3]).await? == contents(32),
            "sibling directory deleted"
        );
        c.delete(&dir).await
    }
);

case!(s3_delete, "TestDelete (S3)", |c| {
    let objects = [
        "/file1",
        "/file1-2",
        "/folder1/file1",
        "/folder2/file1",
        "/folder3/file1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4/file1",
        "/folder1-v2/file1",
        "/folder1-v2/subfolder1/file1",
    ];
    let reset = || async {
        for o in objects {
            c.put(o, o.as_bytes()).await?;
        }
        Ok::<(), Stop>(())
    };
    let check = |deleted: &[&str]| {
        let deleted: Vec<String> = deleted.iter().map(|d| (*d).to_owned()).collect();
        async move {
            for o in objects {
                let r = c.driver.stat(o).await;
                if deleted.iter().any(|d| d == o) {
                    expect_not_found(r, format!("{o} should be gone"))?;
                } else {
                    ok(r, format!("{o} should remain"))?;
                }
            }
            Ok::<(), Stop>(())
        }
    };
    // Each folder removes only its own subtree (never `folder1-v2`), and
    // one case per object deletes exactly that object.
    let folders: &[(&str, &[&str])] = &[
        ("/folder1", &["/folder1/file1"]),
        ("/folder2", &["/folder2/file1"]),
        (
            "/folder3",
            &[
                "/folder3/file1",
                "/folder3/subfolder1/subfolder1/file1",
                "/folder3/subfolder2/subfolder1/file1",
            ],
        ),
    ];
    let each: Vec<(&str, Vec<&str>)> = objects.iter().map(|o| (*o, vec![*o])).collect();
    let cases = folders
        .iter()
        .map(|(t, g)| (*t, g.to_vec()))
        .chain(each)
        .collect::<Vec<_>>();
    ensure!(cases.len() == 13, "3 folders and 10 objects");
    for (target, gone) in &cases {
        reset().await?;
        ok(c.driver.delete(target).await, format!("delete {target}"))?;
        check(gone).await?;
    }
    expect_not_found(
        c.driver.delete("/folder5").await,
        "delete of a missing folder",
    )?;
    for bad in ["/folder1/", "/folder1/*"] {
        ensure!(
            matches!(
                c.driver.delete(bad).await,
                Err(CallError::Driver(DriverError::InvalidPath(_)))
            ),
            "delete {bad}: expected invalid-path"
        );
    }
    for top in [
        "/file1",
        "/file1-2",
        "/folder1",
        "/folder1-v2",
        "/folder2",
        "/folder3",
        "/folder4",
    ] {
        match c.driver.delete(top).await {
            Ok(()) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
            Err(e) => return Err(Stop(format!("cleanup {top}: {e}"))),
        }
    }
    Ok(())
});
