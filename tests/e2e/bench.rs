//! A smoke run of every `listbackup bench` scenario at a tiny size, so the harness cannot rot:
//! each runs to the end and prints its figures. Nothing here judges a figure (see
//! docs/benchmarks.md for them).

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_listbackup"))
        .arg("bench")
        .args(args)
        .env("LISTBACKUP_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench {args:?} failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("machine: "), "{stdout}");
    stdout
}

#[test]
fn every_bench_scenario_runs_and_prints_its_figures() {
    let archive = bench(&["archive", "--mib", "2"]);
    for line in [
        "listbackup archive stage",
        "zstd -3 -T2 | age (ceiling)",
        "S3 puts, no processing",
        "ratio to the ceiling: ",
        "peak RSS: ",
    ] {
        assert!(archive.contains(line), "{line:?} missing:\n{archive}");
    }
    let memory = bench(&["memory", "--mib", "1,2"]);
    assert_eq!(
        memory
            .lines()
            .filter(|l| l
                .split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u64>().is_ok()))
            .count(),
        2,
        "a row per size:\n{memory}"
    );
    let lookup = bench(&["lookup", "--records", "3000", "--lookups", "10"]);
    assert!(
        lookup.contains("snapshot: 3000 records")
            && lookup.contains("stream download (decrypt, unzstd)")
            && lookup.contains("export (tar.zst, multipart upload)")
            && lookup.contains("manifest stream entry: ")
            && lookup.contains("single-record lookup (10 lookups): p50 "),
        "{lookup}"
    );
    let api = bench(&[
        "api",
        "--sources",
        "20",
        "--jobs",
        "500",
        "--rates",
        "50",
        "--seconds",
        "1",
    ]);
    assert!(
        api.contains("database: 20 sources, 500 jobs (Postgres)")
            && api.contains("list account jobs  at 50 requests/s: ")
            && api.contains("get job            wrk -c16: "),
        "{api}"
    );
    let ratelimit = bench(&[
        "ratelimit",
        "--records",
        "250",
        "--page",
        "50",
        "--rate",
        "20",
    ]);
    assert!(
        ratelimit.contains("rate-limit efficiency: 250 records in pages of 50 at 20 requests/s: ")
            && ratelimit.contains("429s: "),
        "{ratelimit}"
    );
    let pipeline = bench(&["pipeline", "--mib", "1"]);
    for line in [
        "backup 1: ",
        "listbackup backup, end to end",
        "worker peak RSS: ",
        "restic backup --stdin",
        "zstd -3 -T2 | age (ceiling)",
        "ratio to restic: ",
    ] {
        assert!(pipeline.contains(line), "{line:?} missing:\n{pipeline}");
    }
    let orchestration = bench(&[
        "orchestration",
        "--sources",
        "4",
        "--per-account",
        "2",
        "--workers",
        "1",
        "--records",
        "5",
    ]);
    assert!(
        orchestration.contains("4 sources in 2 accounts, each on a Stripe connection of its own")
            && orchestration.contains("one job alone: ")
            && orchestration.contains("4 at once: ")
            && orchestration.contains(" jobs/minute"),
        "{orchestration}"
    );
}
