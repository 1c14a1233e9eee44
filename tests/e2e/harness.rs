//! Starts the components a test needs and tears them down again.

use anyhow::Context;
use entities::{Role, repo};
use listbackup::server::ApiListener;
use sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use storage::{
    embedded::{EmbeddedS3, PutLog},
    keys::{AccountKey, MasterKey},
    manifest::Manifest,
    moto::MotoServer,
    object_store::{ObjectStore, S3Config},
    part::{open_part, sha256_hex},
};
use temporal::dev_server::{DevServerOptions, EphemeralServer};
use tokio_util::sync::CancellationToken;

/// The bucket `listbackup dev` uses: the embedded endpoint caps key length by the bucket name's
/// (see `storage::embedded`), so the tests store under the same limit as a developer does
/// (the longest part keys, of `balance_transactions`, are 155 bytes of at most 156).
pub const BUCKET: &str = "listbackup";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    Sqlite,
}

/// A fresh database of the given kind (its Postgres name, if any, and URL).
pub async fn fresh_database(
    kind: Db,
    dir: &std::path::Path,
) -> anyhow::Result<(Option<String>, String)> {
    Ok(match kind {
        Db::Sqlite => (
            None,
            format!("sqlite://{}?mode=rwc", dir.join("listbackup.db").display()),
        ),
        Db::Postgres => {
            let (name, url) = entities::testing::create_database("lbtest")
                .await
                .context("creating a test database on Postgres")?;
            (Some(name), url)
        }
    })
}

/// Where a stack keeps its objects.
pub enum Store {
    /// The embedded endpoint (what `listbackup dev` runs), recording every PutObject.
    Embedded,
    /// `moto_server`, a third-party S3 implementation with versioning and Object Lock, with
    /// the bucket created Object Lock enabled.
    MotoWithObjectLock,
}

/// The `temporal` CLI the tests start.
pub fn temporal_exe() -> PathBuf {
    temporal::dev_server::find_exe(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("the `temporal` CLI is missing: run ./scripts/setup")
}

pub struct Stack {
    pub tmp: tempfile::TempDir,
    pub temporal: EphemeralServer,
    pub client: temporal::Client,
    pub db_url: String,
    pg_name: Option<String>,
    pub db: DatabaseConnection,
    pub s3: Option<EmbeddedS3>,
    pub moto: Option<MotoServer>,
    pub puts: PutLog,
    pub s3_config: S3Config,
    pub store: ObjectStore,
    pub master: Arc<MasterKey>,
    pub sandbox: Sandbox,
    pub sandbox_server: Option<RunningSandbox>,
    pub api_base: String,
    pub stop: CancellationToken,
    /// The in-process API's key holder; its queue is served once
    /// [`serve_key_holder`](Self::serve_key_holder) is called.
    pub key_holder: api::KeyHolder,
    workers: Vec<WorkerProcess>,
    temporal_options: DevServerOptions,
}

impl Stack {
    pub async fn start(db_kind: Db, sandbox_config: SandboxConfig) -> anyhow::Result<Self> {
        Self::start_with(db_kind, sandbox_config, false, Store::Embedded).await
    }

    /// Like [`start`](Self::start), with the objects kept where `store` says.
    pub async fn start_on(
        db_kind: Db,
        sandbox_config: SandboxConfig,
        store: Store,
    ) -> anyhow::Result<Self> {
        Self::start_with(db_kind, sandbox_config, false, store).await
    }

    /// Like [`start`](Self::start), with Temporal's state in a file and a fixed port, so that
    /// [`restart_temporal`](Self::restart_temporal) brings the same server back.
    pub async fn start_durable(db_kind: Db, sandbox_config: SandboxConfig) -> anyhow::Result<Self> {
        Self::start_with(db_kind, sandbox_config, true, Store::Embedded).await
    }

    async fn start_with(
        db_kind: Db,
        sandbox_config: SandboxConfig,
        durable: bool,
        store_kind: Store,
    ) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir()?;
        let port = match durable {
            true => Some(
                std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port(),
            ),
            false => None,
        };
        let temporal_options = DevServerOptions {
            exe: temporal_exe(),
            port,
            ui_port: None,
            db_file: durable.then(|| tmp.path().join("temporal.db")),
        };
        let temporal = temporal::dev_server::start(&temporal_options).await?;
        let settings = temporal::TemporalSettings::local(temporal.target.clone());
        let client = temporal::connect_with_retry(&settings, Duration::from_secs(30)).await?;
        temporal::ensure_search_attributes(&client, "default").await?;

        let (pg_name, db_url) = fresh_database(db_kind, tmp.path()).await?;
        let db = entities::connect_and_migrate(&db_url).await?;

        let (s3, moto, puts, s3_config) = match store_kind {
            Store::Embedded => {
                let (s3, puts) = EmbeddedS3::start_recording(
                    &tmp.path().join("objects"),
                    "127.0.0.1:0".parse()?,
                    "test-key",
                    "test-secret-key",
                )
                .await?;
                let cfg = S3Config::local(s3.endpoint(), BUCKET, "test-key", "test-secret-key");
                (Some(s3), None, puts, cfg)
            }
            Store::MotoWithObjectLock => {
                let moto = MotoServer::start().await.context("starting moto_server")?;
                let cfg = S3Config::local(moto.endpoint(), BUCKET, "test-key", "test-secret-key");
                ObjectStore::new(&cfg)
                    .client()
                    .create_bucket()
                    .bucket(BUCKET)
                    .object_lock_enabled_for_bucket(true)
                    .send()
                    .await
                    .context("creating an Object Lock bucket on moto")?;
                (None, Some(moto), PutLog::default(), cfg)
            }
        };
        let store = ObjectStore::new(&s3_config);
        store.ensure_bucket().await?;
        store.prepare().await?;

        let sandbox = Sandbox::new(sandbox_config)?;
        let sandbox_server = sandbox.serve("127.0.0.1:0".parse()?).await?;

        let master = Arc::new(MasterKey::generate());
        let stop = CancellationToken::new();
        let listener = ApiListener::bind("127.0.0.1:0".parse()?).await?;
        let api_base = format!("http://{}", listener.local_addr()?);
        let key_holder = api::KeyHolder::new(listbackup::worker::key_holder_queue());
        let state = api::AppState {
            db: db.clone(),
            store: store.clone(),
            temporal: api::TemporalAccess {
                client: client.clone(),
                namespace: "default".into(),
                ui_base: "http://127.0.0.1:8233".into(),
            },
            auth: api::AuthSettings::from_master_key(&master),
            master: master.clone(),
            connections: api::ConnectionSettings::new(&api_base)
                .with_http(connectors::http::HttpClient::default().allowing_private_networks(true)),
            key_holder: Some(key_holder.clone()),
        };
        tokio::spawn(listener.serve(state, stop.clone()));
        Ok(Self {
            tmp,
            temporal,
            client: client.clone(),
            db_url,
            pg_name,
            db,
            s3,
            moto,
            puts,
            s3_config,
            store,
            master,
            sandbox,
            sandbox_server: Some(sandbox_server),
            api_base,
            stop,
            key_holder,
            workers: Vec::new(),
            temporal_options,
        })
    }

    /// SIGKILLs the Temporal dev server, waits `down`, and starts it again on the same port and
    /// state file (see [`start_durable`](Self::start_durable)).
    pub async fn restart_temporal(&mut self, down: Duration) -> anyhow::Result<()> {
        self.temporal.shutdown().await?;
        tokio::time::sleep(down).await;
        self.temporal = temporal::dev_server::start(&self.temporal_options).await?;
        Ok(())
    }

    pub fn sandbox_url(&self) -> String {
        self.sandbox_server
            .as_ref()
            .expect("sandbox running")
            .base_url()
    }

    /// The environment a `listbackup` child process needs to join this stack.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LISTBACKUP_DATABASE_URL", self.db_url.clone()),
            ("LISTBACKUP_TEMPORAL_ADDR", self.temporal.target.clone()),
            (
                "LISTBACKUP_S3_ENDPOINT",
                self.s3_config.endpoint.clone().unwrap_or_default(),
            ),
            ("LISTBACKUP_S3_BUCKET", BUCKET.into()),
            ("LISTBACKUP_S3_ACCESS_KEY_ID", "test-key".into()),
            ("LISTBACKUP_S3_SECRET_ACCESS_KEY", "test-secret-key".into()),
            ("LISTBACKUP_MASTER_KEY", self.master.to_secret_string()),
            // Small parts, so a 10,000-record stream spans several and resuming is exercised.
            ("LISTBACKUP_PART_SIZE_MB", "1".into()),
            ("LISTBACKUP_EXTRACT_CHUNK_SECS", "5".into()),
            ("LISTBACKUP_LOG_FORMAT", "json".into()),
            // The sandbox listens on loopback.
            ("LISTBACKUP_ALLOW_PRIVATE_NETWORKS", "true".into()),
            ("LISTBACKUP_LOG", "info,temporalio_sdk_core=warn".into()),
        ]
    }

    /// Serves the in-process API's key-holder queue, as `listbackup serve` does, on a thread of
    /// its own (the SDK's worker must stay on the task that runs it), until the stack stops.
    pub fn serve_key_holder(&self) {
        let (client, db_url, s3, master, holder, stop) = (
            self.client.clone(),
            self.db_url.clone(),
            self.s3_config.clone(),
            self.master.clone(),
            self.key_holder.clone(),
            self.stop.clone(),
        );
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let db = entities::connect(&db_url).await.expect("database");
                let store = ObjectStore::new(&s3);
                store.prepare().await.expect("the bucket");
                let ctx = listbackup::worker::key_holder_context(db, store, master, &holder);
                if let Err(e) =
                    listbackup::worker::run(client, ctx, &[], Some(&holder.queue), stop).await
                {
                    eprintln!("key holder stopped: {e:#}");
                }
            });
        });
    }

    /// Starts `listbackup worker` as a child process; its log goes to `worker-N.log`.
    pub fn spawn_worker(&mut self) -> anyhow::Result<u32> {
        self.spawn_worker_with(&[])
    }

    /// Like [`Stack::spawn_worker`], with settings added to (or overriding) [`Stack::child_env`].
    pub fn spawn_worker_with(&mut self, env: &[(&str, &str)]) -> anyhow::Result<u32> {
        let n = self.workers.len();
        let log_path = self.tmp.path().join(format!("worker-{n}.log"));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(env!("CARGO_BIN_EXE_listbackup"))
            .arg("worker")
            .envs(self.child_env())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        self.workers.push(WorkerProcess { child, log_path });
        Ok(pid)
    }

    /// SIGKILLs worker `n`: no shutdown, no cleanup, as a crashed machine would.
    pub fn kill_worker(&mut self, n: usize) {
        let w = &mut self.workers[n];
        let _ = w.child.kill();
        let _ = w.child.wait();
    }

    /// Whether worker `n` is still running.
    pub fn worker_alive(&mut self, n: usize) -> bool {
        matches!(self.workers[n].child.try_wait(), Ok(None))
    }

    /// Stops the embedded S3 endpoint, as an outage of the store would.
    pub async fn stop_s3(&mut self) {
        if let Some(s3) = self.s3.take() {
            s3.shutdown().await;
        }
    }

    /// Serves the stopped endpoint's folder again on its address, logging to the same `puts`.
    pub async fn restart_s3(&mut self) -> anyhow::Result<()> {
        let endpoint = self.s3_config.endpoint.as_deref().context("an endpoint")?;
        let addr = endpoint.trim_start_matches("http://").parse()?;
        let objects = self.tmp.path().join("objects");
        let s3 = EmbeddedS3::start_recording_into(
            &objects,
            addr,
            "test-key",
            "test-secret-key",
            &self.puts,
        );
        self.s3 = Some(s3.await?);
        Ok(())
    }

    /// Ends every server connection to the test database (Postgres only), as a database
    /// restart or failover would; returns how many there were.
    pub async fn terminate_db_connections(&self) -> anyhow::Result<usize> {
        use sea_orm::{ConnectionTrait, Statement};
        let name = self.pg_name.as_deref().context("a Postgres stack")?;
        let admin = entities::connect(&entities::testing::admin_url()).await?;
        let ended = admin
            .query_all_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                [name.into()],
            ))
            .await?;
        admin.close().await?;
        Ok(ended.len())
    }

    pub fn worker_log(&self, n: usize) -> String {
        std::fs::read_to_string(&self.workers[n].log_path).unwrap_or_default()
    }

    /// Creates an account, an owner API key, a Stripe connection to the sandbox and a source.
    pub async fn provision(&self) -> anyhow::Result<Tenant> {
        let key = AccountKey::generate();
        let acct = repo::create_account(
            &self.db,
            "Test Co",
            None,
            &key.recipient(),
            Some(key.seal_with(&self.master)?),
        )
        .await?;
        let (_, api_key) =
            repo::create_api_key(&self.db, &acct.id, None, "test", Role::Owner).await?;
        let creds = self
            .master
            .seal_string(&json!({"api_key": self.sandbox.stripe().api_key()}).to_string())?;
        let conn = repo::create_connection(
            &self.db,
            &acct.id,
            "stripe",
            "Stripe",
            creds,
            json!({"base_url": self.sandbox_url()}),
        )
        .await?;
        let source = repo::create_source(&self.db, &conn, "all of Stripe", &[]).await?;
        Ok(Tenant {
            account_id: acct.id,
            api_key,
            source_id: source.id,
            key,
        })
    }

    /// Adds a connection and a source of `platform` to the tenant's account.
    pub async fn add_source(
        &self,
        tenant: &Tenant,
        platform: &str,
        credentials: Value,
        config: Value,
    ) -> anyhow::Result<String> {
        let sealed = self.master.seal_string(&credentials.to_string())?;
        let conn = repo::create_connection(
            &self.db,
            &tenant.account_id,
            platform,
            platform,
            sealed,
            config,
        )
        .await?;
        Ok(
            repo::create_source(&self.db, &conn, &format!("all of {platform}"), &[])
                .await?
                .id,
        )
    }

    pub async fn shutdown(mut self) {
        for w in &mut self.workers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        self.stop.cancel();
        if let Some(s) = self.sandbox_server.take() {
            s.shutdown().await;
        }
        if let Some(s) = self.s3.take() {
            s.shutdown().await;
        }
        drop(self.moto.take());
        let _ = self.temporal.shutdown().await;
        if let Some(name) = self.pg_name.take() {
            let _ = entities::testing::drop_database(self.db.clone(), &name).await;
        }
    }
}

struct WorkerProcess {
    child: Child,
    log_path: PathBuf,
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Tenant {
    pub account_id: String,
    pub api_key: String,
    pub source_id: String,
    pub key: AccountKey,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Starts a backup through the API; returns the job id.
pub async fn start_backup(stack: &Stack, tenant: &Tenant) -> anyhow::Result<String> {
    start_backup_of(stack, tenant, &tenant.source_id).await
}

/// Starts a backup of another source of the tenant; returns the job id.
pub async fn start_backup_of(
    stack: &Stack,
    tenant: &Tenant,
    source_id: &str,
) -> anyhow::Result<String> {
    start_job_of(stack, tenant, source_id, "backups").await
}

/// Starts a sync (an incremental backup) of a source of the tenant; returns the job id.
pub async fn start_sync_of(
    stack: &Stack,
    tenant: &Tenant,
    source_id: &str,
) -> anyhow::Result<String> {
    start_job_of(stack, tenant, source_id, "syncs").await
}

/// `POST /v1/sources/{source_id}/{kind}` (`backups` or `syncs`); returns the job id.
async fn start_job_of(
    stack: &Stack,
    tenant: &Tenant,
    source_id: &str,
    kind: &str,
) -> anyhow::Result<String> {
    let r = http()
        .post(format!("{}/v1/sources/{source_id}/{kind}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .json(&json!({}))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    anyhow::ensure!(status == 202, "starting a job answered {status}: {body}");
    Ok(body["job_id"].as_str().context("job_id")?.to_owned())
}

pub async fn get_job(stack: &Stack, tenant: &Tenant, job_id: &str) -> anyhow::Result<Value> {
    let r = http()
        .get(format!("{}/v1/jobs/{job_id}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "get job answered {}", r.status());
    Ok(r.json().await?)
}

/// Polls the job until it is final, or fails after `patience`.
pub async fn wait_for_job(
    stack: &Stack,
    tenant: &Tenant,
    job_id: &str,
    patience: Duration,
) -> anyhow::Result<Value> {
    wait_for_status(
        stack,
        tenant,
        job_id,
        &["succeeded", "failed", "cancelled"],
        patience,
    )
    .await
}

/// Polls the job until its status is one of `statuses`, or fails after `patience`.
pub async fn wait_for_status(
    stack: &Stack,
    tenant: &Tenant,
    job_id: &str,
    statuses: &[&str],
    patience: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let job = get_job(stack, tenant, job_id).await?;
        let status = job["status"].as_str().unwrap_or_default();
        if statuses.contains(&status) {
            return Ok(job);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "job {job_id} still {status} after {patience:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for the job and asserts it succeeded, showing worker `worker`'s log if not.
pub async fn expect_success(
    stack: &Stack,
    tenant: &Tenant,
    job_id: &str,
    patience: Duration,
    worker: usize,
) -> Value {
    let job = match wait_for_job(stack, tenant, job_id, patience).await {
        Ok(job) => job,
        Err(err) => panic!(
            "job finishes: {err:#}\nworker {worker} log:\n{}",
            stack.worker_log(worker)
        ),
    };
    assert_eq!(
        job["status"],
        "succeeded",
        "job: {job}\nworker {worker} log:\n{}",
        stack.worker_log(worker)
    );
    job
}

/// With `LISTBACKUP_RECORD_HISTORY=1`, writes the history of run `workflow_id` as the replay
/// fixture `name` of the workflows crate (`workflows/tests/fixtures`).
pub async fn record_replay_fixture(stack: &Stack, workflow_id: &str, name: &str) {
    if std::env::var_os("LISTBACKUP_RECORD_HISTORY").is_none() {
        return;
    }
    let history = temporal::backup_history_json(&stack.client, workflow_id)
        .await
        .expect("history");
    save_replay_fixture(name, &history);
}

/// Like [`record_replay_fixture`], for a history the test has already read.
pub fn save_replay_fixture(name: &str, history: &[u8]) {
    if std::env::var_os("LISTBACKUP_RECORD_HISTORY").is_none() {
        return;
    }
    let path = format!(
        "{}/workflows/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(path, history).expect("write the fixture");
}

/// Reads a snapshot's manifest and every part back: records per stream, in stored order.
/// Checks each part's sha256 against the manifest on the way.
pub async fn read_snapshot_of(
    stack: &Stack,
    tenant: &Tenant,
    source_id: &str,
    snapshot_id: &str,
) -> anyhow::Result<(Manifest, BTreeMap<String, Vec<Value>>)> {
    let key = storage::layout::manifest_key(&tenant.account_id, source_id, snapshot_id);
    let manifest = Manifest::from_json(&stack.store.get(&key).await?)?;
    let mut streams = BTreeMap::new();
    for stream in &manifest.streams {
        let mut records = Vec::new();
        for part in &stream.parts {
            let body = stack.store.get(&part.key).await?;
            anyhow::ensure!(
                sha256_hex(&body) == part.sha256,
                "sha256 mismatch for {}",
                part.key
            );
            anyhow::ensure!(
                body.len() as u64 == part.stored_bytes,
                "size mismatch for {}",
                part.key
            );
            let jsonl = open_part(tenant.key.identity(), &body)?;
            let before = records.len();
            for line in jsonl.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                records.push(serde_json::from_slice::<Value>(line)?);
            }
            anyhow::ensure!(
                (records.len() - before) as u64 == part.records,
                "record count mismatch in {}",
                part.key
            );
        }
        streams.insert(stream.name.clone(), records);
    }
    Ok((manifest, streams))
}

/// How many list requests reading `streams` of the Stripe sandbox whole takes, 100 records a
/// page (the connector's default).
pub fn stripe_pages(sandbox: &Sandbox, streams: &[&str]) -> u64 {
    streams
        .iter()
        .map(|stream| sandbox.stripe().count(stream).div_ceil(100).max(1))
        .sum()
}

/// How many records a full backup of the Stripe sandbox holds.
pub fn stripe_records(sandbox: &Sandbox) -> u64 {
    sandbox::stripe::STREAMS
        .iter()
        .map(|stream| sandbox.stripe().count(stream))
        .sum()
}

/// Asserts that a snapshot holds exactly the sandbox's dataset: every record, once, unchanged.
pub async fn assert_snapshot_is_dataset(
    stack: &Stack,
    tenant: &Tenant,
    snapshot_id: &str,
) -> anyhow::Result<Manifest> {
    assert_snapshot_streams(stack, tenant, snapshot_id, &sandbox::stripe::STREAMS).await
}

/// Like [`assert_snapshot_is_dataset`], for a snapshot of just `names`.
pub async fn assert_snapshot_streams(
    stack: &Stack,
    tenant: &Tenant,
    snapshot_id: &str,
    names: &[&str],
) -> anyhow::Result<Manifest> {
    assert_source_snapshot(
        stack,
        tenant,
        &tenant.source_id,
        snapshot_id,
        names,
        |name| stack.sandbox.stripe().records(name).collect(),
    )
    .await
}

/// Asserts that a snapshot of another source of the tenant holds exactly `names`, each equal to
/// `expected(name)`: every record, once, unchanged, in order.
pub async fn assert_source_snapshot(
    stack: &Stack,
    tenant: &Tenant,
    source_id: &str,
    snapshot_id: &str,
    names: &[&str],
    expected: impl Fn(&str) -> Vec<Value>,
) -> anyhow::Result<Manifest> {
    let (manifest, streams) = read_snapshot_of(stack, tenant, source_id, snapshot_id).await?;
    let in_manifest: Vec<&str> = manifest.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        in_manifest.len(),
        names.len(),
        "the manifest has exactly the streams backed up: {in_manifest:?}"
    );
    for &name in names {
        let expected = expected(name);
        let got = streams
            .get(name)
            .with_context(|| format!("stream {name} missing"))?;
        let stream = manifest
            .stream(name)
            .with_context(|| format!("manifest stream {name}"))?;
        assert_eq!(
            stream.records,
            expected.len() as u64,
            "{name}: manifest count equals the sandbox's"
        );
        assert_eq!(got.len(), expected.len(), "{name}: record count");
        // Ids are strings on some platforms and numbers on others.
        let ids: std::collections::HashSet<String> =
            got.iter().map(|r| r["id"].to_string()).collect();
        assert_eq!(ids.len(), got.len(), "{name}: no record duplicated");
        assert!(
            got == &expected,
            "{name}: records equal the sandbox dataset, in order"
        );
    }
    Ok(manifest)
}

/// Asserts that every object written or left under the snapshot is one of its manifest's parts,
/// their indexes, or the manifest itself: nothing orphaned, nothing stored twice under different keys.
pub async fn assert_no_stray_objects(
    stack: &Stack,
    tenant: &Tenant,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    let snapshot = &manifest.snapshot_id;
    let prefix = storage::layout::snapshot_prefix(&tenant.account_id, &tenant.source_id, snapshot);
    let manifest_key =
        storage::layout::manifest_key(&tenant.account_id, &tenant.source_id, snapshot);
    let known: std::collections::HashSet<&str> = (manifest.object_keys())
        .chain([manifest_key.as_str()])
        .collect();
    for (stream, part) in manifest.parts() {
        anyhow::ensure!(
            part.index.is_some(),
            "{}: {} has no index",
            stream.name,
            part.key
        );
    }
    let stored = stack.store.list(&prefix).await?;
    let written = stack.puts.keys();
    for key in stored
        .iter()
        .chain(&written)
        .filter(|k| k.starts_with(&prefix))
    {
        anyhow::ensure!(known.contains(key.as_str()), "{key} is not in the manifest");
    }
    anyhow::ensure!(
        stored.len() == known.len(),
        "stored {stored:?}, manifest {known:?}"
    );
    Ok(())
}

/// The connection settings of a Dropbox source on the sandbox at `base`.
pub fn dropbox_config(base: &str) -> Value {
    json!({
        "base_url": base,
        "content_url": base,
        "requests_per_second": 50,
        "oauth_app": sandbox_oauth_app(base, "dropbox"),
    })
}

/// Adds a Dropbox source on the sandbox to the tenant's account.
pub async fn add_dropbox_source(stack: &Stack, tenant: &Tenant) -> anyhow::Result<String> {
    let base = stack.sandbox_url();
    stack
        .add_source(
            tenant,
            "dropbox",
            sandbox_grant(&stack.sandbox, "dropbox"),
            dropbox_config(&base),
        )
        .await
}

/// Connection credentials for a fresh grant from the sandbox's authorization server.
pub fn sandbox_grant(sandbox: &Sandbox, platform: &str) -> Value {
    let issued = sandbox.oauth().issue(platform);
    json!({
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_at": issued.expires_at,
    })
}

/// The `oauth_app` connection setting that points `platform` at the sandbox's authorization
/// server served from `base`.
pub fn sandbox_oauth_app(base: &str, platform: &str) -> Value {
    json!({
        "client_id": sandbox::oauth::CLIENT_ID,
        "client_secret": sandbox::oauth::CLIENT_SECRET,
        "authorize_url": format!("{base}/oauth/{platform}/authorize"),
        "token_url": format!("{base}/oauth/{platform}/token"),
    })
}

/// A Keap source of `tenant` connected through the sandbox's authorization server.
pub async fn add_keap_source(stack: &Stack, tenant: &Tenant) -> anyhow::Result<String> {
    let base = stack.sandbox_url();
    let settings = json!({"base_url": base, "oauth_app": sandbox_oauth_app(&base, "keap")});
    let credentials = sandbox_grant(&stack.sandbox, "keap");
    stack
        .add_source(tenant, "keap", credentials, settings)
        .await
}

/// Parts of the snapshot recorded in the database.
pub async fn committed_parts(stack: &Stack, snapshot_id: &str) -> u64 {
    committed_parts_of(stack, snapshot_id, None).await
}

/// Parts of the snapshot committed: of stream `only`, or of every stream.
pub async fn committed_parts_of(stack: &Stack, snapshot_id: &str, only: Option<&str>) -> u64 {
    use entities::snapshot_part::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut parts = Entity::find().filter(Column::SnapshotId.eq(snapshot_id));
    if let Some(stream) = only {
        parts = parts.filter(Column::Stream.eq(stream));
    }
    parts.count(&stack.db).await.expect("counting parts")
}

/// Waits until at least `n` parts of the snapshot are committed; returns how many are.
pub async fn wait_for_parts(stack: &Stack, snapshot_id: &str, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let committed = committed_parts(stack, snapshot_id).await;
        if committed >= n {
            return committed;
        }
        assert!(
            Instant::now() < deadline,
            "{committed} of {n} parts committed in time\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
