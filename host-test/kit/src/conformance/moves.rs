//! Moves, plain and multipart.

use super::*;

case!(move_file, "TestMove", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    let data = contents(32);
    c.put(&src, &data).await?;
    ok(c.driver.move_(&src, &dst).await, "move")?;
    ensure!(c.get(&dst).await? == data, "destination differs");
    expect_not_found(c.driver.get_content(&src).await, "source after move")?;
    c.delete(&dst).await
});

case!(move_overwrite, "TestMoveOverwrite", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    c.put(&src, &contents(32)).await?;
    c.put(&dst, &contents(64)).await?;
    ok(c.driver.move_(&src, &dst).await, "move")?;
    ensure!(
        c.get(&dst).await? == contents(32),
        "destination not overwritten"
    );
    expect_not_found(c.driver.get_content(&src).await, "source after move")?;
    c.delete(&dst).await
});

case!(move_nonexistent, "TestMoveNonexistent", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    c.put(&dst, &contents(32)).await?;
    expect_not_found(c.driver.move_(&src, &dst).await, "move of a missing source")?;
    ensure!(c.get(&dst).await? == contents(32), "destination changed");
    c.delete(&dst).await
});

case!(move_invalid, "TestMoveInvalid", |c| {
    c.put("/notadir", &contents(32)).await?;
    ensure!(
        c.driver
            .move_("/notadir/foo", "/notadir/bar")
            .await
            .is_err(),
        "moving below a file succeeded"
    );
    c.delete("/notadir").await
});

case!(move_with_multipart_copy, "TestMoveWithMultipartCopy", |c| {
    let (src, dst) = ("/source/multipart", "/dest/multipart");
    // Twice the default multipart-copy threshold (32 MiB).
    let data = contents(64 << 20);
    c.put(src, &data).await?;
    ok(c.driver.move_(src, dst).await, "move")?;
    ensure!(c.get(dst).await? == data, "moved content differs");
    expect_not_found(c.driver.get_content(src).await, "source after move")?;
    c.delete("/dest").await
});
