//! `s3-driver`: every storage-driver operation from the command line, through
//! the component in wasmtime; the reference suite (`conformance`) and the
//! benchmark (`bench`). Exit status: 0 success, 1 driver error, 2 usage or
//! configuration error. One file per subcommand family.

mod bench;
mod conformance;
mod demo;
mod ops;
mod serve;
mod target;
mod uploads;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use target::{Failure, open};

#[derive(Parser)]
#[command(
    name = "s3-driver",
    version,
    about = "Docker Distribution's S3 storage driver as a WebAssembly component"
)]
pub struct Cli {
    /// A Distribution config.yml; its `storage: s3:` block configures the driver.
    /// Without an endpoint and credentials the embedded S3 server is used.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Keep the embedded server's data in this directory (default: a temporary one).
    #[arg(long, global = true)]
    pub embedded_dir: Option<PathBuf>,
    /// Trust the CA certificates in this PEM file for HTTPS to the endpoint.
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Do not re-arm TCP_QUICKACK after reads (Linux): the delayed ACK then
    /// applies, as in most HTTP clients.
    #[arg(long, global = true)]
    pub no_quick_ack: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// In-progress multipart uploads below PATH (default `/`), and aborting
    /// those older than a cut; never touches keys outside the root directory.
    Uploads {
        #[arg(default_value = "/")]
        path: String,
        /// The cut, as a Go duration (`24h`, `90m`).
        #[arg(long, default_value = uploads::DEFAULT_AGE)]
        older_than: String,
        /// Abort the uploads older than the cut.
        #[arg(long)]
        abort: bool,
        /// With --abort: say what would be aborted, abort nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --abort: allow a cut under one hour.
        #[arg(long)]
        force: bool,
    },
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
        /// Times the workloads run, the clients taking turns; each row is
        /// the median trial.
        #[arg(long, default_value_t = 3)]
        trials: usize,
        /// Only `memory`, `host`, `workloads`, or `registry` (this registry
        /// against docker-registry on the same store; only run when asked).
        #[arg(long)]
        only: Option<String>,
        /// Size of the memory check's object, in MiB.
        #[arg(long, default_value_t = 1024)]
        memory_mib: usize,
        /// Add the 1 GiB PutGet and Stream sizes.
        #[arg(long)]
        full_size: bool,
        /// Only the workloads whose name contains this (`Stat`, `PutGet`...).
        #[arg(long)]
        rows: Option<String>,
        /// Only these clients: component, object_store, raw (comma-separated).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<String>,
    },
    /// Serve an OCI Distribution registry on the store (Distribution's
    /// layout; `--config` also gives http.addr, storage.delete,
    /// storage.redirect and auth.htpasswd).
    Serve {
        /// Listen here instead of http.addr (`127.0.0.1:5000`, `:0`).
        #[arg(long)]
        addr: Option<String>,
        /// Run the component in this file and hot-swap it whenever the file
        /// changes (write a new file and rename it over this one).
        #[arg(long)]
        watch: Option<PathBuf>,
    },
    /// Store, stat, list, read back (SHA-256 checked) and delete a blob.
    Demo {
        /// Blob size in MiB.
        #[arg(long, default_value_t = 4)]
        mib: usize,
    },
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Conformance { full_size, only } => {
            return conformance::conformance(&cli, *full_size, only.as_deref()).await;
        }
        Command::Bench {
            rounds,
            trials,
            only,
            memory_mib,
            full_size,
            rows,
            clients,
        } => {
            let choice = bench::Choice {
                rounds: *rounds,
                trials: *trials,
                only: only.clone(),
                memory_mib: *memory_mib,
                full_size: *full_size,
                rows: rows.clone(),
                clients: clients.clone(),
            };
            return bench::command(&cli, &choice).await;
        }
        Command::Uploads {
            path,
            older_than,
            abort,
            dry_run,
            force,
        } => {
            let u = uploads::Uploads {
                path: path.clone(),
                older_than: older_than.clone(),
                abort: *abort,
                dry_run: *dry_run,
                force: *force,
            };
            // The cut is checked before anything starts.
            let cut = u.cut()?;
            let (driver, _server) = open(&cli).await?;
            return uploads::uploads(&driver, &u, cut).await;
        }
        Command::Serve { addr, watch } => {
            let s = serve::Serve {
                addr: addr.clone(),
                watch: watch.clone(),
            };
            return serve::serve(&cli, &s).await;
        }
        _ => {}
    }
    let (driver, _server) = open(&cli).await?;
    match cli.command {
        Command::Put { path, file } => ops::put(&driver, path, file).await?,
        Command::Get { path, offset } => ops::get(&driver, path, offset).await?,
        Command::Stat { path } => ops::stat(&driver, path).await?,
        Command::Ls { path } => ops::ls(&driver, path).await?,
        Command::Mv { src, dst } => driver.move_(&src, &dst).await?,
        Command::Rm { path } => driver.delete(&path).await?,
        Command::Url {
            path,
            method,
            client_ip,
        } => ops::url(&driver, path, method, client_ip).await?,
        Command::Walk { path } => ops::walk(&driver, path).await?,

        Command::Demo { mib } => demo::demo(&driver, mib).await?,
        Command::Conformance { .. }
        | Command::Bench { .. }
        | Command::Serve { .. }
        | Command::Uploads { .. } => {
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
