//! Every operation under every kind of fault the host's HTTP hook injects.
//! Each case ends in success with the right bytes or a typed driver error; no
//! object is ever partially visible; nothing traps; no upload is left behind
//! by a failed move; the driver keeps working. The matrix is printed.

use s3_driver_suite as common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::text;
use s3_driver_host::{
    CallError, ConfigValue, Driver, DriverError, Fault, FaultRule, RedirectRequest,
};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::raw::RawS3;
use s3_driver_kit::table::Table;

const MIB: usize = 1 << 20;

/// One column of the matrix: a fault, on the first request of the operation
/// or on all of them.
struct Case {
    name: &'static str,
    fault: Fault,
    once: bool,
    /// Only S3 API calls with XML replies (a query string): a replaced body
    /// means something only there.
    xml_only: bool,
}

fn cases() -> Vec<Case> {
    let c = |name, fault, once, xml_only| Case {
        name,
        fault,
        once,
        xml_only,
    };
    let status = |status, code: &str| Fault::Status {
        status,
        code: code.into(),
    };
    vec![
        c("refuse once", Fault::Refuse, true, false),
        c("refuse always", Fault::Refuse, false, false),
        c("503 SlowDown once", status(503, "SlowDown"), true, false),
        c("503 SlowDown always", status(503, "SlowDown"), false, false),
        c(
            "500 InternalError once",
            status(500, "InternalError"),
            true,
            false,
        ),
        c(
            "400 RequestTimeout once",
            status(400, "RequestTimeout"),
            true,
            false,
        ),
        c(
            "403 AccessDenied",
            status(403, "AccessDenied"),
            false,
            false,
        ),
        c(
            "reset request after 1 KiB once",
            Fault::ResetRequestAfter(1024),
            true,
            false,
        ),
        c(
            "reset response after 100 KiB once",
            Fault::ResetResponseAfter(100 << 10),
            true,
            false,
        ),
        c(
            "truncate response after 100 B once",
            Fault::TruncateResponse(100),
            true,
            false,
        ),
        c(
            "malformed XML once",
            Fault::ReplaceBody(b"<ListBucketResult><Contents><Key>".to_vec()),
            true,
            true,
        ),
        c(
            "empty body once",
            Fault::ReplaceBody(Vec::new()),
            true,
            true,
        ),
        c(
            "delay past timeout once",
            Fault::Delay(Duration::from_millis(1500)),
            true,
            false,
        ),
        c(
            "delay past timeout always",
            Fault::Delay(Duration::from_millis(1500)),
            false,
            false,
        ),
    ]
}

const OPS: &[&str] = &[
    "put",
    "get",
    "reader",
    "writer.write",
    "writer.close",
    "writer.commit",
    "append",
    "stat",
    "list",
    "move small",
    "move multipart",
    "delete",
    "walk",
    "redirect-url",
];

fn data(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 + seed * 13 + i / 251) as u8)
        .collect()
}

/// Every failure must be the driver's typed error: never a trap or a host
/// failure.
fn kind(e: &CallError) -> String {
    match e {
        CallError::Driver(d) => match d {
            DriverError::Network(_) => "network".into(),
            DriverError::Throttled(_) => "throttled".into(),
            DriverError::AccessDenied(_) => "access-denied".into(),
            DriverError::Backend(b) => format!("backend {}", b.status),
            DriverError::MalformedResponse(_) => "malformed".into(),
            other => panic!("unexpected driver error {other:?}"),
        },
        other => panic!("not a typed driver error: {other:?}"),
    }
}

/// What S3 shows at `path`: `None` when nothing is there.
async fn visible(d: &Driver, path: &str) -> Option<Vec<u8>> {
    match d.get_content(path).await {
        Ok(v) => Some(v),
        Err(CallError::Driver(DriverError::PathNotFound(_))) => None,
        Err(e) => panic!("reading {path} back: {e}"),
    }
}

struct Rig {
    d: Driver,
    raw: RawS3,
}

impl Rig {
    fn inject(&self, case: &Case) {
        let mut rule = FaultRule::every(case.fault.clone());
        if case.once {
            rule = rule.nth(1);
        }
        if case.xml_only {
            rule = rule.path_contains("?");
        }
        self.d.policy().inject(rule);
    }

    fn clear(&self) {
        self.d.policy().clear_faults();
    }

    /// Runs `op` under `case` in the fresh directory `dir`; returns the cell.
    async fn run(&self, op: &str, case: &Case, dir: &str) -> String {
        let outcome = match op {
            "put" => self.put(op, case, dir).await,
            "get" | "reader" => self.read(op, case, dir).await,
            "writer.write" => self.write(op, case, dir).await,
            "writer.close" | "writer.commit" | "append" => self.finish(op, case, dir).await,
            "stat" => self.stat(op, case, dir).await,
            "list" | "walk" | "delete" => self.listing(op, case, dir).await,
            "move small" | "move multipart" => self.moves(op, case, dir).await,
            "redirect-url" => self.redirect(op, case, dir).await,
            other => unreachable!("{other}"),
        };
        // The driver still works.
        let probe = format!("{dir}/probe");
        self.d.put_content(&probe, b"alive").await.unwrap();
        assert_eq!(self.d.get_content(&probe).await.unwrap(), b"alive");
        match outcome {
            Ok(()) => "ok".into(),
            Err(e) => kind(&e),
        }
    }

    /// PutContent over an older version.
    async fn put(&self, _op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let one = data(1, MIB);
        let path = format!("{dir}/f");
        d.put_content(&path, b"old").await.unwrap();
        self.inject(case);
        let r = d.put_content(&path, &one).await;
        self.clear();
        let seen = visible(d, &path).await.unwrap();
        match &r {
            Ok(()) => assert!(seen == one, "put {dir}"),
            Err(_) => assert!(seen == one || seen == b"old", "partial put {dir}"),
        }
        r
    }

    /// GetContent, or a reader read to the end.
    async fn read(&self, op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let one = data(1, MIB);
        let path = format!("{dir}/f");
        d.put_content(&path, &one).await.unwrap();
        self.inject(case);
        let r = if op == "get" {
            d.get_content(&path).await
        } else {
            match d.reader(&path, 0).await {
                Ok(mut r) => r.read_to_end().await,
                Err(e) => Err(e),
            }
        };
        self.clear();
        r.map(|got| assert!(got == one, "{op} {dir} read wrong bytes"))
    }

    /// A writer's write and commit.
    async fn write(&self, _op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let six = data(6, 6 * MIB);
        // Parts go up while `write` returns, so a part's failure
        // may surface at the next call: the fault lasts through
        // write and commit, and whatever fails, nothing is lost.
        let path = format!("{dir}/w");
        let mut w = d.writer(&path, false).await.unwrap();
        self.inject(case);
        let r = match w.write(&six).await {
            Ok(_) => w.commit().await,
            Err(e) => Err(e),
        };
        self.clear();
        if r.is_err() {
            // Every byte is still with the writer: committing again
            // now that the fault is gone publishes all of it.
            w.commit().await.unwrap();
        }
        assert!(visible(d, &path).await.unwrap() == six, "{dir}");
        r
    }

    /// Close, commit, or an append after a close.
    async fn finish(&self, op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let six = data(6, 6 * MIB);
        let path = format!("{dir}/w");
        let mut w = d.writer(&path, false).await.unwrap();
        w.write(&six).await.unwrap();
        let tail = data(7, MIB);
        let r = match op {
            "writer.close" => {
                self.inject(case);
                let r = w.close().await;
                self.clear();
                r
            }
            "writer.commit" => {
                self.inject(case);
                let r = w.commit().await;
                self.clear();
                r
            }
            _ => {
                w.close().await.unwrap();
                drop(w);
                self.inject(case);
                let r = async {
                    let mut w = d.writer(&path, true).await?;
                    w.write(&tail).await?;
                    w.commit().await
                }
                .await;
                self.clear();
                r
            }
        };
        let mut whole = six.clone();
        if op == "append" {
            whole.extend_from_slice(&tail);
        }
        match (op, &r) {
            ("writer.close", Ok(())) => {
                // The upload is resumable and holds every byte.
                let mut w = d.writer(&path, true).await.unwrap();
                assert_eq!(w.size().await.unwrap(), six.len() as u64);
                w.commit().await.unwrap();
                assert!(visible(d, &path).await.unwrap() == six);
            }
            ("writer.close", Err(_)) => {
                // What S3 holds is a prefix of what was written.
                let mut w = d.writer(&path, true).await.unwrap();
                let size = w.size().await.unwrap() as usize;
                w.commit().await.unwrap();
                let seen = visible(d, &path).await.unwrap_or_default();
                assert!(seen == six[..size], "resumed prefix {dir}");
            }
            (_, Ok(())) => assert!(visible(d, &path).await.unwrap() == whole),
            (_, Err(_)) => {
                // Complete is all or nothing.
                if let Some(seen) = visible(d, &path).await {
                    assert!(seen == whole, "partial object {dir}");
                }
            }
        }
        r
    }

    /// Stat of a file.
    async fn stat(&self, _op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let one = data(1, MIB);
        let path = format!("{dir}/f");
        d.put_content(&path, &one).await.unwrap();
        self.inject(case);
        let r = d.stat(&path).await;
        self.clear();
        r.map(|i| assert_eq!(i.size, MIB as u64))
    }

    /// List, walk or delete of a directory of three files.
    async fn listing(&self, op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        for i in 0..3 {
            d.put_content(&format!("{dir}/d/{i}"), b"x").await.unwrap();
        }
        self.inject(case);
        let r = match op {
            "list" => d.list(&format!("{dir}/d")).await.map(|l| {
                let want: Vec<String> = (0..3).map(|i| format!("{dir}/d/{i}")).collect();
                assert_eq!(l, want);
            }),
            "walk" => d.walk_all(&format!("{dir}/d"), None).await.map(|l| {
                assert_eq!(l.len(), 3);
            }),
            _ => d.delete(&format!("{dir}/d")).await,
        };
        self.clear();
        if op == "delete" && r.is_ok() {
            assert!(d.list(&format!("{dir}/d")).await.is_err());
        }
        r
    }

    /// A move by CopyObject or by a multipart copy.
    async fn moves(&self, op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let one = data(1, MIB);
        let six = data(6, 6 * MIB);
        let src = format!("{dir}/src");
        let dst = format!("{dir}/dst");
        let content = if op == "move small" { &one } else { &six };
        d.put_content(&src, content).await.unwrap();
        self.inject(case);
        let r = d.move_(&src, &dst).await;
        self.clear();
        let (s, t) = (visible(d, &src).await, visible(d, &dst).await);
        match &r {
            Ok(()) => {
                assert!(s.is_none());
                assert!(t.as_ref() == Some(content));
            }
            Err(_) => {
                // Either not moved, or copied and not yet deleted.
                assert!(s.as_ref() == Some(content), "source lost {dir}");
                assert!(t.is_none() || t.as_ref() == Some(content), "partial {dir}");
            }
        }
        // A failed multipart copy aborts its upload. Only an upload
        // whose CreateMultipartUpload reply was unreadable cannot be
        // aborted: its id never arrived (a bucket lifecycle rule
        // cleans those).
        let key = format!("registry-test{dir}");
        let left = self.raw.uploads(&key).await.unwrap();
        let unreadable = matches!(
            &r,
            Err(CallError::Driver(DriverError::MalformedResponse(_)))
        );
        assert!(left.is_empty() || unreadable, "move left uploads {left:?}");
        self.raw.abort_uploads(&key).await.unwrap();
        r
    }

    /// A presigned redirect URL.
    async fn redirect(&self, _op: &str, case: &Case, dir: &str) -> Result<(), CallError> {
        let d = &self.d;
        let path = format!("{dir}/f");
        self.inject(case);
        let request = RedirectRequest {
            method: "GET".into(),
            remote_addr: "192.0.2.1".into(),
            forwarded_for: None,
            real_ip: None,
        };
        let r = d.redirect_url(&request, &path).await;
        self.clear();
        r.map(|u| assert!(u.is_some()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_under_every_fault() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let mut params = server.params();
    for (k, v) in [
        ("rootdirectory", "/registry-test"),
        ("chunksize", "5242880"),
        ("multipartcopychunksize", "5242880"),
        ("multipartcopythresholdsize", "5242880"),
        ("retrybasedelay", "1ms"),
        ("firstbytetimeout", "500ms"),
    ] {
        params.push((k.into(), text(v)));
    }
    let d = common::open_params(&params).await;
    let rig = Rig {
        raw: RawS3::from_params(&params).unwrap(),
        d,
    };
    let cases = cases();
    let mut cells: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for (ci, case) in cases.iter().enumerate() {
        for (oi, op) in OPS.iter().enumerate() {
            let dir = format!("/m/{ci}/{}", op.replace(['.', ' '], "-"));
            cells.insert((ci, oi), rig.run(op, case, &dir).await);
        }
    }

    let mut header = vec!["fault \\ operation"];
    header.extend(OPS);
    let mut table = Table::new(&header);
    for (ci, case) in cases.iter().enumerate() {
        let mut row = vec![case.name.to_owned()];
        row.extend((0..OPS.len()).map(|oi| cells[&(ci, oi)].clone()));
        let refs: Vec<&str> = row.iter().map(String::as_str).collect();
        table.row(&refs);
    }
    println!("{table}");
    let m = rig.d.metrics();
    println!(
        "faults: {} cases, {} HTTP requests of which {} retries; instances discarded: {}",
        cases.len() * OPS.len(),
        m.http.requests,
        m.http.retries,
        m.instances_discarded
    );

    // What must hold beyond "typed error or right bytes".
    let cell = |name: &str, op: &str| {
        let ci = cases.iter().position(|c| c.name == name).unwrap();
        let oi = OPS.iter().position(|o| *o == op).unwrap();
        cells[&(ci, oi)].clone()
    };
    for name in [
        "refuse once",
        "503 SlowDown once",
        "500 InternalError once",
        "400 RequestTimeout once",
        "reset request after 1 KiB once",
        "delay past timeout once",
        "truncate response after 100 B once",
    ] {
        for op in OPS {
            // A stream already handed out cannot be replayed transparently.
            if *op == "reader" && name.starts_with("truncate") {
                continue;
            }
            assert_eq!(
                cell(name, op),
                "ok",
                "a transient fault is retried: {name} / {op}"
            );
        }
    }
    for op in OPS.iter().filter(|o| **o != "redirect-url") {
        assert_eq!(cell("refuse always", op), "network", "{op}");
        assert_eq!(cell("503 SlowDown always", op), "throttled", "{op}");
        assert_eq!(cell("403 AccessDenied", op), "access-denied", "{op}");
        assert_eq!(cell("delay past timeout always", op), "network", "{op}");
    }
    assert_eq!(cell("reset response after 100 KiB once", "get"), "ok");
    assert_eq!(
        cell("reset response after 100 KiB once", "reader"),
        "network"
    );
    assert_eq!(
        cell("truncate response after 100 B once", "reader"),
        "network"
    );
    assert_eq!(m.instances_discarded, 0, "no trap");
    assert!(m.http.retries > 0);
}

/// A driver on a fresh embedded server with `extra` parameters and retries
/// that do not wait.
async fn open_with(extra: &[(&str, &str)]) -> (Driver, EmbeddedS3) {
    let mut extra: Vec<(&str, ConfigValue)> = extra.iter().map(|(k, v)| (*k, text(v))).collect();
    extra.push(("retrybasedelay", text("1ms")));
    common::driver_with(&extra).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_complete_reply_is_recognised_by_the_multipart_etag() {
    let (d, _s) = open_with(&[("chunksize", "5242880")]).await;
    let content = data(9, 6 * MIB);
    let mut w = d.writer("/lost/blob", false).await.unwrap();
    w.write(&content).await.unwrap();
    // The server completes the upload; its reply is lost on the way back.
    d.policy().inject(
        FaultRule::every(Fault::ResetResponseAfter(0))
            .method("POST")
            .path_contains("uploadId=")
            .nth(1),
    );
    let before = d.http_stats();
    w.commit().await.unwrap();
    let after = d.http_stats();
    assert!(after.retries > before.retries, "the Complete was retried");
    assert!(d.get_content("/lost/blob").await.unwrap() == content);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_ends_with_the_between_bytes_timeout() {
    let (d, _s) = open_with(&[("betweenbytestimeout", "300ms")]).await;
    let content = data(3, MIB);
    d.put_content("/stall", &content).await.unwrap();
    // Once: the whole-body read is retried and succeeds.
    d.policy().inject(
        FaultRule::every(Fault::StallResponseAfter(1000))
            .method("GET")
            .nth(1),
    );
    assert!(d.get_content("/stall").await.unwrap() == content);
    d.policy().clear_faults();
    // A reader already streaming fails its read with a network error.
    d.policy()
        .inject(FaultRule::every(Fault::StallResponseAfter(1000)).method("GET"));
    let mut r = d.reader("/stall", 0).await.unwrap();
    let e = r.read_to_end().await.unwrap_err();
    assert!(
        matches!(e, CallError::Driver(DriverError::Network(_))),
        "expected a network error, got {e:?}"
    );
    d.policy().clear_faults();
    assert!(d.get_content("/stall").await.unwrap() == content);
}
