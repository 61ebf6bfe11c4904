//! Streams: writers and readers, offsets, appends, zero-byte files, concurrency.

use super::*;

case!(write_read_streams_1, "TestWriteReadStreams1", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), b"a")
        .await
});
case!(write_read_streams_2, "TestWriteReadStreams2", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), "\u{df}".as_bytes())
        .await
});
case!(write_read_streams_3, "TestWriteReadStreams3", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), &contents(32))
        .await
});
case!(write_read_streams_4, "TestWriteReadStreams4", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), &contents(1 << 20))
        .await
});
case!(
    write_read_streams_non_utf8,
    "TestWriteReadStreamsNonUTF8",
    |c| {
        c.write_read_compare_streams(&format!("/{}", random_name(32)), &[0x80; 4])
            .await
    }
);

case!(write_read_large_streams, "TestWriteReadLargeStreams", |c| {
    let size: u64 = if c.full() { 5 << 30 } else { 32 << 20 };
    let p = format!("/{}", random_name(32));
    let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while written < size {
        let n = (size - written).min(buf.len() as u64) as usize;
        fill(&mut buf[..n], written);
        hash.update(&buf[..n]);
        written += ok(w.write(&buf[..n]).await, "write")?;
    }
    ensure!(written == size, "wrote {written} of {size}");
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close")?;
    let mut r = ok(c.driver.reader(&p, 0).await, "reader")?;
    let mut back = Sha256::new();
    let mut read = 0u64;
    loop {
        let chunk = ok(r.read(1 << 20).await, "read")?;
        if chunk.is_empty() {
            break;
        }
        read += chunk.len() as u64;
        back.update(&chunk);
    }
    ensure!(read == size, "read {read} of {size}");
    ensure!(
        hash.finalize() == back.finalize(),
        "SHA-256 of the read-back differs"
    );
    c.delete(&p).await
});

case!(reader_with_offset, "TestReaderWithOffset", |c| {
    let p = format!("/{}", random_name(32));
    let chunk = 32usize;
    let data = contents(3 * chunk);
    c.put(&p, &data).await?;
    for offset in [0, chunk, 2 * chunk] {
        let mut r = ok(c.driver.reader(&p, offset as i64).await, "reader")?;
        let back = ok(r.read_to_end().await, "read")?;
        ensure!(back == data[offset..], "offset {offset}: wrong tail");
    }
    match c.driver.reader(&p, -1).await {
        Err(e @ CallError::Driver(DriverError::InvalidOffset(_))) => {
            let CallError::Driver(DriverError::InvalidOffset(o)) = &e else {
                unreachable!()
            };
            ensure!(o.offset == -1 && o.path == p, "invalid-offset fields: {e}");
            ensure!(e.to_string().contains("s3aws"), "{e} lacks the driver name");
        }
        Err(e) => {
            return Err(Stop(format!(
                "Reader(-1): expected invalid-offset, got {e}"
            )));
        }
        Ok(_) => return Err(Stop("Reader(-1) succeeded".into())),
    }
    let mut r = ok(c.driver.reader(&p, 3 * chunk as i64).await, "reader at EOF")?;
    ensure!(
        ok(r.read(64).await, "read at EOF")?.is_empty(),
        "data past EOF"
    );
    let mut r = ok(c.driver.reader(&p, 3 * chunk as i64 - 1).await, "reader")?;
    ensure!(
        ok(r.read(64).await, "read")? == data[3 * chunk - 1..],
        "last byte"
    );
    ensure!(
        ok(r.read(64).await, "read")?.is_empty(),
        "no EOF after the last byte"
    );
    c.delete(&p).await
});

/// `testContinueStreamAppend(chunk)`.
pub(super) async fn continue_stream_append(c: &Ctx, chunk: usize) -> CaseResult {
    let p = format!("/{}", random_name(32));
    let full = contents(3 * chunk);
    let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
    ok(w.write(&full[..chunk]).await, "write 1")?;
    ok(w.close().await, "close 1")?;
    ensure!(
        ok(w.size().await, "size")? == chunk as u64,
        "size after close 1"
    );
    let mut w = ok(c.driver.writer(&p, true).await, "append 1")?;
    ensure!(
        ok(w.size().await, "size")? == chunk as u64,
        "size on resume 1"
    );
    ok(w.write(&full[chunk..2 * chunk]).await, "write 2")?;
    ok(w.close().await, "close 2")?;
    ensure!(
        ok(w.size().await, "size")? == 2 * chunk as u64,
        "size after close 2"
    );
    let mut w = ok(c.driver.writer(&p, true).await, "append 2")?;
    ensure!(
        ok(w.size().await, "size")? == 2 * chunk as u64,
        "size on resume 2"
    );
    ok(w.write(&full[2 * chunk..]).await, "write 3")?;
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close 3")?;
    ensure!(c.get(&p).await? == full, "content differs");
    c.delete(&p).await
}

case!(
    continue_stream_append_large,
    "TestContinueStreamAppendLarge",
    |c| { continue_stream_append(c, 10 << 20).await }
);
case!(
    continue_stream_append_small,
    "TestContinueStreamAppendSmall",
    |c| { continue_stream_append(c, 32).await }
);

case!(read_nonexistent_stream, "TestReadNonexistentStream", |c| {
    let p = format!("/{}", random_name(32));
    expect_not_found(c.driver.reader(&p, 0).await.map(|_| ()), "Reader(0)")?;
    expect_not_found(c.driver.reader(&p, 64).await.map(|_| ()), "Reader(64)")
});

/// Appending 32 bytes to a committed empty file.
pub(super) async fn append_to_empty(c: &Ctx, p: &str) -> CaseResult {
    let mut r = ok(c.driver.reader(p, 0).await, "reader of the empty file")?;
    ensure!(
        ok(r.read(64).await, "read")?.is_empty(),
        "empty file has data"
    );
    let data = contents(32);
    let mut w = ok(c.driver.writer(p, true).await, "append")?;
    ok(w.write(&data).await, "write")?;
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close")?;
    ensure!(ok(w.size().await, "size")? == 32, "size after append");
    ensure!(c.get(p).await? == data, "content differs");
    c.delete(p).await
}

case!(
    write_zero_byte_stream_then_append,
    "TestWriteZeroByteStreamThenAppend",
    |c| {
        let p = format!("/{}", random_name(32));
        let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
        ok(w.commit().await, "commit")?;
        ok(w.close().await, "close")?;
        ensure!(ok(w.size().await, "size")? == 0, "size of an empty commit");
        append_to_empty(c, &p).await
    }
);

case!(
    write_zero_byte_content_then_append,
    "TestWriteZeroByteContentThenAppend",
    |c| {
        let p = format!("/{}", random_name(32));
        c.put(&p, &[]).await?;
        append_to_empty(c, &p).await
    }
);

case!(concurrent_stream_reads, "TestConcurrentStreamReads", |c| {
    let size = if c.full() { 128 << 20 } else { 10 << 20 };
    let p = format!("/{}", random_name(32));
    let data = contents(size);
    c.put(&p, &data).await?;
    let mut tasks = Vec::new();
    for i in 0..10u64 {
        let d = c.driver_with(&[]).await?;
        let offset = ((i * 7_919_993 + 12_345) % size as u64) as usize;
        let path = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = d.reader(&path, offset as i64).await?;
            r.read_to_end().await.map(|b| (offset, b))
        }));
    }
    for t in tasks {
        let joined = t.await.map_err(|e| format!("reader task: {e}"))?;
        let (offset, back) = ok(joined, "concurrent read")?;
        ensure!(back == data[offset..], "read at {offset} differs");
    }
    c.delete(&p).await
});

case!(concurrent_file_streams, "TestConcurrentFileStreams", |c| {
    let (streams, mib) = if c.full() { (32, 32) } else { (8, 8) };
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let d = c.driver_with(&[]).await?;
        let path = format!("/{}", random_name(32));
        tasks.push(tokio::spawn(async move {
            let data = contents(mib << 20);
            let mut w = d.writer(&path, false).await?;
            for piece in data.chunks(1 << 20) {
                w.write(piece).await?;
            }
            w.commit().await?;
            w.close().await?;
            let back = d.reader(&path, 0).await?.read_to_end().await?;
            d.delete(&path).await?;
            Ok::<bool, CallError>(back == data)
        }));
    }
    for t in tasks {
        let joined = t.await.map_err(|e| format!("stream task: {e}"))?;
        let same = ok(joined, "stream")?;
        ensure!(same, "a stream read back different bytes");
    }
    Ok(())
});
