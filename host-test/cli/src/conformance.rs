//! `s3-driver conformance`: the reference driver's suite against the
//! configured store, one line per case.

use std::time::Instant;

use s3_driver_host::CallError;
use s3_driver_kit::conformance::{CASES, Outcome, Quirks, Target, run_case};
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
        quirks: Quirks {
            storage_class_not_kept: server
                .as_ref()
                .map(|_| "s3s-fs does not store storage classes"),
        },
    };
    println!("conformance: the reference suite against {name}");
    println!("{:<38} {:<36} {:>9}  result", "case", "reference", "time");
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for case in CASES
        .iter()
        .filter(|c| only.is_none_or(|o| c.name.contains(o)))
    {
        let t = Instant::now();
        let outcome = run_case(&runtime, &target, case).await;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let result = match &outcome {
            Outcome::Pass => {
                pass += 1;
                "pass".to_owned()
            }
            Outcome::Fail(why) => {
                fail += 1;
                format!("FAIL: {why}")
            }
            Outcome::Skip(why) => {
                skip += 1;
                format!("skip: {why}")
            }
        };
        println!(
            "{:<38} {:<36} {ms:>7.0}ms  {result}",
            case.name, case.reference
        );
    }
    println!("conformance: {pass} passed, {fail} failed, {skip} skipped");
    if fail > 0 {
        return Err(Failure::Driver(CallError::Host(format!(
            "{fail} conformance case(s) failed"
        ))));
    }
    Ok(())
}
