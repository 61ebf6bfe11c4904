//! A driver past its capacity and callers that go away: a call abandoned
//! half way costs its instance, never the pool (no `cannot enter component
//! instance` for the next caller); readers, writers and walkers held by slow
//! callers leave instances for the short calls; past capacity a call fails
//! quickly with `overloaded`; idle instances are freed after a burst.

use std::time::{Duration, Instant};

use s3_driver_host::{CallError, Driver, Fault, FaultRule, Limits};
use s3_driver_kit::EmbeddedS3;
use s3_driver_suite::open_limited;

async fn open(server: &EmbeddedS3, limits: Limits) -> Driver {
    open_limited(&server.params(), limits).await
}

/// A client that hangs up mid-call drops the call's future while the guest
/// waits inside it. That instance cannot be entered again; it must be
/// discarded, not handed to the next caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_abandoned_half_way_costs_its_instance_not_the_next_caller() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let limits = Limits {
        max_instances: 2,
        ..Limits::default()
    };
    let d = open(&server, limits).await;
    d.put_content("/blob", b"content").await.unwrap();
    d.policy()
        .inject(FaultRule::every(Fault::Delay(Duration::from_millis(400))).method("GET"));
    for i in 0..4 {
        let abandoned = tokio::time::timeout(Duration::from_millis(50), d.get_content("/blob"));
        if let Ok(early) = abandoned.await {
            panic!("call {i} ended before it was abandoned: {early:?}");
        }
    }
    d.policy().clear_faults();
    for i in 0..20 {
        let got = d.get_content("/blob").await;
        assert_eq!(
            got.as_deref().ok(),
            Some(&b"content"[..]),
            "call {i}: {got:?}"
        );
    }
    let m = d.metrics();
    assert!(m.instances_discarded >= 4, "{m:?}");
}

/// Writers held by callers that stall between writes take at most
/// `max_handles` instances; the others serve short calls at once, and a
/// writer past the bound fails with `overloaded` after `queue_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_writers_leave_instances_for_short_calls_and_overload_is_quick() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let limits = Limits {
        max_instances: 6,
        max_handles: 4,
        queue_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let d = open(&server, limits).await;
    d.put_content("/small", b"x").await.unwrap();
    let mut held = Vec::new();
    for i in 0..4 {
        let mut w = d.writer(&format!("/held/{i}"), false).await.unwrap();
        w.write(b"partial").await.unwrap();
        held.push(w);
    }
    let started = Instant::now();
    let e = d.writer("/one-too-many", false).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(e, CallError::Overloaded(_)), "{e:?}");
    assert_eq!(e.kind(), "overloaded");
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    for _ in 0..20 {
        d.stat("/small").await.unwrap();
    }
    assert_eq!(d.metrics().overloaded, 1);
    // A writer let go frees its place.
    held.pop();
    d.writer("/now-there-is-room", false).await.unwrap();
}

/// Past `max_instances`, short calls too are refused after `queue_timeout`
/// instead of waiting without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_calls_past_capacity_are_refused_in_time() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let limits = Limits {
        max_instances: 2,
        max_handles: 2,
        queue_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let d = open(&server, limits).await;
    let _a = d.writer("/a", false).await.unwrap();
    let _b = d.writer("/b", false).await.unwrap();
    let started = Instant::now();
    let e = d.stat("/a").await.unwrap_err();
    assert!(matches!(e, CallError::Overloaded(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A burst's instances are freed once idle past `idle_timeout`, but one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_are_freed_after_a_burst() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let d = open(&server, limits).await;
    d.put_content("/blob", b"x").await.unwrap();
    let readers: Vec<_> = futures::future::join_all((0..12).map(|_| d.reader("/blob", 0)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    drop(readers);
    assert!(d.idle_instances() >= 12, "{}", d.idle_instances());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(d.idle_instances(), 1);
    assert!(d.metrics().instances_trimmed >= 11);
    // What is left serves.
    assert_eq!(d.get_content("/blob").await.unwrap(), b"x");
}
