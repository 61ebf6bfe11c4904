//! Debian's `docker-registry` (distribution 2.8.2 and its own S3 driver) on
//! a bucket this project's driver also serves: for the interop tests and
//! the registry benchmark. Killed when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Method, StatusCode};
use s3_driver_host::ConfigValue;

use super::OciClient;
use super::client::full;

/// A running Go registry.
pub struct GoRegistry {
    child: Child,
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for GoRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(params: &[(String, ConfigValue)], key: &str) -> anyhow::Result<String> {
    match params.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
        Some(ConfigValue::Text(t)) => Ok(t.clone()),
        _ => bail!("the Go registry needs `{key}` as text in the storage parameters"),
    }
}

/// True when `docker-registry` is on the PATH.
pub fn installed() -> bool {
    Command::new("docker-registry")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl GoRegistry {
    /// Starts one on the bucket `params` names (static keys, a
    /// `regionendpoint` over plain HTTP), deletes on, redirects off, and
    /// waits until it answers.
    pub async fn start(params: &[(String, ConfigValue)]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::tempdir()?;
        let endpoint = text(params, "regionendpoint")?;
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  s3:\n    accesskey: {}\n    secretkey: {}\n    region: {}\n    regionendpoint: {endpoint}\n    bucket: {}\n    secure: {}\n  delete:\n    enabled: true\n  redirect:\n    disable: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: local-test-secret\n",
            text(params, "accesskey")?,
            text(params, "secretkey")?,
            text(params, "region").unwrap_or_else(|_| "us-east-1".into()),
            text(params, "bucket")?,
            endpoint.starts_with("https://"),
        );
        let path = dir.path().join("config.yml");
        std::fs::write(&path, config)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            // The Go AWS SDK refuses to start with a CA bundle variable it
            // cannot apply to its transport.
            .env_remove("AWS_CA_BUNDLE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting docker-registry")?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut go = Self {
            child,
            addr,
            _dir: dir,
        };
        let c = OciClient::new(&format!("http://{addr}"));
        for _ in 0..100 {
            if let Ok(r) = c.send(Method::GET, "/v2/", &[], full(Bytes::new())).await
                && r.status == StatusCode::OK
            {
                return Ok(go);
            }
            if let Some(status) = go.child.try_wait()? {
                bail!("docker-registry exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("docker-registry did not answer on {addr}")
    }

    /// A client of it.
    pub fn client(&self) -> OciClient {
        OciClient::new(&format!("http://{}", self.addr))
    }

    /// Its peak resident memory so far, in MiB (Linux).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// Starts a new peak-memory window (Linux: `5` to `clear_refs`).
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}
