//! The registry workloads: this registry (the embedding library, served
//! from this process) against Debian's Go registry (`docker-registry`,
//! distribution 2.8.2 with its own S3 driver) on the same store in the same
//! run: push and pull of a 1 GiB image, and of 200 small images from eight
//! clients at once. Each registry gets its own images (no blob one pushed
//! helps the other). Peak RSS is this whole process for ours (client, and
//! the embedded S3 server when it serves) and the Go process for theirs.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt as _;
use s3_driver_host::{ConfigValue, Driver};
use s3_driver_kit::oci::go_registry::{self, GoRegistry};
use s3_driver_kit::oci::{Image, OciClient};
use s3_driver_registry::{Options, Registry, Store};

use super::{Table, peak_rss_mib, reset_peak_rss};

/// What the registry bench runs.
pub struct Plan {
    /// Size of the big image, in MiB (four layers).
    pub big_mib: u64,
    /// Small images pushed and pulled.
    pub small: usize,
    /// Clients at once for the small images.
    pub clients: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            big_mib: 1024,
            small: 200,
            clients: 8,
        }
    }
}

struct Side {
    name: &'static str,
    client: OciClient,
    go: Option<GoRegistry>,
}

impl Side {
    fn reset_peak(&self) {
        match &self.go {
            Some(g) => g.reset_peak_rss(),
            None => reset_peak_rss(),
        }
    }

    fn peak(&self) -> String {
        let p = match &self.go {
            Some(g) => g.peak_rss_mib(),
            None => peak_rss_mib(),
        };
        p.map_or("-".into(), |p| format!("{p:.0}"))
    }
}

/// Serves this registry on `driver` from this process; its address.
async fn serve_ours(driver: Driver) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let options = Options {
        delete_enabled: true,
        redirect: false,
        ..Options::default()
    };
    let registry = Arc::new(Registry::new(Store::new(driver), options));
    tokio::spawn(s3_driver_registry::serve(
        listener,
        registry,
        std::future::pending(),
    ));
    Ok(addr)
}

fn row(t: &mut Table, workload: &str, side: &Side, secs: f64, mib: f64, images: usize) {
    t.row(&[
        workload,
        side.name,
        &format!("{secs:.2}"),
        &format!("{:.1}", mib / secs.max(1e-9)),
        &format!("{:.1}", images as f64 / secs.max(1e-9)),
        &side.peak(),
    ]);
}

/// Runs the plan against `driver` (ours) and, when installed, the Go
/// registry on `params`'s bucket.
pub async fn run(
    driver: Driver,
    params: &[(String, ConfigValue)],
    plan: &Plan,
) -> anyhow::Result<Table> {
    let ours = serve_ours(driver).await?;
    let mut sides = vec![Side {
        name: "this registry",
        client: OciClient::new(&format!("http://{ours}")),
        go: None,
    }];
    if go_registry::installed() {
        let go = GoRegistry::start(params).await?;
        sides.push(Side {
            name: "docker-registry 2.8",
            client: go.client(),
            go: Some(go),
        });
    } else {
        eprintln!("s3-driver: docker-registry is not installed; only this registry is measured");
    }
    let mut t = Table::new(&[
        "workload",
        "registry",
        "seconds",
        "MiB/s",
        "images/s",
        "peak RSS MiB",
    ]);
    let layer = (plan.big_mib << 20) / 4;
    for (k, side) in sides.iter().enumerate() {
        let seed = 9000 + k as u64 * 1000;
        let repo = format!("bench/{}", k);
        let big = Image::generate(seed, &[layer; 4], false);
        let mib = big.layer_bytes() as f64 / (1 << 20) as f64;
        side.reset_peak();
        let t0 = Instant::now();
        side.client.push_image(&repo, "big", &big).await?;
        row(
            &mut t,
            &format!("push {} MiB image", plan.big_mib),
            side,
            t0.elapsed().as_secs_f64(),
            mib,
            1,
        );
        side.reset_peak();
        let t0 = Instant::now();
        side.client.pull_image(&repo, "big").await?;
        row(
            &mut t,
            &format!("pull {} MiB image", plan.big_mib),
            side,
            t0.elapsed().as_secs_f64(),
            mib,
            1,
        );

        let small: Vec<Image> = (0..plan.small)
            .map(|i| Image::generate(seed + 1 + i as u64, &[4096], i % 2 == 1))
            .collect();
        let small_mib = small.iter().map(Image::layer_bytes).sum::<u64>() as f64 / (1 << 20) as f64;
        let name = format!("{} small images, {} clients", plan.small, plan.clients);
        side.reset_peak();
        let t0 = Instant::now();
        let pushes = futures::stream::iter(small.iter().enumerate().map(|(i, im)| {
            let c = side.client.clone();
            let repo = format!("{repo}-small/{}", i % 16);
            async move { c.push_image(&repo, &format!("t{i}"), im).await }
        }))
        .buffer_unordered(plan.clients)
        .collect::<Vec<_>>()
        .await;
        pushes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        row(
            &mut t,
            &format!("push {name}"),
            side,
            t0.elapsed().as_secs_f64(),
            small_mib,
            plan.small,
        );
        side.reset_peak();
        let t0 = Instant::now();
        let pulls = futures::stream::iter((0..plan.small).map(|i| {
            let c = side.client.clone();
            let repo = format!("{repo}-small/{}", i % 16);
            async move { c.pull_image(&repo, &format!("t{i}")).await }
        }))
        .buffer_unordered(plan.clients)
        .collect::<Vec<_>>()
        .await;
        pulls.into_iter().collect::<anyhow::Result<Vec<u64>>>()?;
        row(
            &mut t,
            &format!("pull {name}"),
            side,
            t0.elapsed().as_secs_f64(),
            small_mib,
            plan.small,
        );
    }
    Ok(t)
}
