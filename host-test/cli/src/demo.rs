//! `s3-driver demo`: the README's main job, a blob stored, statted, listed,
//! read back with a SHA-256 check and deleted through the component.

use std::time::Instant;

use s3_driver_host::{CallError, Driver, DriverError};
use sha2::{Digest, Sha256};

use crate::target::{Failure, rfc3339};

/// Deterministic bytes for the demo blob (xorshift; no need for crypto here).
fn blob(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub async fn demo(driver: &Driver, mib: usize) -> Result<(), Failure> {
    let data = blob(mib << 20);
    let digest = hex::encode(Sha256::digest(&data));
    let dir = format!(
        "/docker/registry/v2/blobs/sha256/{}/{}",
        &digest[..2],
        digest
    );
    let path = format!("{dir}/data");
    let step = |name: &str, t: Instant, detail: String| {
        println!(
            "{name:<7} {:>9.2} ms  {detail}",
            t.elapsed().as_secs_f64() * 1e3
        );
    };
    println!("demo: a {mib} MiB blob through the component in wasmtime");
    let t = Instant::now();
    driver.put_content(&path, &data).await?;
    step("put", t, format!("{path} ({} bytes)", data.len()));
    let t = Instant::now();
    let info = driver.stat(&path).await?;
    step(
        "stat",
        t,
        format!(
            "size {} dir {} mtime {}",
            info.size,
            info.is_dir,
            rfc3339(info.mod_time)
        ),
    );
    if info.size != data.len() as u64 {
        return Err(Failure::Driver(CallError::Host(format!(
            "stat reported {} bytes, wrote {}",
            info.size,
            data.len()
        ))));
    }
    let t = Instant::now();
    let children = driver.list(&dir).await?;
    step("list", t, format!("{dir}: {}", children.join(", ")));
    let t = Instant::now();
    let back = driver.get_content(&path).await?;
    let back_digest = hex::encode(Sha256::digest(&back));
    let ok = back_digest == digest;
    step(
        "get",
        t,
        format!(
            "{} bytes, sha256 {back_digest} {}",
            back.len(),
            if ok { "matches" } else { "DIFFERS" }
        ),
    );
    if !ok {
        return Err(Failure::Driver(CallError::Host(
            "SHA-256 of the data read back differs".into(),
        )));
    }
    let t = Instant::now();
    driver.delete(&path).await?;
    step("delete", t, path.clone());
    match driver.stat(&path).await {
        Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
        Ok(_) => {
            return Err(Failure::Driver(CallError::Host(
                "after delete, stat still found the file".into(),
            )));
        }
        Err(e) => {
            return Err(Failure::Driver(CallError::Host(format!(
                "after delete, stat failed: {e}"
            ))));
        }
    }
    let s = driver.http_stats();
    println!(
        "http: {} requests over {} connection(s), {} denied",
        s.requests, s.connections, s.denied
    );
    println!("demo: ok");
    Ok(())
}
