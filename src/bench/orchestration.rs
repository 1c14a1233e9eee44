//! `listbackup bench orchestration`: many sources backed up at once. Each source has its own
//! Stripe connection (so no two share a rate budget) and one small stream, so what is measured
//! is the orchestration: the API starting workflows, Temporal (the dev server, state in memory)
//! dispatching them, the worker processes running workflow tasks and activities, and the jobs'
//! rows in Postgres. For each worker count: one job alone (after a warm-up), then every source
//! triggered at once through the API.
//!
//! An account runs at most `LISTBACKUP_ACCOUNT_MAX_JOBS` jobs at once (4 by default) and queues
//! the rest; the sources are spread over as many accounts as keep every job out of that queue
//! (`--per-account` sources each), so the figures are the orchestration's, not the cap's.

use super::{
    print_machine,
    stack::{BenchStack, ProcUsage, SandboxProcess},
};
use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// Backups started through the API at a time (an integration starting them all).
const TRIGGER_CONCURRENCY: usize = 32;

pub async fn orchestration(
    sources: usize,
    per_account: usize,
    workers: &[usize],
    records: u64,
) -> anyhow::Result<()> {
    print_machine();
    anyhow::ensure!(sources > 0, "--sources must be at least 1");
    anyhow::ensure!(
        !workers.is_empty() && workers.iter().all(|&w| w > 0),
        "--workers: give one or more counts of at least 1"
    );
    anyhow::ensure!(records > 0, "--records must be at least 1");
    anyhow::ensure!(per_account > 0, "--per-account must be at least 1");
    let mut stack = BenchStack::start().await?;
    let result = run(&mut stack, sources, per_account, workers, records).await;
    stack.shutdown().await?;
    result
}

async fn run(
    stack: &mut BenchStack,
    sources: usize,
    per_account: usize,
    workers: &[usize],
    records: u64,
) -> anyhow::Result<()> {
    let sandbox = SandboxProcess::start(stack.dir.path(), &[("stripe.customers", records)]).await?;
    let created = Instant::now();
    let mut ids = Vec::with_capacity(sources);
    for n in 0..sources {
        let account = match n % per_account {
            0 if n > 0 => stack.add_account().await?,
            _ => stack.accounts.len() - 1,
        };
        ids.push(
            stack
                .stripe_source(account, &sandbox.base_url, None, &["customers"])
                .await?,
        );
    }
    println!(
        "{sources} sources in {} accounts, each on a Stripe connection of its own, each one stream \
         of {records} customers ({:.1} s to create)",
        stack.accounts.len(),
        created.elapsed().as_secs_f64()
    );
    for &n in workers {
        stack.spawn_workers(n)?;
        // The first job of a fresh worker pays for its connections: warm up first.
        one_job(stack, &ids[0]).await?;
        let worker_start = sum(&stack.worker_usage()?);
        let single = one_job(stack, &ids[0]).await?;
        let single_cpu = sum(&stack.worker_usage()?).cpu_seconds - worker_start.cpu_seconds;

        let (worker_before, temporal_before) =
            (sum(&stack.worker_usage()?), stack.temporal_usage());
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let api = &*stack;
        let jobs: Vec<String> = futures::stream::iter(ids.iter())
            .map(|id| api.start_backup(id))
            .buffer_unordered(TRIGGER_CONCURRENCY)
            .try_collect()
            .await?;
        let triggered = started.elapsed();
        let done = stack
            .wait_for_jobs(&jobs, Duration::from_secs(4 * 3600))
            .await?;
        let last = done
            .iter()
            .filter_map(|j| j.finished_at)
            .max()
            .map_or(started.elapsed(), |at| {
                (at - started_at).to_std().unwrap_or_default()
            });
        let worker_after = sum(&stack.worker_usage()?);
        let temporal_cpu = match (temporal_before, stack.temporal_usage()) {
            (Some(before), Some(after)) => {
                format!(
                    "{:.3}",
                    (after.cpu_seconds - before.cpu_seconds) / sources as f64
                )
            }
            _ => "?".into(),
        };
        stack.stop_workers()?;

        let per_job = last.as_secs_f64() / sources as f64;
        println!("\n{n} worker process{}:", if n == 1 { "" } else { "es" });
        println!(
            "  one job alone:     {:.3} s, {:.3} worker CPU-s",
            single.as_secs_f64(),
            single_cpu
        );
        println!(
            "  {sources} at once:      triggered in {:.2} s, last done after {:.2} s: {:.0} jobs/minute",
            triggered.as_secs_f64(),
            last.as_secs_f64(),
            sources as f64 / last.as_secs_f64() * 60.0
        );
        println!(
            "  per job:           {per_job:.3} s of the run ({:.2}x one job alone), {:.3} worker CPU-s, \
             {temporal_cpu} Temporal CPU-s; workers' peak RSS {:.0} MiB",
            per_job / single.as_secs_f64(),
            (worker_after.cpu_seconds - worker_before.cpu_seconds) / sources as f64,
            worker_after.peak_rss_mib
        );
    }
    sandbox.stop()?;
    Ok(())
}

/// One backup of `source`, started through the API and waited for: the time from the request
/// to the job's end as the worker recorded it.
async fn one_job(stack: &mut BenchStack, source: &str) -> anyhow::Result<Duration> {
    let (started, started_at) = (Instant::now(), chrono::Utc::now());
    let job = stack.start_backup(source).await?;
    let done = stack
        .wait_for_jobs(&[job], Duration::from_secs(600))
        .await?;
    Ok(done[0]
        .finished_at
        .and_then(|at| (at - started_at).to_std().ok())
        .unwrap_or_else(|| started.elapsed()))
}

/// The workers' CPU time together, and the largest peak RSS among them.
fn sum(usages: &[ProcUsage]) -> ProcUsage {
    usages
        .iter()
        .fold(ProcUsage::default(), |acc, u| ProcUsage {
            cpu_seconds: acc.cpu_seconds + u.cpu_seconds,
            peak_rss_mib: acc.peak_rss_mib.max(u.peak_rss_mib),
        })
}
