//! `s3-driver uploads`: the in-progress multipart uploads under the root
//! directory (the component's `maintenance` interface), and aborting those
//! older than a cut ([`Driver::purge_uploads`]). Uploads whose start the
//! server does not report are never aborted.

// `Failure` carries the WIT error by value, as in `target.rs`.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use s3_driver_host::{Driver, PurgeAction};
use s3_driver_kit::table::Table;
use s3_storage_driver::duration::parse_go_duration;

use crate::target::{Failure, rfc3339};

/// The age past which uploads are aborted when none is given.
pub const DEFAULT_AGE: &str = "24h";
/// Younger than this needs `--force`: a live writer between two parts
/// looks like an abandoned upload.
const MIN_AGE: Duration = Duration::from_secs(3600);

/// What `uploads` was asked.
pub struct Uploads {
    /// List below this path.
    pub path: String,
    /// The cut, as a Go duration (`24h`, `90m`).
    pub older_than: String,
    /// Abort the uploads older than the cut.
    pub abort: bool,
    /// With `abort`: say what would be aborted, abort nothing.
    pub dry_run: bool,
    /// With `abort`: allow a cut under an hour.
    pub force: bool,
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s => format!("{}m{}s", s / 60, s % 60),
    }
}

impl Uploads {
    /// The cut, refused when it is not a duration, or under an hour for an
    /// abort without `force`.
    pub fn cut(&self) -> Result<Duration, Failure> {
        let cut = parse_go_duration(&self.older_than).ok_or_else(|| {
            Failure::Usage(format!(
                "--older-than: {:?} is not a duration (24h, 90m)",
                self.older_than
            ))
        })?;
        if self.abort && cut < MIN_AGE && !self.force {
            return Err(Failure::Usage(format!(
                "--older-than {}: refusing to abort uploads younger than 1h without --force (a live writer's upload looks the same)",
                self.older_than
            )));
        }
        Ok(cut)
    }
}

/// Lists, and with `abort` aborts, the uploads below `u.path` older than `cut`.
pub async fn uploads(driver: &Driver, u: &Uploads, cut: Duration) -> Result<(), Failure> {
    // Without --abort nothing is aborted: a dry run that reports.
    let seen = driver
        .purge_uploads(&u.path, cut, !u.abort || u.dry_run)
        .await?;
    let mut table = Table::new(&[
        "path",
        "upload id",
        "started",
        "age",
        "parts",
        "bytes",
        "action",
    ]);
    let (mut old, mut aborted, mut bytes) = (0usize, 0usize, 0u64);
    for p in &seen {
        bytes += p.upload.bytes;
        let action = match p.action {
            PurgeAction::Kept => "-",
            PurgeAction::KeptAgeUnknown => "kept (age unknown)",
            PurgeAction::WouldAbort if u.abort => "would abort",
            PurgeAction::WouldAbort => "older than the cut",
            PurgeAction::Aborted => "aborted",
        };
        old += usize::from(matches!(
            p.action,
            PurgeAction::WouldAbort | PurgeAction::Aborted
        ));
        aborted += usize::from(p.action == PurgeAction::Aborted);
        table.row(&[
            &p.upload.path,
            &p.upload.upload_id,
            &rfc3339(p.upload.initiated),
            &p.age.map_or("-".into(), human),
            &p.upload.parts.to_string(),
            &p.upload.bytes.to_string(),
            action,
        ]);
    }
    print!("{table}");
    println!(
        "{} upload(s) in progress below {} ({bytes} bytes in parts); {old} older than {}; {aborted} aborted",
        seen.len(),
        u.path,
        u.older_than
    );
    Ok(())
}
