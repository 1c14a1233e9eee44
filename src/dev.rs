//! `listbackup dev`: the whole product in one process, on a data directory.
//!
//! Spawns the Temporal dev server (state in the data dir, Web UI on), serves an embedded S3
//! endpoint over `data/objects`, uses SQLite in `data/listbackup.db`, and runs the API and a
//! worker. With `--demo` it also starts the Stripe sandbox and one backup. Ctrl-C stops it all.

use crate::{config, demo, server::ApiListener, worker};
use activities::WorkerContext;
use anyhow::Context;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use storage::{
    embedded::EmbeddedS3,
    object_store::{ObjectStore, S3Config},
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub api_addr: SocketAddr,
    pub temporal_port: u16,
    pub ui_port: u16,
    pub no_temporal: bool,
    pub demo: bool,
    /// Where the project lives, to find `.tools/venv/bin/temporal`.
    pub project_root: PathBuf,
}

/// The embedded endpoint's credentials, generated once per data dir.
fn embedded_credentials(data_dir: &std::path::Path) -> anyhow::Result<(String, String)> {
    let path = data_dir.join("s3-credentials");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some((id, secret)) = text.trim().split_once(':')
    {
        return Ok((id.to_owned(), secret.to_owned()));
    }
    let secret = hex::encode(rand::random::<[u8; 20]>());
    config::write_secret(&path, &format!("listbackup-dev:{secret}"))?;
    Ok(("listbackup-dev".into(), secret))
}

/// Starts the embedded S3 endpoint over `data_dir/objects` and returns it with its client config.
pub async fn start_embedded_s3(
    data_dir: &std::path::Path,
) -> anyhow::Result<(EmbeddedS3, S3Config)> {
    let (id, secret) = embedded_credentials(data_dir)?;
    let s3 = EmbeddedS3::start(
        &data_dir.join("objects"),
        "127.0.0.1:0".parse()?,
        &id,
        &secret,
    )
    .await?;
    let cfg = S3Config::local(s3.endpoint(), "listbackup", &id, &secret);
    Ok((s3, cfg))
}

pub async fn run(opts: DevOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let data_dir = opts.data_dir.canonicalize()?;
    let master = Arc::new(config::master_key(Some(&data_dir.join("master.key")))?);
    let db_default = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("listbackup.db").display()
    );
    let db_url = config::database_url(Some(db_default))?;
    let api_addr = config::api_addr(opts.api_addr)?;
    let auth = config::auth(&master)?;
    let extract = config::extract_settings()?;

    // Temporal: our own dev server, or the one LISTBACKUP_TEMPORAL_ADDR names.
    let mut dev_server = None;
    let (temporal_settings, ui_base) = if opts.no_temporal {
        let settings = config::temporal(None)?;
        (settings, config::temporal_ui("http://127.0.0.1:8233"))
    } else {
        let exe = temporal::dev_server::find_exe(&opts.project_root)
            .context("the `temporal` CLI was not found: run ./scripts/setup (or set LISTBACKUP_TEMPORAL_BIN)")?;
        println!(
            "starting Temporal dev server (gRPC :{}, Web UI :{})…",
            opts.temporal_port, opts.ui_port
        );
        let server = temporal::dev_server::start(&temporal::dev_server::DevServerOptions {
            exe,
            port: Some(opts.temporal_port),
            ui_port: Some(opts.ui_port),
            db_file: Some(data_dir.join("temporal.db")),
        })
        .await
        .context("starting the Temporal dev server (is the port already in use?)")?;
        let settings = temporal::TemporalSettings::local(server.target.clone());
        dev_server = Some(server);
        (settings, format!("http://127.0.0.1:{}", opts.ui_port))
    };
    let client = temporal::connect_with_retry(&temporal_settings, Duration::from_secs(30)).await?;
    temporal::ensure_search_attributes(&client, &temporal_settings.namespace).await?;

    let (embedded, s3_default) = start_embedded_s3(&data_dir).await?;
    let s3_config = config::s3(Some(s3_default))?;
    let store = ObjectStore::new(&s3_config);
    store.ensure_bucket().await.context("creating the bucket")?;
    store.prepare().await.context("checking the bucket")?;

    let db = entities::connect_and_migrate(&db_url)
        .await
        .context("opening the database")?;

    let stop = CancellationToken::new();
    let listener = ApiListener::bind(api_addr)
        .await
        .with_context(|| format!("binding the API to {api_addr}"))?;
    let api_base = format!("http://{}", listener.local_addr()?);
    let key_holder = api::KeyHolder::new(worker::key_holder_queue());
    let state = api::AppState {
        db: db.clone(),
        store: store.clone(),
        temporal: api::TemporalAccess {
            client: client.clone(),
            namespace: temporal_settings.namespace.clone(),
            ui_base: ui_base.clone(),
        },
        master: master.clone(),
        auth,
        // The dev stack's sandbox listens on loopback.
        connections: config::connections(listener.local_addr()?, true)?,
        key_holder: Some(key_holder.clone()),
    };
    let api_task = tokio::spawn(listener.serve(state, stop.clone()));
    let ctx = WorkerContext {
        db: db.clone(),
        store: store.clone(),
        master: master.clone(),
        // The dev stack's sandbox listens on loopback.
        http: config::platform_http(true)?,
        budgets: activities::RateBudgets::new(db.clone()),
        extract,
        webhooks: config::webhook_policy(true)?,
        held: key_holder.held.clone(),
    };

    let mut sandbox_server = None;
    if opts.demo {
        let sandbox = sandbox::Sandbox::new(
            sandbox::SandboxConfig::new(42).with_records("stripe.customers", 2_000)?,
        )?;
        let running = sandbox.serve("127.0.0.1:0".parse()?).await?;
        let objects = demo::provision(
            &db,
            &master,
            &running.base_url(),
            sandbox.stripe().api_key(),
        )
        .await?;
        let job_id = demo::start_backup(&api_base, &objects.api_key, &objects.source_id).await?;
        let info = demo::DemoInfo {
            api_base: api_base.clone(),
            api_key: objects.api_key,
            account_id: objects.account_id,
            source_id: objects.source_id,
            job_id: job_id.clone(),
            temporal_ui: ui_base.clone(),
        };
        let path = data_dir.join("demo.json");
        config::write_secret(&path, &serde_json::to_string_pretty(&info)?)?;
        println!("\ndemo backup started: job {job_id}");
        println!(
            "  job status:   curl -s -H 'Authorization: Bearer {}' {api_base}/v1/jobs/{job_id}",
            info.api_key
        );
        println!(
            "  Temporal UI:  {ui_base}/namespaces/default/workflows  (filter: ListbackupSourceId = '{}')",
            info.source_id
        );
        println!("  demo details: {}", path.display());
        sandbox_server = Some(running);
    }
    println!("\nListBackup is running");
    println!("  API:         {api_base}/v1  (Swagger UI: {api_base}/docs)");
    println!("  Temporal UI: {ui_base}");
    println!(
        "  S3 endpoint: {} bucket {} (data in {})",
        embedded.endpoint(),
        s3_config.bucket,
        data_dir.join("objects").display()
    );
    println!("Ctrl-C stops everything.");

    let stopper = stop.clone();
    tokio::spawn(async move {
        wait_for_shutdown_signal().await;
        println!("\nstopping…");
        stopper.cancel();
    });
    let worker_result = worker::run(
        client,
        ctx,
        &worker::SERVED_QUEUES,
        Some(&key_holder.queue),
        stop.clone(),
    )
    .await;
    stop.cancel();
    let _ = api_task.await;
    if let Some(s) = sandbox_server {
        s.shutdown().await;
    }
    embedded.shutdown().await;
    if let Some(mut server) = dev_server {
        server
            .shutdown()
            .await
            .context("stopping the Temporal dev server")?;
    }
    worker_result
}

/// Ctrl-C or SIGTERM.
pub async fn wait_for_shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
