//! Load against Ceph radosgw: 64 concurrent clients writing and reading back
//! mixed sizes from 1 KiB to 64 MiB through one `Driver`, some writers
//! cancelled, some closed and resumed. Every byte read back is equal and no
//! multipart upload is left behind. Needs `RADOSGW_ENDPOINT`: ignored unless
//! asked for (`.ci/run` starts radosgw and passes `--include-ignored`).

use s3_driver_suite as common;

use std::time::Instant;

use s3_driver_host::{CallError, ConfigValue, Driver, DriverError, Writer};
use s3_driver_kit::raw::RawS3;

const BUCKET: &str = "load";
const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn params() -> Vec<(String, ConfigValue)> {
    let mut params = common::radosgw_params("RADOSGW_ENDPOINT", BUCKET);
    params.push(("chunksize".into(), common::text("5242880")));
    params.push(("rootdirectory".into(), common::text("/load")));
    params
}

fn content(client: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 ^ client as u8)
        .collect()
}

/// What client `i` does: its size and how its writer ends.
fn plan(i: usize) -> (usize, &'static str) {
    const SIZES: [usize; 8] = [
        KIB,
        100 * KIB,
        MIB,
        5 * MIB,
        6 * MIB + 7,
        12 * MIB,
        3 * KIB,
        64 * MIB,
    ];
    const ENDS: [&str; 4] = ["commit", "cancel", "close-resume", "put"];
    (SIZES[i % SIZES.len()], ENDS[(i / SIZES.len()) % ENDS.len()])
}

/// Writes `data` in uneven pieces, as clients upload.
async fn write_pieces(w: &mut Writer, data: &[u8], seed: usize) -> Result<(), CallError> {
    let mut at = 0;
    let mut piece = 100 * KIB + seed;
    while at < data.len() {
        let to = (at + piece).min(data.len());
        w.write(&data[at..to]).await?;
        at = to;
        piece = piece * 3 % (7 * MIB) + KIB;
    }
    Ok(())
}

async fn client(d: Driver, i: usize) -> Result<u64, String> {
    let (size, end) = plan(i);
    let data = content(i, size);
    let path = format!("/c{i}/blob");
    let fail = |what: &str, e: CallError| format!("client {i} ({size} B, {end}) {what}: {e}");
    match end {
        "put" => d
            .put_content(&path, &data)
            .await
            .map_err(|e| fail("put", e))?,
        _ => {
            let mut w = d
                .writer(&path, false)
                .await
                .map_err(|e| fail("writer", e))?;
            let split = if end == "close-resume" {
                data.len() / 2
            } else {
                data.len()
            };
            write_pieces(&mut w, &data[..split], i)
                .await
                .map_err(|e| fail("write", e))?;
            if end == "close-resume" {
                // Closed half way, continued on a resumed writer.
                w.close().await.map_err(|e| fail("close", e))?;
                drop(w);
                w = d.writer(&path, true).await.map_err(|e| fail("resume", e))?;
                let resumed = w.size().await.map_err(|e| fail("size", e))? as usize;
                if resumed != split {
                    return Err(format!(
                        "client {i}: resumed at {resumed}, closed at {split}"
                    ));
                }
                write_pieces(&mut w, &data[split..], i)
                    .await
                    .map_err(|e| fail("write", e))?;
            }
            if end == "cancel" {
                w.cancel().await.map_err(|e| fail("cancel", e))?;
                return match d.stat(&path).await {
                    Err(CallError::Driver(DriverError::PathNotFound(_))) => Ok(0),
                    other => Err(format!("client {i}: cancelled file visible: {other:?}")),
                };
            }
            w.commit().await.map_err(|e| fail("commit", e))?;
        }
    }
    // Read back streamed, in pieces of another size.
    let mut r = d.reader(&path, 0).await.map_err(|e| fail("reader", e))?;
    let mut back = Vec::with_capacity(size);
    loop {
        let chunk = r
            .read(777 * KIB as u32)
            .await
            .map_err(|e| fail("read", e))?;
        if chunk.is_empty() {
            break;
        }
        back.extend_from_slice(&chunk);
    }
    if back != data {
        return Err(format!(
            "client {i}: read back {} bytes differing from {size}",
            back.len()
        ));
    }
    Ok(size as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs radosgw: RADOSGW_ENDPOINT (.ci/run starts one and passes --include-ignored)"]
async fn sixty_four_clients_write_and_read_back_mixed_sizes() {
    let params = params();
    let raw = RawS3::from_params(&params).unwrap();
    raw.create_bucket().await.unwrap();
    raw.abort_uploads("").await.unwrap();
    let d = common::open_params(&params).await;
    for i in 0..64 {
        let _ = d.delete(&format!("/c{i}")).await;
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|i| tokio::spawn(client(d.clone(), i)))
        .collect();
    let mut failures = Vec::new();
    let mut bytes = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => bytes += n,
            Err(e) => failures.push(e),
        }
    }
    let elapsed = started.elapsed();
    let left = raw.uploads("").await.unwrap();
    let m = d.metrics();
    println!(
        "load (radosgw): 64 clients, {:.0} MiB verified in {:.1} s; {} HTTP requests over {} \
         connections, {} retries, most calls at once {}, instances {}",
        bytes as f64 / MIB as f64,
        elapsed.as_secs_f64(),
        m.http.requests,
        m.http.connections,
        m.http.retries,
        m.max_in_flight,
        m.instances_created
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(left.is_empty(), "uploads left behind: {left:?}");
    assert_eq!(m.instances_discarded, 0);
    for i in 0..64 {
        match d.delete(&format!("/c{i}")).await {
            Ok(()) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
            Err(e) => panic!("cleaning up: {e}"),
        }
    }
}
