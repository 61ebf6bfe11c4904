//! `s3-driver`: every storage-driver operation from the command line, through
//! the component in wasmtime. Exit status: 0 success, 1 driver error, 2 usage
//! or configuration error.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use host_test::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, EmbeddedS3, Grants, Middleware,
    OutgoingPolicy, RedirectRequest, Runtime, TlsOptions, config_file, runtime::ComponentCache,
};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

#[derive(Parser)]
#[command(
    name = "s3-driver",
    version,
    about = "Docker Distribution's S3 storage driver as a WebAssembly component"
)]
struct Cli {
    /// A Distribution config.yml; its `storage: s3:` block configures the driver.
    /// Without an endpoint and credentials the embedded S3 server is used.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Keep the embedded server's data in this directory (default: a temporary one).
    #[arg(long, global = true)]
    embedded_dir: Option<PathBuf>,
    /// Trust the CA certificates in this PEM file for HTTPS to the endpoint.
    #[arg(long, global = true)]
    ca_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store a file (or standard input) at PATH.
    Put { path: String, file: Option<PathBuf> },
    /// Print the content of PATH from an offset.
    Get {
        path: String,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        offset: i64,
    },
    /// Size, modification time and kind of PATH.
    Stat { path: String },
    /// The direct children of PATH.
    Ls { path: String },
    /// Move SRC to DST.
    Mv { src: String, dst: String },
    /// Delete PATH and everything below it.
    Rm { path: String },
    /// The redirect URL a client would get for PATH.
    Url {
        path: String,
        #[arg(long, default_value = "GET")]
        method: String,
        #[arg(long, default_value = "127.0.0.1")]
        client_ip: String,
    },
    /// Walk everything below PATH.
    Walk { path: String },
    /// Run the reference driver's test suite (48 cases) against the configured
    /// store, each case in a scratch prefix it cleans up; print a table.
    Conformance {
        /// Run the reference's full sizes (a 5 GiB stream, 32 x 32 MiB streams).
        #[arg(long)]
        full_size: bool,
        /// Run only the cases whose name contains this text.
        #[arg(long)]
        only: Option<String>,
    },
    /// Measure the host (compile, precompiled load, hot swap, instantiation,
    /// a warm call), the memory of a large streamed upload and download, and
    /// the workloads (PutGet, Stream, List, Delete, Stat, Walk, Move,
    /// concurrent streams) through the component, object_store and the raw
    /// ceiling; print the figures.
    Bench {
        /// Samples per figure.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Only `memory`, only `host` or only `workloads`.
        #[arg(long)]
        only: Option<String>,
        /// Size of the memory check's object, in MiB.
        #[arg(long, default_value_t = 1024)]
        memory_mib: usize,
        /// Add the 1 GiB PutGet and Stream sizes.
        #[arg(long)]
        full_size: bool,
    },
    /// Store, stat, list, read back (SHA-256 checked) and delete a blob.
    Demo {
        /// Blob size in MiB.
        #[arg(long, default_value_t = 4)]
        mib: usize,
    },
}

/// Why the command failed, and so its exit status.
enum Failure {
    Usage(String),
    Driver(CallError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Driver(DriverError::InvalidConfig(_)) => Failure::Usage(e.to_string()),
            e => Failure::Driver(e),
        }
    }
}

fn text(params: &[(String, ConfigValue)], key: &str) -> Option<String> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            ConfigValue::Text(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// Keys that only make sense for a real server; the embedded one replaces them.
const SERVER_KEYS: &[&str] = &[
    "accesskey",
    "secretkey",
    "sessiontoken",
    "region",
    "regionendpoint",
    "bucket",
    "secure",
    "forcepathstyle",
];

/// The AWS credential variables the driver may read, when the host has them.
fn credential_env() -> Vec<(String, String)> {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
    .collect()
}

/// A configuration's parts: storage parameters, middleware, credential env.
struct Configured {
    params: Vec<(String, ConfigValue)>,
    middleware: Vec<Middleware>,
    env: Vec<(String, String)>,
}

/// The driver's configuration from `--config`, or the embedded server's.
async fn target_params(cli: &Cli) -> Result<(Configured, Option<EmbeddedS3>), Failure> {
    let config = match &cli.config {
        Some(path) => config_file::from_file(path).map_err(|e| Failure::Usage(format!("{e:#}")))?,
        None => config_file::DistributionConfig::default(),
    };
    let (mut params, middleware) = (config.storage, config.middleware);
    let env = credential_env();
    let has_endpoint = text(&params, "regionendpoint").is_some();
    let has_credentials = text(&params, "accesskey").is_some()
        || env.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "AWS_ACCESS_KEY_ID" | "AWS_WEB_IDENTITY_TOKEN_FILE"
            )
        });
    let mut server = None;
    if !has_endpoint && !has_credentials {
        let s = match &cli.embedded_dir {
            Some(dir) => {
                EmbeddedS3::start(
                    dir,
                    host_test::s3_server::DEFAULT_ACCESS_KEY,
                    host_test::s3_server::DEFAULT_SECRET_KEY,
                    host_test::s3_server::DEFAULT_BUCKET,
                )
                .await
            }
            None => EmbeddedS3::start_temp().await,
        }
        .map_err(|e| Failure::Usage(format!("starting the embedded S3 server: {e:#}")))?;
        eprintln!(
            "s3-driver: no endpoint or credentials configured; using the embedded S3 server at {} (data in {})",
            s.endpoint(),
            s.root().display()
        );
        params.retain(|(k, _)| !SERVER_KEYS.contains(&k.as_str()));
        params.extend(s.params());
        server = Some(s);
    }
    Ok((
        Configured {
            params,
            middleware,
            env,
        },
        server,
    ))
}

async fn open(cli: &Cli) -> Result<(Driver, Option<EmbeddedS3>), Failure> {
    let (t, server) = target_params(cli).await?;
    let driver = open_configured(cli, &t).await?;
    Ok((driver, server))
}

/// The built-in component, compiled once per build and machine: the
/// precompiled copy lives in `$S3_DRIVER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/s3-driver`, else `~/.cache/s3-driver`. Later runs start
/// without Cranelift (faster, and its memory never joins the process's).
fn runtime() -> Result<Runtime, String> {
    let dir = std::env::var_os("S3_DRIVER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("s3-driver")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/s3-driver")));
    let loaded = match dir {
        Some(dir) => Runtime::from_file_cached(
            std::path::Path::new(host_test::runtime::BUILT_COMPONENT),
            ComponentCache::new(dir),
        ),
        None => Runtime::builtin(),
    };
    loaded.map_err(|e| format!("{e:#}"))
}

/// A driver on a resolved configuration, reaching only what it names.
async fn open_configured(cli: &Cli, t: &Configured) -> Result<Driver, Failure> {
    let runtime = runtime().map_err(Failure::Usage)?;
    let allow = Allowlist::for_config(&t.params, &t.middleware)
        .with_credential_endpoints(&t.params, &t.env);
    let tls = TlsOptions {
        skip_verify: false,
        extra_roots_pem: match &cli.ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| Failure::Usage(format!("reading {}: {e}", path.display())))?,
            ),
            None => None,
        },
    };
    let policy = OutgoingPolicy::with_tls(allow, tls)
        .map_err(|e| Failure::Usage(format!("TLS settings: {e:#}")))?
        .with_tls_from_params(&t.params);
    let grants = Grants {
        env: t.env.clone(),
        ..Grants::default()
    };
    let driver = Driver::open_with(&runtime, &t.params, &t.middleware, policy, &grants).await?;
    for w in driver.warnings() {
        eprintln!("s3-driver: warning: {w}");
    }
    Ok(driver)
}

/// `s3-driver conformance`: the ported suite with a pass/fail table.
async fn conformance(cli: &Cli, full_size: bool, only: Option<&str>) -> Result<(), Failure> {
    use host_test::conformance::{CASES, Outcome, Quirks, Target, run_case};
    let (Configured { params, .. }, server) = target_params(cli).await?;
    let runtime = runtime().map_err(Failure::Usage)?;
    let name = match &server {
        Some(s) => format!("embedded s3s-fs at {}", s.endpoint()),
        None => text(&params, "regionendpoint").unwrap_or_else(|| "Amazon S3".into()),
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

fn bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if std::io::stderr().is_terminal() {
        pb.set_style(
            ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec}")
                .expect("valid template"),
        );
    } else {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    pb
}

/// Deterministic bytes for the demo blob (xorshift; no need for crypto here).
fn blob(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn demo(driver: &Driver, mib: usize) -> Result<(), Failure> {
    let data = blob(mib << 20);
    let digest = hex::encode(Sha256::digest(&data));
    let dir = format!(
        "/docker/registry/v2/blobs/sha256/{}/{}",
        &digest[..2],
        digest
    );
    let path = format!("{dir}/data");
    let step = |name: &str, t: Instant, detail: String| {
        println!(
            "{name:<7} {:>9.2} ms  {detail}",
            t.elapsed().as_secs_f64() * 1e3
        );
    };
    println!("demo: a {mib} MiB blob through the component in wasmtime");
    let t = Instant::now();
    driver.put_content(&path, &data).await?;
    step("put", t, format!("{path} ({} bytes)", data.len()));
    let t = Instant::now();
    let info = driver.stat(&path).await?;
    step(
        "stat",
        t,
        format!(
            "size {} dir {} mtime {:?}",
            info.size,
            info.is_dir,
            info.mod_time.map(|m| m.seconds)
        ),
    );
    if info.size != data.len() as u64 {
        return Err(Failure::Driver(CallError::Host(format!(
            "stat reported {} bytes, wrote {}",
            info.size,
            data.len()
        ))));
    }
    let t = Instant::now();
    let children = driver.list(&dir).await?;
    step("list", t, format!("{dir}: {children:?}"));
    let t = Instant::now();
    let back = driver.get_content(&path).await?;
    let back_digest = hex::encode(Sha256::digest(&back));
    let ok = back_digest == digest;
    step(
        "get",
        t,
        format!(
            "{} bytes, sha256 {back_digest} {}",
            back.len(),
            if ok { "matches" } else { "DIFFERS" }
        ),
    );
    if !ok {
        return Err(Failure::Driver(CallError::Host(
            "SHA-256 of the data read back differs".into(),
        )));
    }
    let t = Instant::now();
    driver.delete(&path).await?;
    step("delete", t, path.clone());
    match driver.stat(&path).await {
        Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
        other => {
            return Err(Failure::Driver(CallError::Host(format!(
                "after delete, stat gave {:?}",
                other.map(|_| "a file")
            ))));
        }
    }
    let s = driver.http_stats();
    println!(
        "http: {} requests over {} connection(s), {} denied",
        s.requests, s.connections, s.denied
    );
    println!("demo: ok");
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Conformance { full_size, only } = &cli.command {
        return conformance(&cli, *full_size, only.as_deref()).await;
    }
    if let Command::Bench {
        rounds,
        only,
        memory_mib,
        full_size,
    } = &cli.command
    {
        let failed = |e: anyhow::Error| Failure::Driver(CallError::Host(format!("{e:#}")));
        let wanted = |what: &str| only.as_deref().is_none_or(|o| o == what);
        if let Some(o) = only.as_deref()
            && !["memory", "host", "workloads"].contains(&o)
        {
            return Err(Failure::Usage(format!(
                "--only takes memory, host or workloads, not {o}"
            )));
        }
        // First, while the process holds nothing else: its peak RSS is the figure.
        if wanted("memory") {
            let (configured, _server) = target_params(&cli).await?;
            let driver = open_configured(&cli, &configured).await?;
            let chunk = s3_storage_driver::config::Config::from_params(
                &host_test::raw::core_params(&configured.params),
            )
            .map_err(|e| Failure::Usage(e.to_string()))?
            .chunk_size as usize;
            let table = host_test::bench::memory::run(
                &driver,
                "/bench-memory/blob",
                memory_mib << 20,
                chunk,
            )
            .await
            .map_err(failed)?;
            println!("{table}");
        }
        if wanted("host") {
            let (Configured { params, .. }, _server) = target_params(&cli).await?;
            let table = host_test::bench::host::run(&params, *rounds)
                .await
                .map_err(failed)?;
            println!("{table}");
        }
        if wanted("workloads") {
            let (configured, _server) = target_params(&cli).await?;
            let driver = open_configured(&cli, &configured).await?;
            let params = configured.params;
            let mut options = host_test::bench::workloads::Options {
                rounds: *rounds,
                ..Default::default()
            };
            if *full_size {
                options.sizes.push(1 << 30);
            }
            let table = host_test::bench::workloads::run(&driver, &params, &options)
                .await
                .map_err(failed)?;
            println!("{table}");
        }
        return Ok(());
    }
    let (driver, _server) = open(&cli).await?;
    match cli.command {
        Command::Put { path, file } => {
            // Streamed through the resumable writer: memory stays at a few parts.
            let (mut input, len): (Box<dyn Read>, u64) = match file {
                Some(f) if f.as_os_str() != "-" => {
                    let h = std::fs::File::open(&f)
                        .map_err(|e| Failure::Usage(format!("reading {}: {e}", f.display())))?;
                    let len = h.metadata().map(|m| m.len()).unwrap_or(0);
                    (Box::new(h), len)
                }
                _ => (Box::new(std::io::stdin()), 0),
            };
            let pb = bar(len);
            let mut writer = driver.writer(&path, false).await?;
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                let n = input
                    .read(&mut buf)
                    .map_err(|e| Failure::Usage(format!("reading the input: {e}")))?;
                if n == 0 {
                    break;
                }
                if let Err(e) = writer.write(&buf[..n]).await {
                    let _ = writer.cancel().await;
                    return Err(e.into());
                }
                total += n as u64;
                pb.inc(n as u64);
            }
            writer.commit().await?;
            writer.close().await?;
            pb.finish_and_clear();
            eprintln!("stored {total} bytes at {path}");
        }
        Command::Get { path, offset } => {
            let total = driver.stat(&path).await.map(|i| i.size).unwrap_or(0);
            let pb = bar(total.saturating_sub(offset.max(0) as u64));
            let mut reader = driver.reader(&path, offset).await?;
            let mut out = std::io::stdout().lock();
            loop {
                let chunk = reader.read(1 << 20).await?;
                if chunk.is_empty() {
                    break;
                }
                pb.inc(chunk.len() as u64);
                out.write_all(&chunk)
                    .map_err(|e| Failure::Usage(format!("writing standard output: {e}")))?;
            }
            pb.finish_and_clear();
        }
        Command::Stat { path } => {
            let i = driver.stat(&path).await?;
            println!("path:     {}", i.path);
            println!("size:     {}", i.size);
            println!("is-dir:   {}", i.is_dir);
            match i.mod_time {
                Some(t) => println!(
                    "mod-time: {}.{:09} (unix seconds)",
                    t.seconds, t.nanoseconds
                ),
                None => println!("mod-time: -"),
            }
        }
        Command::Ls { path } => {
            for child in driver.list(&path).await? {
                println!("{child}");
            }
        }
        Command::Mv { src, dst } => driver.move_(&src, &dst).await?,
        Command::Rm { path } => driver.delete(&path).await?,
        Command::Url {
            path,
            method,
            client_ip,
        } => {
            let req = RedirectRequest {
                method,
                remote_addr: client_ip,
                forwarded_for: None,
                real_ip: None,
            };
            match driver.redirect_url(&req, &path).await? {
                Some(url) => println!("{url}"),
                None => println!("(no redirect: the registry serves the content itself)"),
            }
        }
        Command::Walk { path } => {
            let mut walker = driver.walk(&path, None).await?;
            loop {
                let page = walker.next(1000).await?;
                if page.is_empty() {
                    break;
                }
                for e in page {
                    if e.is_dir {
                        println!("{}/", e.path);
                    } else {
                        println!("{}\t{}", e.path, e.size);
                    }
                }
            }
        }
        Command::Demo { mib } => demo(&driver, mib).await?,
        Command::Conformance { .. } | Command::Bench { .. } => {
            unreachable!("handled before opening a driver")
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Host logs (swaps, discarded instances, call failures) on stderr, off
    // unless asked for: S3_DRIVER_LOG=info, or debug for every call.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("S3_DRIVER_LOG"))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("s3-driver: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Driver(e)) => {
            eprintln!("s3-driver: {e}");
            ExitCode::from(1)
        }
    }
}
