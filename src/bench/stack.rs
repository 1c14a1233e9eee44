//! The whole product started for a benchmark, as a deployment runs it: the Temporal dev server
//! (state in memory), the embedded S3 endpoint, a fresh Postgres database, the REST API in this
//! process, and the platform sandbox and `listbackup worker`s as processes of their own, so that
//! each one's CPU time and peak memory are its own.

use crate::{config, server::ApiListener};
use anyhow::Context;
use entities::{JobStatus, Role, job, repo};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use storage::{
    embedded::EmbeddedS3,
    keys::{AccountKey, MasterKey},
    object_store::{ObjectStore, S3Config},
};
use temporal::dev_server::{DevServerOptions, EphemeralServer};
use tokio_util::sync::CancellationToken;

const BUCKET: &str = "listbackup";
const S3_KEY_ID: &str = "bench";
const S3_SECRET: &str = "bench-secret-key";
/// The key the sandbox's Stripe fake accepts by default.
const STRIPE_KEY: &str = "sk_test_sandbox";

/// A process's CPU time and peak resident memory, read from `/proc` while it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcUsage {
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
}

impl ProcUsage {
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The fields after the command name (which may hold spaces) in parentheses: utime and
        // stime are the 12th and 13th of them, in clock ticks.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // SAFETY: sysconf only reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let cpu_seconds = match (tick(11), tick(12)) {
            (Some(user), Some(system)) => (user + system) / per_second,
            _ => anyhow::bail!("/proc/{pid}/stat has no CPU times"),
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let peak_rss_mib = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0);
        Ok(Self {
            cpu_seconds,
            peak_rss_mib,
        })
    }
}

/// A child process of the bench, its output in a log file; killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(mut command: Command, log: PathBuf) -> anyhow::Result<Self> {
        let file = std::fs::File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting a process of the bench")?;
        Ok(Self { child, log })
    }

    /// Its usage so far, then killed: the bench has no more use for it.
    fn stop(mut self) -> anyhow::Result<ProcUsage> {
        let usage = ProcUsage::of(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        usage
    }

    /// The end of its log, for an error message.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The platform sandbox in a process of its own (`listbackup sandbox`).
pub struct SandboxProcess {
    process: Process,
    pub base_url: String,
}

impl SandboxProcess {
    /// Serves `records` (`("stripe.customers", n)`, …) on a free loopback port, once it answers.
    pub async fn start(dir: &std::path::Path, records: &[(&str, u64)]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["sandbox", "--addr", &format!("127.0.0.1:{port}")]);
        for (stream, n) in records {
            command.args(["--records", &format!("{stream}={n}")]);
        }
        command.env("LISTBACKUP_LOG", "warn");
        let mut process = Process::spawn(command, dir.join(format!("sandbox-{port}.log")))?;
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = process.child.try_wait() {
                anyhow::bail!("the sandbox exited ({status}):\n{}", process.log_tail());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the sandbox did not listen within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { process, base_url })
    }

    pub fn stop(self) -> anyhow::Result<ProcUsage> {
        self.process.stop()
    }
}

/// An account of the bench.
pub struct BenchAccount {
    pub id: String,
    /// Its age recipient: what its parts are encrypted to.
    pub recipient: String,
    api_key: String,
}

pub struct BenchStack {
    pub dir: tempfile::TempDir,
    temporal: EphemeralServer,
    s3: EmbeddedS3,
    pub s3_config: S3Config,
    pub store: ObjectStore,
    db_name: String,
    db_url: String,
    pub db: DatabaseConnection,
    pub master: Arc<MasterKey>,
    pub api_base: String,
    stop: CancellationToken,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    user_id: String,
    /// The accounts, oldest first: the first is made at the start.
    pub accounts: Vec<BenchAccount>,
    /// Each source's account, by index into `accounts`.
    source_accounts: HashMap<String, usize>,
    workers: Vec<Process>,
}

impl BenchStack {
    /// Starts everything but the sandbox and the workers; one account with an owner's API key.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let exe = temporal::dev_server::find_exe(&std::env::current_dir()?)
            .context("the `temporal` CLI was not found: run ./scripts/setup (or set LISTBACKUP_TEMPORAL_BIN)")?;
        let temporal = temporal::dev_server::start(&DevServerOptions {
            exe,
            port: None,
            ui_port: None,
            db_file: None,
        })
        .await
        .context("starting the Temporal dev server")?;
        let settings = temporal::TemporalSettings::local(temporal.target.clone());
        let client = temporal::connect_with_retry(&settings, Duration::from_secs(30)).await?;
        temporal::ensure_search_attributes(&client, &settings.namespace).await?;

        let s3 = EmbeddedS3::start(
            &dir.path().join("objects"),
            "127.0.0.1:0".parse()?,
            S3_KEY_ID,
            S3_SECRET,
        )
        .await?;
        let s3_config = S3Config::local(s3.endpoint(), BUCKET, S3_KEY_ID, S3_SECRET);
        let store = ObjectStore::new(&s3_config);
        store.ensure_bucket().await?;
        store.prepare().await?;

        let (db_name, db_url) = entities::testing::create_database("lbbench")
            .await
            .context("creating a database on $LISTBACKUP_TEST_POSTGRES's server")?;
        let db = entities::connect_and_migrate(&db_url).await?;
        let master = Arc::new(MasterKey::generate());

        let listener = ApiListener::bind("127.0.0.1:0".parse()?).await?;
        let api_base = format!("http://{}", listener.local_addr()?);
        let state = api::AppState {
            db: db.clone(),
            store: store.clone(),
            temporal: api::TemporalAccess {
                client,
                namespace: settings.namespace.clone(),
                ui_base: "http://127.0.0.1:8233".into(),
            },
            auth: api::AuthSettings::from_master_key(&master)
                .with_api_rate_limit(api::ApiRateLimit::new(1_000_000, 1_000_000)),
            master: master.clone(),
            // The sandbox listens on loopback.
            connections: config::connections(listener.local_addr()?, true)?,
            key_holder: None,
        };
        let stop = CancellationToken::new();
        let api = tokio::spawn(listener.serve(state, stop.clone()));

        let user = repo::create_user(&db, "bench@example.com", "Bench").await?;
        let mut stack = Self {
            dir,
            temporal,
            s3,
            s3_config,
            store,
            db_name,
            db_url,
            db,
            master,
            api_base,
            stop,
            api,
            user_id: user.id,
            accounts: Vec::new(),
            source_accounts: HashMap::new(),
            workers: Vec::new(),
        };
        stack.add_account().await?;
        Ok(stack)
    }

    /// A new account of the bench's user, with an owner's API key; returns its index.
    pub async fn add_account(&mut self) -> anyhow::Result<usize> {
        let key = AccountKey::generate();
        let n = self.accounts.len();
        let account = repo::create_account(
            &self.db,
            &format!("Bench {n}"),
            None,
            &key.recipient(),
            Some(key.seal_with(&self.master)?),
        )
        .await?;
        repo::add_membership(&self.db, &self.user_id, &account.id, Role::Owner).await?;
        let (_, api_key) = repo::create_api_key(
            &self.db,
            &account.id,
            Some(&self.user_id),
            "bench",
            Role::Owner,
        )
        .await?;
        self.accounts.push(BenchAccount {
            id: account.id,
            recipient: key.recipient(),
            api_key,
        });
        Ok(n)
    }

    /// In account `account` (an index into `accounts`): a Stripe connection of its own to
    /// `sandbox_url` (so its rate budget is its own) paced at
    /// `requests_per_second` (1..=1000; Stripe's own limit when `None`), and a source of
    /// `streams` on it; returns the source's id.
    pub async fn stripe_source(
        &mut self,
        account: usize,
        sandbox_url: &str,
        requests_per_second: Option<u32>,
        streams: &[&str],
    ) -> anyhow::Result<String> {
        let sealed = self
            .master
            .seal_string(&serde_json::json!({ "api_key": STRIPE_KEY }).to_string())?;
        // Names are unique within an account.
        let name = format!("Stripe {}", entities::new_id());
        let connection = repo::create_connection(
            &self.db,
            &self.accounts[account].id,
            "stripe",
            &name,
            sealed,
            serde_json::json!({
                "base_url": sandbox_url,
                "requests_per_second": requests_per_second,
            }),
        )
        .await?;
        let streams: Vec<String> = streams.iter().map(|s| (*s).to_owned()).collect();
        let source = repo::create_source(&self.db, &connection, &name, &streams).await?;
        self.source_accounts.insert(source.id.clone(), account);
        Ok(source.id)
    }

    /// Starts `n` `listbackup worker` processes serving the backup queue.
    pub fn spawn_workers(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            let mut command = Command::new(std::env::current_exe()?);
            command
                .args(["worker", "--queues", "listbackup-backup"])
                .envs([
                    ("LISTBACKUP_DATABASE_URL", self.db_url.clone()),
                    ("LISTBACKUP_TEMPORAL_ADDR", self.temporal.target.clone()),
                    (
                        "LISTBACKUP_S3_ENDPOINT",
                        self.s3_config.endpoint.clone().unwrap_or_default(),
                    ),
                    ("LISTBACKUP_S3_BUCKET", BUCKET.into()),
                    ("LISTBACKUP_S3_ACCESS_KEY_ID", S3_KEY_ID.into()),
                    ("LISTBACKUP_S3_SECRET_ACCESS_KEY", S3_SECRET.into()),
                    ("LISTBACKUP_MASTER_KEY", self.master.to_secret_string()),
                    // The sandbox listens on loopback.
                    ("LISTBACKUP_ALLOW_PRIVATE_NETWORKS", "true".into()),
                    ("LISTBACKUP_LOG", "warn".into()),
                ]);
            let log = self
                .dir
                .path()
                .join(format!("worker-{}.log", self.workers.len()));
            self.workers.push(Process::spawn(command, log)?);
        }
        Ok(())
    }

    /// Each worker's usage so far.
    pub fn worker_usage(&self) -> anyhow::Result<Vec<ProcUsage>> {
        self.workers
            .iter()
            .map(|w| ProcUsage::of(w.child.id()))
            .collect()
    }

    /// Each worker's usage, then the workers stopped.
    pub fn stop_workers(&mut self) -> anyhow::Result<Vec<ProcUsage>> {
        self.workers.drain(..).map(Process::stop).collect()
    }

    /// `POST /v1/sources/{id}/backups` with its account's key, as an integration starts one;
    /// returns the job's id.
    pub async fn start_backup(&self, source_id: &str) -> anyhow::Result<String> {
        let account = self
            .source_accounts
            .get(source_id)
            .context("a source the bench made")?;
        crate::demo::start_backup(&self.api_base, &self.accounts[*account].api_key, source_id).await
    }

    /// Waits until every job of `ids` has finished (polling the database); fails on a job that
    /// did not succeed, or after `patience`. Returns the jobs.
    pub async fn wait_for_jobs(
        &mut self,
        ids: &[String],
        patience: Duration,
    ) -> anyhow::Result<Vec<job::Model>> {
        let deadline = Instant::now() + patience;
        loop {
            let mut done = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(500) {
                done.extend(
                    job::Entity::find()
                        .filter(job::Column::Id.is_in(chunk.iter().cloned()))
                        .filter(job::Column::FinishedAt.is_not_null())
                        .all(&self.db)
                        .await?,
                );
            }
            if let Some(bad) = done.iter().find(|j| j.status != JobStatus::Succeeded) {
                anyhow::bail!(
                    "job {} ended {:?}: {}\nworker log:\n{}",
                    bad.id,
                    bad.status,
                    bad.error.as_deref().unwrap_or(""),
                    self.workers_log_tail()
                );
            }
            if done.len() == ids.len() {
                return Ok(done);
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} of {} jobs finished within {patience:?}\nworker log:\n{}",
                    done.len(),
                    ids.len(),
                    self.workers_log_tail()
                );
            }
            for worker in &mut self.workers {
                if let Ok(Some(status)) = worker.child.try_wait() {
                    anyhow::bail!("a worker exited ({status}):\n{}", worker.log_tail());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn workers_log_tail(&self) -> String {
        self.workers
            .iter()
            .map(Process::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The Temporal dev server's CPU time and peak memory so far.
    pub fn temporal_usage(&self) -> Option<ProcUsage> {
        self.temporal
            .child_process_id()
            .and_then(|pid| ProcUsage::of(pid).ok())
    }

    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.workers.clear();
        self.stop.cancel();
        let _ = self.api.await;
        self.s3.shutdown().await;
        let _ = self.temporal.shutdown().await;
        entities::testing::drop_database(self.db, &self.db_name).await?;
        Ok(())
    }
}
