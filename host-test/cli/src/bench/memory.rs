//! Bounded memory: a large upload through the writer, fed 1 MiB at a time
//! from a generator (the bench holds no object), then streamed back through
//! a reader and checked with SHA-256. Prints the process's peak RSS in each
//! phase against the goal of `3 x chunksize + 40 MiB`: the writer holds the
//! part being filled plus `multipartuploadmaxconcurrency` parts in flight,
//! the host queues 2 MiB of each body (`OUTGOING_BODY_BUFFER_CHUNKS`), the reader a piece at a time.

use std::time::Instant;

use sha2::{Digest as _, Sha256};

use super::{Table, peak_rss_mib, reset_peak_rss, rss_mib};
use s3_driver_host::Driver;

const MIB: usize = 1 << 20;

/// The `i`-th 1 MiB piece of the generated object.
fn piece(i: usize, buf: &mut [u8]) {
    for (j, b) in buf.iter_mut().enumerate() {
        *b = (i.wrapping_mul(131) ^ j.wrapping_mul(7) ^ (j >> 9)) as u8;
    }
}

fn mib(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}"))
}

/// Uploads `size` bytes (a whole number of MiB) to `path`, reads them back,
/// deletes them; `chunk` is the driver's `chunksize`.
pub async fn run(d: &Driver, path: &str, size: usize, chunk: usize) -> anyhow::Result<Table> {
    let pieces = size.div_ceil(MIB);
    let bound = (3 * chunk + 40 * MIB) as f64 / MIB as f64;
    let mut table = Table::new(&[
        "phase",
        "MiB",
        "MiB/s",
        "RSS before MiB",
        "peak RSS MiB",
        "goal MiB",
        "within goal",
    ]);
    let mut row = |phase: &str, secs: f64, before: Option<f64>| {
        let peak = peak_rss_mib();
        let within = peak.map_or("-", |p| if p <= bound { "yes" } else { "no" });
        table.row(&[
            phase,
            &pieces.to_string(),
            &format!("{:.1}", pieces as f64 / secs.max(1e-9)),
            &mib(before),
            &mib(peak),
            &format!("{bound:.0}"),
            within,
        ]);
    };

    // One small round trip first, so the instance and its pool exist.
    d.put_content(path, b"warm-up").await?;
    d.get_content(path).await?;

    let mut buf = vec![0u8; MIB];
    let mut sent = Sha256::new();
    let before = rss_mib();
    reset_peak_rss();
    let started = Instant::now();
    let mut w = d.writer(path, false).await?;
    for i in 0..pieces {
        piece(i, &mut buf);
        sent.update(&buf);
        w.write(&buf).await?;
    }
    w.commit().await?;
    row("upload", started.elapsed().as_secs_f64(), before);

    let before = rss_mib();
    reset_peak_rss();
    let started = Instant::now();
    let mut r = d.reader(path, 0).await?;
    let mut got = Sha256::new();
    let mut len = 0;
    loop {
        let c = r.read(MIB as u32).await?;
        if c.is_empty() {
            break;
        }
        len += c.len();
        got.update(&c);
    }
    drop(r);
    row("download", started.elapsed().as_secs_f64(), before);
    anyhow::ensure!(
        len == pieces * MIB,
        "read back {len} of {} bytes",
        pieces * MIB
    );
    anyhow::ensure!(
        got.finalize() == sent.finalize(),
        "the object read back differs from what was written"
    );
    d.delete(path).await?;
    Ok(table)
}
