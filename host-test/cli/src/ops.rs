//! The storage operations one at a time: `put`, `get`, `stat`, `ls`, `mv`,
//! `rm`, `url`, `walk`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use s3_driver_host::{Driver, RedirectRequest};

use crate::target::{Failure, rfc3339};

/// A progress bar on a terminal, nothing otherwise.
fn bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if std::io::stderr().is_terminal() {
        pb.set_style(
            ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec}")
                .expect("valid template"),
        );
    } else {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    pb
}

/// Stores a file (or standard input) through the resumable writer: memory
/// stays at a few parts whatever the size.
pub async fn put(driver: &Driver, path: String, file: Option<PathBuf>) -> Result<(), Failure> {
    // Streamed through the resumable writer: memory stays at a few parts.
    let (mut input, len): (Box<dyn Read>, u64) = match file {
        Some(f) if f.as_os_str() != "-" => {
            let h = std::fs::File::open(&f)
                .map_err(|e| Failure::Usage(format!("reading {}: {e}", f.display())))?;
            let len = h.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(h), len)
        }
        _ => (Box::new(std::io::stdin()), 0),
    };
    let pb = bar(len);
    let mut writer = driver.writer(&path, false).await?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Failure::Usage(format!("reading the input: {e}")))?;
        if n == 0 {
            break;
        }
        if let Err(e) = writer.write(&buf[..n]).await {
            let _ = writer.cancel().await;
            return Err(e.into());
        }
        total += n as u64;
        pb.inc(n as u64);
    }
    writer.commit().await?;
    writer.close().await?;
    pb.finish_and_clear();
    eprintln!("stored {total} bytes at {path}");
    Ok(())
}

/// Writes the content of `path` from `offset` to standard output.
pub async fn get(driver: &Driver, path: String, offset: i64) -> Result<(), Failure> {
    let total = driver.stat(&path).await.map(|i| i.size).unwrap_or(0);
    let pb = bar(total.saturating_sub(offset.max(0) as u64));
    let mut reader = driver.reader(&path, offset).await?;
    let mut out = std::io::stdout().lock();
    loop {
        let chunk = reader.read(1 << 20).await?;
        if chunk.is_empty() {
            break;
        }
        pb.inc(chunk.len() as u64);
        out.write_all(&chunk)
            .map_err(|e| Failure::Usage(format!("writing standard output: {e}")))?;
    }
    pb.finish_and_clear();
    Ok(())
}

/// Prints size, kind and modification time.
pub async fn stat(driver: &Driver, path: String) -> Result<(), Failure> {
    let i = driver.stat(&path).await?;
    println!("path:     {}", i.path);
    println!("size:     {}", i.size);
    println!("is-dir:   {}", i.is_dir);
    println!("mod-time: {}", rfc3339(i.mod_time));
    Ok(())
}

/// Prints the direct children.
pub async fn ls(driver: &Driver, path: String) -> Result<(), Failure> {
    for child in driver.list(&path).await? {
        println!("{child}");
    }
    Ok(())
}

/// Prints the redirect URL a client would get.
pub async fn url(
    driver: &Driver,
    path: String,
    method: String,
    client_ip: String,
) -> Result<(), Failure> {
    let req = RedirectRequest {
        method,
        remote_addr: client_ip,
        forwarded_for: None,
        real_ip: None,
    };
    match driver.redirect_url(&req, &path).await? {
        Some(url) => println!("{url}"),
        None => println!("(no redirect: the registry serves the content itself)"),
    }
    Ok(())
}

/// Prints every entry below `path`, directories with a trailing `/`.
pub async fn walk(driver: &Driver, path: String) -> Result<(), Failure> {
    let mut walker = driver.walk(&path, None).await?;
    loop {
        let page = walker.next(1000).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if e.is_dir {
                println!("{}/", e.path);
            } else {
                println!("{}\t{}", e.path, e.size);
            }
        }
    }
    Ok(())
}
