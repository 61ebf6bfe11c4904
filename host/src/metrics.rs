//! What a driver did: calls by operation and outcome, latency histograms,
//! bytes, instances and HTTP responses, as a snapshot an embedding registry
//! exports (the Prometheus text format helper is [`Snapshot::to_prometheus`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct OpCounts {
    outcomes: BTreeMap<&'static str, u64>,
    /// Cumulative-free counts per bucket, the last one is +Inf.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum_seconds: f64,
}

/// Live counters of one driver, shared by its clones and instances.
#[derive(Debug, Default)]
pub struct Metrics {
    ops: Mutex<BTreeMap<&'static str, OpCounts>>,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    instances_created: AtomicU64,
    instances_discarded: AtomicU64,
    instances_trimmed: AtomicU64,
    overloaded: AtomicU64,
}

impl Metrics {
    /// A call starts; returns the in-flight count including it.
    pub(crate) fn begin(&self) -> u64 {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        now
    }

    /// A call ended with `outcome` (`ok` or an error kind) after `elapsed`.
    pub(crate) fn end(&self, op: &'static str, outcome: &'static str, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        let mut ops = self.ops.lock().unwrap();
        let c = ops.entry(op).or_default();
        *c.outcomes.entry(outcome).or_default() += 1;
        c.buckets[bucket] += 1;
        c.sum_seconds += secs;
    }

    pub(crate) fn read(&self, n: usize) {
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn written(&self, n: usize) {
        self.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn instance_created(&self) {
        self.instances_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn instance_discarded(&self) {
        self.instances_discarded.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn instances_trimmed(&self, n: usize) {
        self.instances_trimmed
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn overloaded(&self) {
        self.overloaded.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy of everything (each counter read once).
    pub fn snapshot(&self) -> Snapshot {
        let ops = self.ops.lock().unwrap();
        Snapshot {
            ops: ops
                .iter()
                .map(|(op, c)| OpSnapshot {
                    op: (*op).to_owned(),
                    outcomes: c
                        .outcomes
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), *v))
                        .collect(),
                    buckets: c.buckets.to_vec(),
                    sum_seconds: c.sum_seconds,
                })
                .collect(),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            instances_created: self.instances_created.load(Ordering::Relaxed),
            instances_discarded: self.instances_discarded.load(Ordering::Relaxed),
            instances_trimmed: self.instances_trimmed.load(Ordering::Relaxed),
            overloaded: self.overloaded.load(Ordering::Relaxed),
            http: crate::Stats::default(),
            log_lines: Default::default(),
            shared_values: Default::default(),
            http_by_status: Vec::new(),
        }
    }
}

/// One operation's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSnapshot {
    /// The WIT function (`stat`, `get-content`, `file-reader.read`...).
    pub op: String,
    /// Calls by outcome: `ok` or an error kind (`path-not-found`, `timeout`...).
    pub outcomes: Vec<(String, u64)>,
    /// Calls per latency bucket (non-cumulative), the last one past 30 s.
    pub buckets: Vec<u64>,
    /// Total time of all calls.
    pub sum_seconds: f64,
}

impl OpSnapshot {
    /// All calls.
    pub fn calls(&self) -> u64 {
        self.outcomes.iter().map(|(_, n)| n).sum()
    }

    /// Calls that did not end `ok`.
    pub fn errors(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(k, _)| k != "ok")
            .map(|(_, n)| n)
            .sum()
    }
}

/// Everything a driver counted, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Per-operation counts, by name.
    pub ops: Vec<OpSnapshot>,
    /// Bytes handed to the caller (get-content, reads).
    pub bytes_read: u64,
    /// Bytes taken from the caller (put-content, writes).
    pub bytes_written: u64,
    /// Most calls running at once.
    pub max_in_flight: u64,
    /// Instances created (one per concurrent call at most, plus swaps).
    pub instances_created: u64,
    /// Instances thrown away after a trap, a timeout, the memory cap or a
    /// call abandoned by its caller.
    pub instances_discarded: u64,
    /// Idle instances freed after `idle_timeout`.
    pub instances_trimmed: u64,
    /// Calls refused because no instance was free within `queue_timeout`.
    pub overloaded: u64,
    /// The HTTP policy's counters.
    pub http: crate::Stats,
    /// HTTP responses by status.
    pub http_by_status: Vec<(u16, u64)>,
    /// Lines the component logged, by level.
    pub log_lines: crate::guest_log::LogCounts,
    /// How the instances' claims on shared values were answered.
    pub shared_values: crate::shared_values::ShareStats,
}

impl Snapshot {
    /// One operation's counts, if it was called.
    pub fn op(&self, op: &str) -> Option<&OpSnapshot> {
        self.ops.iter().find(|o| o.op == op)
    }

    /// The Prometheus text exposition format, every series carrying `labels`
    /// (for example `[("driver", "blobs")]`).
    pub fn to_prometheus(&self, labels: &[(&str, &str)]) -> String {
        let base: String = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\",", escape(v)))
            .collect();
        let mut text = String::new();
        self.calls(&mut text, &base);
        self.latencies(&mut text, &base);
        let base_only = base.trim_end_matches(',');
        let scalars: [(&str, &str, &str, u64); 11] = [
            (
                "read_bytes_total",
                "counter",
                "Bytes returned to callers.",
                self.bytes_read,
            ),
            (
                "written_bytes_total",
                "counter",
                "Bytes taken from callers.",
                self.bytes_written,
            ),
            (
                "calls_in_flight_max",
                "gauge",
                "Most calls running at once.",
                self.max_in_flight,
            ),
            (
                "instances_created_total",
                "counter",
                "Component instances created.",
                self.instances_created,
            ),
            (
                "instances_discarded_total",
                "counter",
                "Instances discarded after a trap, timeout, memory cap or abandoned call.",
                self.instances_discarded,
            ),
            (
                "instances_trimmed_total",
                "counter",
                "Idle instances freed after the idle timeout.",
                self.instances_trimmed,
            ),
            (
                "calls_overloaded_total",
                "counter",
                "Calls refused because no instance was free in time.",
                self.overloaded,
            ),
            (
                "http_retries_total",
                "counter",
                "HTTP requests that were retries.",
                self.http.retries,
            ),
            (
                "http_denied_total",
                "counter",
                "HTTP requests refused by the egress allowlist.",
                self.http.denied,
            ),
            (
                "http_failed_total",
                "counter",
                "HTTP requests that got no response.",
                self.http.failed,
            ),
            (
                "http_replies_abandoned_total",
                "counter",
                "HTTP reply bodies dropped before their end (each may cost a connection).",
                self.http.abandoned,
            ),
        ];
        for (name, kind, help, v) in scalars {
            family(&mut text, name, kind, help);
            let _ = writeln!(text, "s3_driver_{name}{{{base_only}}} {v}");
        }
        family(
            &mut text,
            "http_responses_total",
            "counter",
            "HTTP responses by status.",
        );
        for (status, n) in &self.http_by_status {
            let _ = writeln!(
                text,
                "s3_driver_http_responses_total{{{base}status=\"{status}\"}} {n}"
            );
        }
        family(
            &mut text,
            "log_lines_total",
            "counter",
            "Lines the component logged, by level.",
        );
        for (level, n) in [
            ("warn", self.log_lines.warn),
            ("debug", self.log_lines.debug),
        ] {
            let _ = writeln!(
                text,
                "s3_driver_log_lines_total{{{base}level=\"{level}\"}} {n}"
            );
        }
        family(
            &mut text,
            "shared_value_claims_total",
            "counter",
            "Claims on values the instances share (credentials, IP ranges), by answer.",
        );
        for (answer, n) in [
            ("ready", self.shared_values.ready),
            ("fetch", self.shared_values.fetch),
            ("waited", self.shared_values.waited),
        ] {
            let _ = writeln!(
                text,
                "s3_driver_shared_value_claims_total{{{base}answer=\"{answer}\"}} {n}"
            );
        }
        text
    }

    /// `calls_total` by operation and outcome.
    fn calls(&self, text: &mut String, base: &str) {
        family(
            text,
            "calls_total",
            "counter",
            "Driver calls by operation and outcome.",
        );
        for o in &self.ops {
            for (outcome, n) in &o.outcomes {
                let _ = writeln!(
                    text,
                    "s3_driver_calls_total{{{base}op=\"{}\",outcome=\"{outcome}\"}} {n}",
                    o.op
                );
            }
        }
    }

    /// The `call_duration_seconds` histogram by operation.
    fn latencies(&self, text: &mut String, base: &str) {
        family(
            text,
            "call_duration_seconds",
            "histogram",
            "Driver call latency by operation.",
        );
        for o in &self.ops {
            let mut cumulative = 0;
            for (i, n) in o.buckets.iter().enumerate() {
                cumulative += n;
                let le = LATENCY_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    text,
                    "s3_driver_call_duration_seconds_bucket{{{base}op=\"{}\",le=\"{le}\"}} {cumulative}",
                    o.op
                );
            }
            let _ = writeln!(
                text,
                "s3_driver_call_duration_seconds_sum{{{base}op=\"{}\"}} {}",
                o.op, o.sum_seconds
            );
            let _ = writeln!(
                text,
                "s3_driver_call_duration_seconds_count{{{base}op=\"{}\"}} {cumulative}",
                o.op
            );
        }
    }
}

/// `# HELP` and `# TYPE` of a metric family.
fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP s3_driver_{name} {help}");
    let _ = writeln!(text, "# TYPE s3_driver_{name} {kind}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_cumulative_buckets_and_labels() {
        let m = Metrics::default();
        m.begin();
        m.end("stat", "ok", Duration::from_millis(3));
        m.begin();
        m.end("stat", "path-not-found", Duration::from_secs(100));
        m.read(7);
        let text = m.snapshot().to_prometheus(&[("driver", "a\"b")]);
        assert!(
            text.contains("s3_driver_calls_total{driver=\"a\\\"b\",op=\"stat\",outcome=\"ok\"} 1")
        );
        assert!(text.contains(
            "s3_driver_call_duration_seconds_bucket{driver=\"a\\\"b\",op=\"stat\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "s3_driver_call_duration_seconds_bucket{driver=\"a\\\"b\",op=\"stat\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("s3_driver_read_bytes_total{driver=\"a\\\"b\"} 7"));
        let snap = m.snapshot();
        assert_eq!(snap.op("stat").unwrap().calls(), 2);
        assert_eq!(snap.op("stat").unwrap().errors(), 1);
        assert_eq!(snap.max_in_flight, 1);
    }
}
