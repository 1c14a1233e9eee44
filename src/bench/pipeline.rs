//! `listbackup bench pipeline`: a backup end to end, as a deployment runs it. The sandbox serves
//! Stripe objects over HTTP from a process of its own; a `listbackup worker` process runs the
//! backup workflow (extract: pages -> parse -> JSON Lines -> zstd -> age -> parts and indexes
//! in the embedded S3 endpoint; then the manifest), started through the REST API with the
//! Temporal dev server and Postgres behind it. One worker per size, so its peak RSS is that
//! size's. The baselines take the snapshot's own JSON Lines (restored and checked), on the same
//! endpoint: `restic backup --stdin`, `zstd -3 -T2 | age` and plain S3 puts.

use super::{
    Figures, MIB, print_machine, raw_puts, shell,
    stack::{BenchStack, SandboxProcess},
};
use anyhow::Context;
use entities::snapshot_part;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// The streams backed up: the archive bench's Stripe objects (1.15 KB each on average).
const STREAMS: [&str; 5] = [
    "customers",
    "charges",
    "invoices",
    "payment_intents",
    "subscriptions",
];
const AVERAGE_RECORD_BYTES: u64 = 1_150;
/// Stripe's pacing is scenario 3's subject: here the connection may send the most a
/// connection may be set to, so the pipeline is what is measured.
const REQUESTS_PER_SECOND: u32 = 1_000;
const RESTIC_PASSWORD: &str = "bench restic password";

/// `listbackup bench pipeline --mib …`: one backup per size, each with its baselines unless
/// `product_only`.
pub async fn pipeline(sizes_mib: &[u64], product_only: bool) -> anyhow::Result<()> {
    print_machine();
    anyhow::ensure!(
        !sizes_mib.is_empty() && sizes_mib.iter().all(|&m| m > 0),
        "--mib: give one or more sizes of at least 1"
    );
    if !product_only {
        for tool in ["restic", "zstd", "age"] {
            anyhow::ensure!(
                Command::new(tool).arg("--help").output().is_ok(),
                "`{tool}` is not on PATH (./scripts/setup installs it), or pass --product-only"
            );
        }
    }
    let mut stack = BenchStack::start().await?;
    let result = run(&mut stack, sizes_mib, product_only).await;
    stack.shutdown().await?;
    result
}

async fn run(stack: &mut BenchStack, sizes_mib: &[u64], product_only: bool) -> anyhow::Result<()> {
    for (n, &mib) in sizes_mib.iter().enumerate() {
        // Payment intents follow charges: the sandbox makes one per charge.
        let per_stream = ((mib << 20) / (AVERAGE_RECORD_BYTES * STREAMS.len() as u64)).max(1);
        let filled: Vec<String> = STREAMS
            .iter()
            .filter(|s| sandbox::stripe::follows(s).is_none())
            .map(|s| format!("stripe.{s}"))
            .collect();
        let counts: Vec<(&str, u64)> = filled.iter().map(|s| (s.as_str(), per_stream)).collect();
        let sandbox = SandboxProcess::start(stack.dir.path(), &counts).await?;
        let source = stack
            .stripe_source(0, &sandbox.base_url, Some(REQUESTS_PER_SECOND), &STREAMS)
            .await?;
        stack.spawn_workers(1)?;

        let started = Instant::now();
        let job_id = stack.start_backup(&source).await?;
        let job = stack
            .wait_for_jobs(&[job_id], Duration::from_secs(6 * 3600))
            .await?
            .remove(0);
        let wall = started.elapsed();
        let worker = stack.stop_workers()?.remove(0);
        let sandbox_usage = sandbox.stop()?;

        let parts = snapshot_part::Entity::find()
            .filter(snapshot_part::Column::SnapshotId.eq(job.snapshot_id.as_str()))
            .all(&stack.db)
            .await?;
        let product = Figures {
            wall,
            cpu: worker.cpu_seconds,
            raw: parts.iter().map(|p| p.raw_bytes as u64).sum(),
            stored: parts.iter().map(|p| p.stored_bytes as u64).sum(),
            records: job.records as u64,
        };
        println!(
            "\nbackup {}: {} records in {} streams, {:.1} MiB of JSON, {} parts",
            n + 1,
            product.records,
            STREAMS.len(),
            product.raw as f64 / MIB,
            parts.len()
        );
        println!(
            "\n{:<34} {:>14}  {:>9}  {:>16}",
            "", "raw JSON", "wall", "CPU"
        );
        product.print("listbackup backup, end to end");
        println!(
            "worker peak RSS: {:.0} MiB; sandbox: {:.1} CPU-s ({:.1} per GiB) serving the pages",
            worker.peak_rss_mib,
            sandbox_usage.cpu_seconds,
            sandbox_usage.cpu_seconds / (product.raw as f64 / MIB / 1024.0)
        );
        if !product_only {
            baselines(stack, &job.snapshot_id, &product, n).await?;
        }
    }
    Ok(())
}

/// The snapshot restored to one JSON Lines file (every part checked against its sha256), then
/// the same bytes through restic, the compute ceiling and plain puts.
async fn baselines(
    stack: &BenchStack,
    snapshot_id: &str,
    product: &Figures,
    n: usize,
) -> anyhow::Result<()> {
    let restored = stack.dir.path().join(format!("restored-{n}"));
    let streams = crate::restore::restore(
        &stack.db,
        &stack.store,
        &stack.master,
        snapshot_id,
        &restored,
    )
    .await?;
    let jsonl = stack.dir.path().join(format!("backup-{n}.jsonl"));
    concatenate(streams.iter().map(|s| s.path.as_path()), &jsonl)?;
    let raw = std::fs::metadata(&jsonl)?.len();
    anyhow::ensure!(
        raw == product.raw,
        "the restored JSON Lines are {raw} bytes, the parts say {}",
        product.raw
    );

    let endpoint = stack.s3_config.endpoint.clone().unwrap_or_default();
    let repository = format!("s3:{endpoint}/{}/restic-{n}", stack.s3_config.bucket);
    let restic = |args: &str| {
        format!(
            "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} RESTIC_PASSWORD='{RESTIC_PASSWORD}' \
             restic -q --no-cache -r {repository} {args}",
            stack.s3_config.access_key_id, stack.s3_config.secret_access_key
        )
    };
    let (store, recipient, path) = (
        stack.store.clone(),
        stack.accounts[0].recipient.clone(),
        jsonl.display().to_string(),
    );
    let handle = tokio::runtime::Handle::current();
    let restic_init = restic("init");
    let restic_backup = restic(&format!(
        "backup --stdin --stdin-filename stripe.jsonl < {path}"
    ));
    let product_rate = product.mb_per_s();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        shell(&restic_init, 0).context("restic init")?;
        let restic = shell(&restic_backup, raw)?;
        restic.print("restic backup --stdin");
        let ceiling = shell(
            &format!("zstd -3 -T2 -q -c {path} | age -r {recipient} > /dev/null"),
            raw,
        )?;
        ceiling.print("zstd -3 -T2 | age (ceiling)");
        let puts = raw_puts(&handle, &store, Path::new(&path))?;
        puts.print("S3 puts, no processing");
        println!(
            "\nratio to restic: {:.2} (target above 1); to the ceiling: {:.2}",
            product_rate / restic.mb_per_s(),
            product_rate / ceiling.mb_per_s()
        );
        std::fs::remove_file(&path)?;
        Ok(())
    })
    .await??;
    std::fs::remove_dir_all(&restored)?;
    Ok(())
}

fn concatenate<'p>(files: impl Iterator<Item = &'p Path>, to: &Path) -> anyhow::Result<()> {
    let mut out = std::fs::File::create(to)?;
    for file in files {
        std::io::copy(&mut std::fs::File::open(file)?, &mut out)?;
    }
    Ok(())
}
