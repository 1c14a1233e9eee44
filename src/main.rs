//! `listbackup`: the command line.

use anyhow::Context;
use clap::{Parser, Subcommand};
use listbackup::{config, dev, server::ApiListener, worker};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use storage::object_store::ObjectStore;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "listbackup",
    version,
    about = "Back up SaaS platform data into S3 storage you control"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the REST API.
    Serve,
    /// Run a worker that executes backup workflows and activities.
    Worker {
        /// Task queues to poll, comma separated: `listbackup-backup` (backups, syncs, webhook
        /// deliveries), `listbackup-export` (exports), `listbackup-maintenance` (verification).
        /// Default: all three.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "listbackup-backup,listbackup-export,listbackup-maintenance"
        )]
        queues: Vec<String>,
    },
    /// Run everything locally: Temporal dev server, embedded S3, SQLite, API and worker.
    Dev {
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        api_addr: SocketAddr,
        #[arg(long, default_value_t = 7233)]
        temporal_port: u16,
        #[arg(long, default_value_t = 8233)]
        ui_port: u16,
        /// Use the Temporal server at LISTBACKUP_TEMPORAL_ADDR instead of starting one.
        #[arg(long)]
        no_temporal: bool,
        /// Start the Stripe sandbox, create demo objects and start one backup.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Print the OpenAPI spec.
    Openapi,
    /// Run the platform sandbox (fake APIs) standalone.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:9900")]
        addr: SocketAddr,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Record counts, e.g. `stripe.customers=10000` (repeatable).
        #[arg(long)]
        records: Vec<String>,
    },
    /// Restore a snapshot as decrypted JSON Lines, one file per stream.
    Restore {
        #[arg(long)]
        snapshot: String,
        #[arg(long)]
        out: PathBuf,
        /// The dev data directory, used when LISTBACKUP_* settings are not given.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Print a new master key (an age identity) for LISTBACKUP_MASTER_KEY.
    Keygen,
    /// Re-seal every secret in the database under LISTBACKUP_MASTER_KEY, opening the old values
    /// with the keys in LISTBACKUP_MASTER_KEY_PREVIOUS.
    RotateMasterKey,
    /// Print performance figures beside their baselines (see docs/benchmarks.md). Build with
    /// `--release` for figures worth comparing.
    Bench {
        #[command(subcommand)]
        scenario: BenchScenario,
    },
}

#[derive(Subcommand)]
enum BenchScenario {
    /// Records in memory -> JSON Lines -> zstd -> age -> parts in the embedded S3 endpoint,
    /// against `zstd -3 -T2 | age` and plain S3 puts of the same bytes.
    Archive {
        /// MiB of JSON to archive.
        #[arg(long, default_value_t = 512)]
        mib: u64,
        /// Skip the baselines (used by `bench memory`).
        #[arg(long)]
        product_only: bool,
    },
    /// Single records looked up by id in a snapshot of `records` records.
    Lookup {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        #[arg(long, default_value_t = 200)]
        lookups: usize,
    },
    /// The REST API over a seeded database (a fresh Postgres database on
    /// `$LISTBACKUP_TEST_POSTGRES`'s server): `wrk` at full speed, then fixed rates.
    Api {
        #[arg(long, default_value_t = 10_000)]
        sources: u64,
        #[arg(long, default_value_t = 1_000_000)]
        jobs: u64,
        /// Requests per second, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "500,2000")]
        rates: Vec<u32>,
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Stripe customers read from the sandbox, which enforces `rate` requests a second: the
    /// time against N/(page*rate), and the 429s.
    Ratelimit {
        #[arg(long, default_value_t = 10_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        page: u32,
        #[arg(long, default_value_t = 25)]
        rate: u32,
    },
    /// A backup end to end per size (sandbox over HTTP -> a worker process -> S3, started
    /// through the API), against `restic backup --stdin`, `zstd | age` and plain puts of the
    /// same bytes. Needs Postgres (`$LISTBACKUP_TEST_POSTGRES`) and the `temporal` CLI.
    Pipeline {
        /// Sizes in MiB of JSON, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "512")]
        mib: Vec<u64>,
        /// Skip the baselines.
        #[arg(long)]
        product_only: bool,
    },
    /// `sources` sources (each its own connection, one stream of `records` customers) backed
    /// up at once on each count of worker processes.
    Orchestration {
        #[arg(long, default_value_t = 1_000)]
        sources: usize,
        /// Sources per account; the default, an account's job cap, keeps every job out of the
        /// account's queue.
        #[arg(long, default_value_t = 4)]
        per_account: usize,
        /// Worker process counts, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        workers: Vec<usize>,
        #[arg(long, default_value_t = 100)]
        records: u64,
    },
    /// The archive stage at each size in a process of its own, with its peak RSS.
    Memory {
        /// Sizes in MiB of JSON, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "200,2000,10000")]
        mib: Vec<u64>,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = listbackup::logging::init() {
        eprintln!("listbackup: {e}");
        std::process::exit(2);
    }
    if let Err(e) = run(cli.command).await {
        // One line, naming the problem; the chain of causes joined.
        let message: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("listbackup: {}", message.join(": "));
        std::process::exit(1);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            println!("{}", api::openapi_json());
            Ok(())
        }
        Command::Keygen => {
            println!(
                "{}",
                storage::keys::MasterKey::generate().to_secret_string()
            );
            Ok(())
        }
        Command::Migrate => {
            let url = config::database_url(None)?;
            entities::connect_and_migrate(&url)
                .await
                .context("migrating")?;
            println!("database is up to date");
            Ok(())
        }
        Command::RotateMasterKey => {
            let master = config::master_key(None)?;
            anyhow::ensure!(
                master.previous_keys() > 0,
                "LISTBACKUP_MASTER_KEY_PREVIOUS is not set: give the key(s) being rotated out"
            );
            let db = entities::connect_and_migrate(&config::database_url(None)?)
                .await
                .context("opening the database")?;
            listbackup::rotate::run(&db, &master).await
        }
        Command::Bench { scenario } => match scenario {
            BenchScenario::Archive { mib, product_only } => {
                listbackup::bench::archive(mib, product_only).await
            }
            BenchScenario::Memory { mib } => listbackup::bench::memory(&mib),
            BenchScenario::Pipeline { mib, product_only } => {
                listbackup::bench::pipeline(&mib, product_only).await
            }
            BenchScenario::Orchestration {
                sources,
                per_account,
                workers,
                records,
            } => listbackup::bench::orchestration(sources, per_account, &workers, records).await,
            BenchScenario::Api {
                sources,
                jobs,
                rates,
                seconds,
            } => listbackup::bench::api(sources, jobs, &rates, seconds).await,
            BenchScenario::Ratelimit {
                records,
                page,
                rate,
            } => listbackup::bench::ratelimit(records, page, rate).await,
            BenchScenario::Lookup { records, lookups } => {
                listbackup::bench::lookup(records, lookups).await
            }
        },
        Command::Serve => serve().await,
        Command::Worker { queues } => run_workers(queues).await,
        Command::Dev {
            data_dir,
            api_addr,
            temporal_port,
            ui_port,
            no_temporal,
            demo,
        } => {
            let project_root = std::env::current_dir()?;
            dev::run(dev::DevOptions {
                data_dir,
                api_addr,
                temporal_port,
                ui_port,
                no_temporal,
                demo,
                project_root,
            })
            .await
        }
        Command::Sandbox {
            addr,
            seed,
            records,
        } => {
            let mut cfg = sandbox::SandboxConfig::new(seed);
            for spec in &records {
                let (name, n) = sandbox::SandboxConfig::parse_records_arg(spec)?;
                cfg = cfg.with_records(&name, n)?;
            }
            let sb = sandbox::Sandbox::new(cfg)?;
            let running = sb
                .serve(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            println!(
                "sandbox listening on {} (Stripe key: {})",
                running.base_url(),
                sb.stripe().api_key()
            );
            dev::wait_for_shutdown_signal().await;
            running.shutdown().await;
            Ok(())
        }
        Command::Restore {
            snapshot,
            out,
            data_dir,
        } => restore(snapshot, out, data_dir).await,
    }
}

async fn serve() -> anyhow::Result<()> {
    let db = entities::connect_and_migrate(&config::database_url(None)?)
        .await
        .context("opening the database")?;
    let store = ObjectStore::new(&config::s3(None)?);
    let master = Arc::new(config::master_key(None)?);
    let auth = config::auth(&master)?;
    // Checked before anything is contacted (it is used once the listener is bound).
    config::dns_resolver()?;
    // The API deletes objects too (exports on request): on a versioned bucket, every version.
    store
        .prepare()
        .await
        .context("checking the bucket (versioning, Object Lock)")?;
    let temporal_settings = config::temporal(None)?;
    let client = temporal::connect_with_retry(&temporal_settings, Duration::from_secs(30)).await?;
    temporal::ensure_search_attributes(&client, &temporal_settings.namespace).await?;
    let addr = config::api_addr("127.0.0.1:8080".parse()?)?;
    let listener = ApiListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "API listening");
    let connections = config::connections(listener.local_addr()?, false)?;
    // Exports of accounts that hold their own key are built here, where the key sent with the
    // request stays in memory (see `worker::key_holder_queue`).
    let key_holder = api::KeyHolder::new(worker::key_holder_queue());
    let key_worker =
        worker::key_holder_context(db.clone(), store.clone(), master.clone(), &key_holder);
    let state = api::AppState {
        db,
        store,
        temporal: api::TemporalAccess {
            client: client.clone(),
            namespace: temporal_settings.namespace.clone(),
            ui_base: config::temporal_ui("http://127.0.0.1:8233"),
        },
        master,
        auth,
        connections,
        key_holder: Some(key_holder.clone()),
    };
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        dev::wait_for_shutdown_signal().await;
        stopper.cancel();
    });
    let keys = async {
        let result = worker::run(
            client,
            key_worker,
            &[],
            Some(&key_holder.queue),
            stop.clone(),
        )
        .await;
        // Without it, exports of such accounts could not run: stop rather than half-serve.
        stop.cancel();
        result
    };
    let (served, keys) = tokio::join!(listener.serve(state, stop.clone()), keys);
    served?;
    keys
}

async fn run_workers(queues: Vec<String>) -> anyhow::Result<()> {
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    if let Some(unknown) = queues.iter().find(|q| !worker::SERVED_QUEUES.contains(q)) {
        anyhow::bail!(
            "--queues: `{unknown}` is not a task queue of this version (known: {})",
            worker::SERVED_QUEUES.join(", ")
        );
    }
    let db = entities::connect(&config::database_url(None)?)
        .await
        .context("opening the database")?;
    let store = ObjectStore::new(&config::s3(None)?);
    let master = Arc::new(config::master_key(None)?);
    let temporal_settings = config::temporal(None)?;
    let extract = config::extract_settings()?;
    store
        .prepare()
        .await
        .context("checking the bucket (versioning, Object Lock)")?;
    let client = temporal::connect_with_retry(&temporal_settings, Duration::from_secs(30)).await?;
    // Runs upsert their status into a search attribute: a worker upgraded before the API
    // registers it too. Keys without operator rights (Temporal Cloud) leave that to `serve`.
    if let Err(e) = temporal::ensure_search_attributes(&client, &temporal_settings.namespace).await
    {
        tracing::warn!(error = %e, "could not register the search attributes");
    }
    let ctx = activities::WorkerContext {
        budgets: activities::RateBudgets::new(db.clone()),
        db,
        store,
        master,
        http: config::platform_http(false)?,
        extract,
        webhooks: config::webhook_policy(false)?,
        held: Default::default(),
    };
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        dev::wait_for_shutdown_signal().await;
        stopper.cancel();
    });
    worker::run(client, ctx, &queues, None, stop).await
}

async fn restore(snapshot: String, out: PathBuf, data_dir: PathBuf) -> anyhow::Result<()> {
    // Against a dev data dir, the settings default to it and its objects are served locally.
    let dev = data_dir.join("master.key").exists()
        && std::env::var_os("LISTBACKUP_S3_ENDPOINT").is_none();
    let db_default = dev.then(|| format!("sqlite://{}", data_dir.join("listbackup.db").display()));
    let db = entities::connect(&config::database_url(db_default)?)
        .await
        .context("opening the database")?;
    let master = config::master_key(dev.then(|| data_dir.join("master.key")).as_deref())?;
    let mut embedded = None;
    let s3 = if dev {
        let (server, cfg) = dev::start_embedded_s3(&data_dir).await?;
        embedded = Some(server);
        config::s3(Some(cfg))?
    } else {
        config::s3(None)?
    };
    let restored =
        listbackup::restore::restore(&db, &ObjectStore::new(&s3), &master, &snapshot, &out).await;
    if let Some(server) = embedded {
        server.shutdown().await;
    }
    for stream in restored? {
        println!("{:>10} records  {}", stream.records, stream.path.display());
    }
    Ok(())
}
