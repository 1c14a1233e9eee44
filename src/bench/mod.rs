//! `listbackup bench <scenario>`: figures, never verdicts. Every run prints the machine and runs
//! its baselines in the same invocation on the same bytes, so ratios hold on a noisy machine.
//! The commands and the latest figures are in `docs/benchmarks.md`.
//!
//! - `archive`: the archive stage of a backup — records already in memory -> JSON Lines -> zstd
//!   -> age -> parts (and their record indexes) stored in the embedded S3 endpoint, exactly as
//!   the extract activity writes them — against `zstd -3 -T2 | age -r … > /dev/null` (the
//!   compute ceiling) on the same JSON Lines, and the same bytes put to the same endpoint with
//!   no processing.
//! - `memory`: the archive stage at several sizes, each in a fresh process, with its peak RSS:
//!   memory must not grow with the size.
//! - `lookup`: a snapshot of N records written by the archive stage, read back whole as a
//!   stream download does and exported as an export does (MiB/s), then single records looked
//!   up by id as the API does (the part's record index, then the record's frame): latency
//!   percentiles.
//! - `api`: the REST API over a realistic database (sources and jobs seeded in a fresh Postgres
//!   database): `wrk` at full speed on listing and reading endpoints, then an open-loop load at
//!   fixed rates (latency from each request's scheduled time, so a stall is not hidden):
//!   throughput and p50/p99.
//! - `pipeline`: a backup end to end as a deployment runs it (sandbox over HTTP -> worker process
//!   -> parts in the embedded S3 endpoint, started through the API on Temporal and Postgres),
//!   with the worker's CPU and peak RSS, against `restic backup --stdin` of the same bytes to
//!   the same endpoint ([`pipeline`]).
//! - `orchestration`: many sources backed up at once on one or more worker processes: jobs a
//!   minute, time to the last, per-job cost against one job alone ([`orchestration`]).
//! - `ratelimit`: N Stripe customers read in pages of P from the sandbox over HTTP while it
//!   enforces R requests a second, through the connector, its HTTP client and its pacer as a
//!   backup reads them: the time against the bound N/(P·R), and the 429s seen.

mod orchestration;
mod pipeline;
mod stack;

pub use orchestration::orchestration;
pub use pipeline::pipeline;

use anyhow::Context;
use std::{
    borrow::Cow,
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use storage::{
    embedded::EmbeddedS3,
    index::IndexBuilder,
    keys::AccountKey,
    layout,
    manifest::{ManifestPart, ManifestStream},
    object_store::{ObjectStore, S3Config},
    part::{DEFAULT_ZSTD_LEVEL, PartWriter},
    pit, reader,
};

/// Records distinct enough that zstd's window never sees a repeat: about 48 MiB of the
/// sandbox's Stripe objects, cycled for larger sizes.
const POOL_BYTES: u64 = 48 << 20;
/// The worker's default part size (`LISTBACKUP_PART_SIZE_MB`).
const PART_BYTES: u64 = 32 << 20;
const MIB: f64 = 1024.0 * 1024.0;

/// One record: its platform id and its compact JSON.
#[derive(Clone)]
struct Record {
    id: String,
    json: Vec<u8>,
}

/// The machine, printed first by every scenario.
pub fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0),
        );
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let profile = if cfg!(debug_assertions) {
        "debug (figures are not representative)"
    } else {
        "release"
    };
    println!("machine: {cores} cores ({cpu}), {mem} memory; build: {profile}");
}

/// Stripe-like records from the sandbox's generator, `per_stream` of each of several streams,
/// interleaved; every id distinct.
fn generated(per_stream: u64) -> anyhow::Result<impl Iterator<Item = Record>> {
    // Payment intents follow charges: the sandbox makes one per charge.
    let streams = [
        "customers",
        "charges",
        "invoices",
        "payment_intents",
        "subscriptions",
    ];
    let mut config = sandbox::SandboxConfig::new(7);
    for stream in streams
        .iter()
        .filter(|s| sandbox::stripe::follows(s).is_none())
    {
        config = config.with_records(&format!("stripe.{stream}"), per_stream)?;
    }
    let sandbox = sandbox::Sandbox::new(config)?;
    Ok((0..per_stream).flat_map(move |i| {
        let records: Vec<Record> = streams
            .iter()
            .map(|stream| {
                let value = sandbox.stripe().record(stream, i);
                Record {
                    id: value["id"].as_str().unwrap_or_default().to_owned(),
                    json: serde_json::to_vec(&value).expect("a record serialises"),
                }
            })
            .collect();
        records
    }))
}

/// About `bytes` of distinct records, held in memory ("records already in memory").
fn record_pool(bytes: u64) -> anyhow::Result<Vec<Record>> {
    let mut total = 0u64;
    Ok(generated(bytes / 1000 / 4 + 1)?
        .take_while(|r| {
            let more = total < bytes;
            total += r.json.len() as u64 + 1;
            more
        })
        .collect())
}

/// CPU seconds used so far by this process (`self`) or its waited-for children.
fn cpu_seconds(children: bool) -> f64 {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// This process's peak resident memory (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What a measured run did.
#[derive(Default)]
struct Figures {
    wall: Duration,
    cpu: f64,
    raw: u64,
    stored: u64,
    records: u64,
}

impl Figures {
    fn mb_per_s(&self) -> f64 {
        self.raw as f64 / MIB / self.wall.as_secs_f64()
    }

    fn print(&self, name: &str) {
        let gb = self.raw as f64 / (1024.0 * MIB);
        print!(
            "{name:<34} {:>8.1} MiB/s  {:>7.2} s  {:>6.1} CPU-s/GiB",
            self.mb_per_s(),
            self.wall.as_secs_f64(),
            self.cpu / gb
        );
        if self.records > 0 {
            print!(
                "  {:>9.0} records/s",
                self.records as f64 / self.wall.as_secs_f64()
            );
        }
        if self.stored > 0 {
            print!("  ratio {:.2}x", self.raw as f64 / self.stored as f64);
        }
        println!();
    }
}

/// The product's archive stage: `target` bytes of JSON Lines from `records_in` into sealed parts
/// and indexes, stored as the extract activity stores them; returns the figures and the parts as
/// a manifest lists them. Runs on this (blocking) thread, storing through `handle`.
fn archive_stage<'r>(
    handle: &tokio::runtime::Handle,
    store: &ObjectStore,
    records_in: impl Iterator<Item = Cow<'r, Record>>,
    target: u64,
    recipient: &str,
) -> anyhow::Result<(Figures, Vec<ManifestPart>)> {
    let cpu = cpu_seconds(false);
    let started = Instant::now();
    let (mut raw, mut stored, mut records, mut part_no) = (0u64, 0u64, 0u64, 0u32);
    let mut writer = PartWriter::new(recipient, DEFAULT_ZSTD_LEVEL)?;
    let mut index = IndexBuilder::new();
    let mut parts = Vec::new();
    let mut store_part = |writer: PartWriter, index: IndexBuilder| -> anyhow::Result<u64> {
        part_no += 1;
        let sealed = writer.finish()?;
        let key = layout::part_key("bench", "source", "snapshot", "records", part_no);
        let size = sealed.stored_bytes();
        let sealed_index = index.seal(recipient, &layout::index_key(&key), &sealed.frames)?;
        parts.push(sealed.manifest_entry(&key, part_no, Some(sealed_index.meta.clone())));
        handle.block_on(store.put(&key, sealed.body))?;
        handle.block_on(store.put(&sealed_index.meta.key, sealed_index.body))?;
        Ok(size)
    };
    for record in records_in {
        if raw >= target {
            break;
        }
        let line = writer.records();
        writer.write_record(&record.json)?;
        index.add(&record.id, line, &record.json, false);
        raw += record.json.len() as u64 + 1;
        records += 1;
        if writer.raw_bytes() >= PART_BYTES {
            let full =
                std::mem::replace(&mut writer, PartWriter::new(recipient, DEFAULT_ZSTD_LEVEL)?);
            stored += store_part(full, std::mem::take(&mut index))?;
        }
    }
    if writer.records() > 0 {
        stored += store_part(writer, index)?;
    }
    let figures = Figures {
        wall: started.elapsed(),
        cpu: cpu_seconds(false) - cpu,
        raw,
        stored,
        records,
    };
    Ok((figures, parts))
}

/// The same JSON Lines the archive stage wrote, as a file for the baselines.
fn write_jsonl(pool: &[Record], target: u64, path: &Path) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0u64;
    for record in pool.iter().cycle() {
        if written >= target {
            break;
        }
        out.write_all(&record.json)?;
        out.write_all(b"\n")?;
        written += record.json.len() as u64 + 1;
    }
    out.flush()?;
    Ok(())
}

/// Runs a shell pipeline, timed; its CPU is its processes'.
fn shell(script: &str, raw: u64) -> anyhow::Result<Figures> {
    let cpu = cpu_seconds(true);
    let started = Instant::now();
    let out = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running `{script}`"))?;
    anyhow::ensure!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(Figures {
        wall: started.elapsed(),
        cpu: cpu_seconds(true) - cpu,
        raw,
        stored: 0,
        records: 0,
    })
}

/// The same bytes put to the same endpoint in part-sized objects, no processing.
fn raw_puts(
    handle: &tokio::runtime::Handle,
    store: &ObjectStore,
    path: &Path,
) -> anyhow::Result<Figures> {
    use std::io::Read;
    let cpu = cpu_seconds(false);
    let started = Instant::now();
    let mut file = std::fs::File::open(path)?;
    let (mut raw, mut n) = (0u64, 0u32);
    loop {
        let mut chunk = Vec::with_capacity(PART_BYTES as usize);
        (&mut file).take(PART_BYTES).read_to_end(&mut chunk)?;
        if chunk.is_empty() {
            break;
        }
        n += 1;
        raw += chunk.len() as u64;
        handle.block_on(store.put(&format!("raw/chunk-{n:05}"), chunk.into()))?;
    }
    Ok(Figures {
        wall: started.elapsed(),
        cpu: cpu_seconds(false) - cpu,
        raw,
        stored: raw,
        records: 0,
    })
}

/// `listbackup bench archive`: the archive stage of `mib` MiB of JSON, and (unless
/// `product_only`) its baselines.
pub async fn archive(mib: u64, product_only: bool) -> anyhow::Result<()> {
    print_machine();
    let target = mib << 20;
    let pool =
        tokio::task::spawn_blocking(move || record_pool(POOL_BYTES.min(target.max(1 << 20))))
            .await??;
    let pool_bytes: u64 = pool.iter().map(|r| r.json.len() as u64 + 1).sum();
    println!(
        "records: {} distinct Stripe-like objects ({:.1} MiB, {} bytes each on average), cycled to {mib} MiB",
        pool.len(),
        pool_bytes as f64 / MIB,
        pool_bytes / pool.len().max(1) as u64
    );
    let (dir, s3, store) = local_store().await?;
    let key = AccountKey::generate();
    let recipient = key.recipient();
    let handle = tokio::runtime::Handle::current();
    let jsonl = dir.path().join("records.jsonl");

    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let records = pool.iter().cycle().map(Cow::Borrowed);
        let (product, _) = archive_stage(&handle, &store, records, target, &recipient)?;
        println!(
            "\n{:<34} {:>14}  {:>9}  {:>16}",
            "", "raw JSON", "wall", "CPU"
        );
        product.print("listbackup archive stage");
        if !product_only {
            write_jsonl(&pool, target, &jsonl)?;
            let path = jsonl.display();
            let ceiling = shell(
                &format!("zstd -3 -T2 -q -c {path} | age -r {recipient} > /dev/null"),
                product.raw,
            )?;
            ceiling.print("zstd -3 -T2 | age (ceiling)");
            let zstd_only = shell(
                &format!("zstd -3 -T2 -q -c {path} > /dev/null"),
                product.raw,
            )?;
            zstd_only.print("zstd -3 -T2 alone");
            let puts = raw_puts(&handle, &store, &jsonl)?;
            puts.print("S3 puts, no processing");
            println!(
                "\nratio to the ceiling: {:.2} (target at least 0.8)",
                product.mb_per_s() / ceiling.mb_per_s()
            );
        }
        println!("peak RSS: {:.0} MiB", peak_rss_mib());
        Ok(())
    })
    .await?;
    s3.shutdown().await;
    result
}

/// `listbackup bench memory`: the archive stage at each size in a fresh process of its own, so
/// each peak RSS is that size's alone.
pub fn memory(sizes_mib: &[u64]) -> anyhow::Result<()> {
    print_machine();
    let exe = std::env::current_exe()?;
    println!("\n{:>10}  {:>14}  {:>10}", "JSON MiB", "MiB/s", "peak RSS");
    for mib in sizes_mib {
        let out = Command::new(&exe)
            .args([
                "bench",
                "archive",
                "--mib",
                &mib.to_string(),
                "--product-only",
            ])
            .stderr(Stdio::inherit())
            .output()?;
        anyhow::ensure!(out.status.success(), "the {mib} MiB run failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let rate = text
            .lines()
            .find(|l| l.starts_with("listbackup archive stage"))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap_or("?");
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("peak RSS: "))
            .unwrap_or("?");
        println!("{mib:>10}  {rate:>10} MiB/s  {rss:>10}");
    }
    Ok(())
}

/// The embedded endpoint in a temporary folder, with a store on it.
async fn local_store() -> anyhow::Result<(tempfile::TempDir, EmbeddedS3, ObjectStore)> {
    let dir = tempfile::tempdir()?;
    let s3 = EmbeddedS3::start(
        &dir.path().join("s3"),
        "127.0.0.1:0".parse()?,
        "bench",
        "bench-secret",
    )
    .await?;
    let store = ObjectStore::new(&S3Config::local(
        s3.endpoint(),
        "bench",
        "bench",
        "bench-secret",
    ));
    store.ensure_bucket().await?;
    Ok((dir, s3, store))
}

/// The stream exported as an export's build activity writes it: each part fetched, checked,
/// decrypted and decompressed into a tar (JSON Lines byte for byte) compressed with zstd and
/// uploaded to the same endpoint in multipart pieces.
async fn export_stream(
    store: &ObjectStore,
    key: &AccountKey,
    stream: &ManifestStream,
) -> anyhow::Result<Figures> {
    use storage::export::{Archive, ExportFormat, ExportProgress, MultipartWriter, SnapshotExport};
    let now = chrono::Utc::now();
    let snapshots = [SnapshotExport {
        manifest: storage::manifest::Manifest {
            format: storage::manifest::MANIFEST_FORMAT,
            snapshot_id: "snapshot".into(),
            account_id: "bench".into(),
            source_id: "source".into(),
            platform: "stripe".into(),
            kind: "full".into(),
            parent_snapshot_id: None,
            job_id: "job".into(),
            started_at: now,
            finished_at: now,
            encryption: storage::manifest::ManifestEncryption::age_x25519(key.recipient()),
            compression: "zstd".into(),
            records: stream.records,
            raw_bytes: stream.raw_bytes,
            stored_bytes: stream.stored_bytes,
            streams: vec![stream.clone()],
        },
        streams: vec![stream.name.clone()],
    }];
    let (store, identity) = (store.clone(), key.identity().clone());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Figures> {
        let cpu = cpu_seconds(false);
        let started = Instant::now();
        let progress = std::sync::Arc::new(ExportProgress::default());
        let out = MultipartWriter::start(
            handle.clone(),
            store.clone(),
            "exports/bench.tar.zst",
            progress.clone(),
        )?;
        let archive = Archive {
            handle: &handle,
            store: &store,
            identity: &identity,
            snapshots: &snapshots,
            files: &[],
            format: ExportFormat::Jsonl,
        };
        let size = archive.write(out, &progress)?.finish()?;
        let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        Ok(Figures {
            wall: started.elapsed(),
            cpu: cpu_seconds(false) - cpu,
            raw: load(&progress.bytes),
            stored: size,
            records: load(&progress.records),
        })
    })
    .await?
}

/// `listbackup bench lookup`: `records` records (about 1 KiB each) archived into a snapshot,
/// then `lookups` of them found by id and read back, as `GET …/records/{id}` does.
pub async fn lookup(records: u64, lookups: usize) -> anyhow::Result<()> {
    print_machine();
    let (_dir, s3, store) = local_store().await?;
    let key = AccountKey::generate();
    let recipient = key.recipient();
    // Generated while archived (a million records would not fit a pool); every `step`-th one
    // is kept to be looked up.
    let step = (records / lookups.max(1) as u64).max(1);
    let handle = tokio::runtime::Handle::current();
    let (sample, parts, written) = tokio::task::spawn_blocking({
        let store = store.clone();
        move || -> anyhow::Result<_> {
            let mut sample = Vec::new();
            let mut n = 0u64;
            let records_in = generated(records / 4 + 1)?
                .take(records as usize)
                .inspect(|r| {
                    if n % step == step / 2 {
                        sample.push(r.clone());
                    }
                    n += 1;
                })
                .map(Cow::Owned);
            let (figures, parts) =
                archive_stage(&handle, &store, records_in, u64::MAX, &recipient)?;
            Ok((sample, parts, figures))
        }
    })
    .await??;
    println!(
        "snapshot: {} records in {} parts ({:.1} MiB of JSON, written in {:.1} s)",
        written.records,
        parts.len(),
        written.raw as f64 / MIB,
        written.wall.as_secs_f64()
    );
    let stream = ManifestStream {
        name: "records".into(),
        records: written.records,
        raw_bytes: written.raw,
        stored_bytes: written.stored,
        cursor: None,
        parts,
        full: Some(true),
    };
    // The whole stream read back as `GET …/streams/{stream}/download` serves it: each part
    // fetched, checked against its sha256, decrypted and decompressed.
    let started = Instant::now();
    let cpu = cpu_seconds(false);
    let mut plain = 0u64;
    for part in &stream.parts {
        let body = reader::fetch_part(&store, part).await?;
        let identity = key.identity().clone();
        plain += tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            Ok(std::io::copy(
                &mut reader::open_reader(&identity, body)?,
                &mut std::io::sink(),
            )?)
        })
        .await??;
    }
    Figures {
        wall: started.elapsed(),
        cpu: cpu_seconds(false) - cpu,
        raw: plain,
        ..Figures::default()
    }
    .print("stream download (decrypt, unzstd)");
    export_stream(&store, &key, &stream)
        .await?
        .print("export (tar.zst, multipart upload)");
    // The API reads the manifest for every request; its id filters are its bulk.
    let json = serde_json::to_vec(&stream)?;
    let started = Instant::now();
    let parsed: ManifestStream = serde_json::from_slice(&json)?;
    println!(
        "manifest stream entry: {:.2} MiB of JSON with its id filters, parsed in {:.1} ms",
        json.len() as f64 / MIB,
        started.elapsed().as_secs_f64() * 1e3
    );
    anyhow::ensure!(parsed == stream, "the manifest entry reads back as written");
    let levels = [pit::Level {
        snapshot_id: "snapshot".into(),
        stream,
        recipient: key.recipient(),
    }];
    let (mut latencies, mut finds, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    for wanted in &sample {
        let started = Instant::now();
        let version = pit::find(&store, key.identity(), &levels, &wanted.id)
            .await?
            .with_context(|| format!("{} was not found", wanted.id))?;
        let found = started.elapsed();
        let part = &levels[0].stream.parts[version.part];
        let line = pit::read_record(&store, key.identity(), part, &version.entry).await?;
        latencies.push(started.elapsed());
        finds.push(found);
        reads.push(started.elapsed() - found);
        anyhow::ensure!(line == wanted.json, "{} read back differently", wanted.id);
    }
    let ms = |mut d: Vec<Duration>, q: f64| {
        d.sort();
        d[((d.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3
    };
    println!(
        "single-record lookup ({} lookups): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target under 100 ms)",
        latencies.len(),
        ms(latencies.clone(), 0.5),
        ms(latencies.clone(), 0.99),
        ms(latencies, 1.0)
    );
    println!(
        "  of which finding the id (filters, index): p50 {:.1} ms, p99 {:.1} ms; reading its line (part): p50 {:.1} ms, p99 {:.1} ms",
        ms(finds.clone(), 0.5),
        ms(finds, 0.99),
        ms(reads.clone(), 0.5),
        ms(reads, 0.99)
    );
    println!("peak RSS: {:.0} MiB", peak_rss_mib());
    s3.shutdown().await;
    Ok(())
}

/// Reads `records` Stripe customers in pages of `page` from the sandbox, which lets through
/// `rate` requests a second (a token bucket with a second's burst), with the connector paced
/// at the same rate, as a backup's extraction reads them.
pub async fn ratelimit(records: u64, page: u32, rate: u32) -> anyhow::Result<()> {
    print_machine();
    anyhow::ensure!(
        (1..=100).contains(&page),
        "--page must be 1 to 100 (Stripe's page sizes)"
    );
    anyhow::ensure!(rate > 0, "--rate must be at least 1 request a second");
    let config = sandbox::SandboxConfig::new(8).with_records("stripe.customers", records)?;
    let fake = sandbox::Sandbox::new(config)?;
    let server = fake
        .serve(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    fake.set_faults(sandbox::FaultPlan {
        max_requests_per_sec: Some(rate),
        ..sandbox::FaultPlan::default()
    });
    let http = connectors::http::HttpClient::new(connectors::http::RetrySettings::default())
        .allowing_private_networks(true);
    let connector = connectors::registry::build(
        "stripe",
        &serde_json::json!({"api_key": fake.stripe().api_key()}),
        &serde_json::json!({
            "base_url": server.base_url(),
            "page_size": page,
            "requests_per_second": rate,
        }),
        &http,
    )?;
    let before = fake.stats();
    let started = Instant::now();
    let mut request = connectors::PageRequest {
        stream: "customers".into(),
        page_token: None,
        since: None,
        cursor: None,
    };
    let mut read = 0u64;
    loop {
        let got = connector.read_page(&request).await?;
        read += got.records.len() as u64;
        match got.next_page_token {
            Some(token) => {
                request.page_token = Some(token);
                request.cursor = got.cursor;
            }
            None => break,
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let stats = fake.stats();
    anyhow::ensure!(read == records, "read {read} customers of {records}");
    let requests = stats.requests - before.requests;
    let bound = records as f64 / (f64::from(page) * f64::from(rate));
    println!(
        "rate-limit efficiency: {records} records in pages of {page} at {rate} requests/s: \
         {wall:.2} s for {requests} requests (bound N/(P*R) {bound:.2} s, ratio {:.3}; target at most 1.1), \
         429s: {}",
        wall / bound,
        stats.rate_limited - before.rate_limited
    );
    server.shutdown().await;
    Ok(())
}

/// The API under load over a database of `sources` sources and `jobs` jobs (Postgres, a fresh
/// database on `$LISTBACKUP_TEST_POSTGRES`'s server, dropped afterwards).
pub async fn api(sources: u64, jobs: u64, rates: &[u32], seconds: u64) -> anyhow::Result<()> {
    print_machine();
    anyhow::ensure!(sources > 0, "--sources must be at least 1");
    let (name, url) = entities::testing::create_database("lbbench")
        .await
        .context("creating a database on $LISTBACKUP_TEST_POSTGRES's server")?;
    let db = entities::connect_and_migrate(&url).await?;
    let result = api_on(&db, sources, jobs, rates, seconds).await;
    entities::testing::drop_database(db, &name).await?;
    result
}

async fn api_on(
    db: &sea_orm::DatabaseConnection,
    sources: u64,
    jobs: u64,
    rates: &[u32],
    seconds: u64,
) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let master = std::sync::Arc::new(storage::keys::MasterKey::generate());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = api::AppState {
        db: db.clone(),
        // Never contacted by the endpoints measured.
        store: ObjectStore::new(&S3Config::local("http://127.0.0.1:9", "unused", "k", "s")),
        temporal: api::TemporalAccess {
            client: temporal::unreachable_client("default").await?,
            namespace: "default".into(),
            ui_base: "http://127.0.0.1:8233".into(),
        },
        auth: api::AuthSettings::from_master_key(&master)
            .with_api_rate_limit(api::ApiRateLimit::new(1_000_000, 1_000_000)),
        master,
        connections: api::ConnectionSettings::new(&base),
        key_holder: None,
    };
    let app = api::app(state);
    let server = tokio::spawn(async move {
        poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener)?)
            .run(app)
            .await
    });
    let http = reqwest::Client::new();
    let registered: serde_json::Value = http
        .post(format!("{base}/v1/auth/register"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "a long bench passphrase", "name": "Bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = registered["tokens"]["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned();
    let account = registered["account"]["id"]
        .as_str()
        .context("an account")?
        .to_owned();

    // The database: one connection, `sources` sources, `jobs` finished jobs spread over them,
    // a job a minute back from now.
    let started = Instant::now();
    let conn = entities::repo::create_connection(
        db,
        &account,
        "stripe",
        "Stripe",
        "sealed".into(),
        serde_json::json!({}),
    )
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO sources (id, account_id, connection_id, platform, name, streams, options, \
         stream_state, last_snapshot_id, created_at, updated_at) \
         SELECT 'src-' || lpad(i::text, 8, '0'), '{account}', '{conn}', 'stripe', \
         'source ' || i, '[]', '{{}}', '{{}}', NULL, now(), now() \
         FROM generate_series(1, {sources}) AS i",
        conn = conn.id
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO jobs (id, account_id, source_id, kind, status, workflow_id, run_id, \
         snapshot_id, progress, records, bytes, error, created_at, started_at, finished_at, \
         retry_of) \
         SELECT 'job-' || lpad(i::text, 10, '0'), '{account}', \
         'src-' || lpad((1 + i % {sources})::text, 8, '0'), 'backup', \
         CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END, \
         'backup-' || i, NULL, 'snap-' || i, '{{}}', 1000 + i % 5000, 1000000 + i, \
         CASE WHEN i % 20 = 0 THEN 'the platform refused the key' END, \
         now() - ({jobs} - i) * interval '1 minute', \
         now() - ({jobs} - i) * interval '1 minute', \
         now() - ({jobs} - i) * interval '1 minute' + interval '30 seconds', NULL \
         FROM generate_series(1, {jobs}) AS i"
    ))
    .await?;
    // Settled as a database in service is: statistics current, and the rows just written
    // vacuumed (hint bits and the visibility map set), so autovacuum and first-read writes do
    // not land in the middle of a measured run.
    db.execute_unprepared("VACUUM ANALYZE").await?;
    println!(
        "database: {sources} sources, {jobs} jobs (Postgres), seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let source = "src-00000001";
    let job = format!("job-{:010}", jobs.max(1));
    let endpoints = [
        (
            "list sources",
            format!("/v1/accounts/{account}/sources?limit=50"),
        ),
        (
            "list account jobs",
            format!("/v1/accounts/{account}/jobs?limit=50"),
        ),
        (
            "list failed jobs",
            format!("/v1/accounts/{account}/jobs?status=failed&limit=50"),
        ),
        (
            "list source jobs",
            format!("/v1/sources/{source}/jobs?limit=50"),
        ),
        ("get source", format!("/v1/sources/{source}")),
        ("get job", format!("/v1/jobs/{job}")),
    ];
    for (_, path) in &endpoints {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "{path} answered {}", r.status());
    }
    let wrk = Command::new("wrk").arg("--version").output().is_ok();
    if !wrk {
        println!("wrk: not installed (Debian package `wrk`); full-speed runs skipped");
    }
    for (name, path) in &endpoints {
        if wrk {
            let out = Command::new("wrk")
                .args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency", "-H"])
                .arg(format!("Authorization: Bearer {token}"))
                .arg(format!("{base}{path}"))
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let field = |prefix: &str| {
                text.lines()
                    .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
                    .unwrap_or_else(|| "?".into())
            };
            println!(
                "{name:<18} wrk -c16: {} requests/s, p50 {}, p99 {}, non-2xx: {}",
                field("Requests/sec:"),
                field("50%"),
                field("99%"),
                field("Non-2xx or 3xx responses:").replace('?', "0")
            );
        }
        for &rate in rates {
            let figures = fixed_rate(&http, &base, path, &token, rate, seconds).await;
            println!(
                "{name:<18} at {rate} requests/s: {:.0} done/s, p50 {:.2} ms, p99 {:.2} ms, \
                 errors {} (target p99 under 10 ms at 2,000/s)",
                figures.done as f64 / seconds as f64,
                figures.p50_ms,
                figures.p99_ms,
                figures.errors
            );
        }
    }
    println!(
        "peak RSS (API and load generator): {:.0} MiB",
        peak_rss_mib()
    );
    server.abort();
    Ok(())
}

struct RateFigures {
    done: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Sends GET `path` at `rate` requests a second for `seconds`, each at its scheduled time
/// whatever the earlier ones are doing (an open loop), and measures each from that time.
async fn fixed_rate(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    rate: u32,
    seconds: u64,
) -> RateFigures {
    let total = u64::from(rate) * seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let at = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at).await;
        let (http, url, token) = (http.clone(), format!("{base}{path}"), token.to_owned());
        tasks.spawn(async move {
            let ok = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            (ok, at.elapsed())
        });
    }
    let mut latencies = Vec::with_capacity(total as usize);
    let mut errors = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((true, took)) => latencies.push(took),
            _ => errors += 1,
        }
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    RateFigures {
        done: latencies.len() as u64,
        errors,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    }
}
