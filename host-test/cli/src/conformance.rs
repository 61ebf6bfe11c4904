//! `s3-driver conformance`: the reference driver's suite against the
//! configured store, one line per case.

use std::time::Instant;

use s3_driver_host::CallError;
use s3_driver_kit::conformance::{CASES, Counts, Target, run_case};
use s3_storage_driver::config::Key;

use crate::Cli;
use crate::target::{Configured, Failure, runtime, target_params, text};

/// `s3-driver conformance`: the ported suite with a pass/fail table.
pub async fn conformance(cli: &Cli, full_size: bool, only: Option<&str>) -> Result<(), Failure> {
    let (Configured { params, .. }, server) = target_params(cli).await?;
    let runtime = runtime().map_err(Failure::Usage)?;
    let name = match &server {
        Some(s) => format!("embedded s3s-fs at {}", s.endpoint()),
        None => text(&params, Key::RegionEndpoint).unwrap_or_else(|| "Amazon S3".into()),
    };
    let target = Target {
        name: name.clone(),
        params,
        full_size,
        // Only the embedded server is known; any other store runs every case.
        server: if server.is_some() { "s3s-fs" } else { "s3" },
    };
    println!("conformance: the reference suite against {name}");
    println!("{:<38} {:<36} {:>9}  result", "case", "reference", "time");
    let mut counts = Counts::default();
    for case in CASES
        .iter()
        .filter(|c| only.is_none_or(|o| c.name.contains(o)))
    {
        let t = Instant::now();
        let outcome = run_case(&runtime, &target, case).await;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        counts.add(&outcome);
        println!(
            "{:<38} {:<36} {ms:>7.0}ms  {outcome}",
            case.name, case.reference
        );
    }
    println!("conformance: {counts}");
    if counts.fail > 0 {
        return Err(Failure::Driver(CallError::Host(format!(
            "{} conformance case(s) failed",
            counts.fail
        ))));
    }
    Ok(())
}
