use super::*;
use chrono::TimeZone;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn full(id: &str, created_at: DateTime<Utc>) -> SnapshotInfo {
    SnapshotInfo {
        id: id.into(),
        status: SnapshotStatus::Complete,
        created_at,
        parent_snapshot_id: None,
    }
}

fn incremental(id: &str, created_at: DateTime<Utc>, parent: &str) -> SnapshotInfo {
    SnapshotInfo {
        parent_snapshot_id: Some(parent.into()),
        ..full(id, created_at)
    }
}

fn with_status(mut s: SnapshotInfo, status: SnapshotStatus) -> SnapshotInfo {
    s.status = status;
    s
}

fn kept(policy: Policy, snapshots: &[SnapshotInfo]) -> Vec<String> {
    kept_with(policy, snapshots, None)
}

fn kept_with(policy: Policy, snapshots: &[SnapshotInfo], latest: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = select(Some(&policy), snapshots, latest)
        .into_iter()
        .filter(Decision::keep)
        .map(|d| d.id)
        .collect();
    ids.sort();
    ids
}

fn reasons_of(policy: Policy, snapshots: &[SnapshotInfo], id: &str) -> Vec<KeepReason> {
    select(Some(&policy), snapshots, None)
        .into_iter()
        .find(|d| d.id == id)
        .unwrap()
        .reasons
}

fn last(n: u32) -> Policy {
    Policy {
        keep_last: n,
        ..Policy::default()
    }
}

/// One full snapshot every `hours` hours from 2024-01-01 00:00, `n` of them, ids `s000`….
fn hourly(n: u32, hours: i64) -> Vec<SnapshotInfo> {
    (0..n)
        .map(|i| {
            full(
                &format!("s{i:03}"),
                at(2024, 1, 1, 0) + chrono::Duration::hours(hours * i64::from(i)),
            )
        })
        .collect()
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn no_policy_keeps_everything() {
    let snaps = hourly(5, 24);
    let all = select(None, &snaps, None);
    assert!(all.iter().all(|d| d.reasons == vec![KeepReason::NoPolicy]));
}

#[test]
fn a_policy_that_keeps_nothing_keeps_everything() {
    let snaps = hourly(5, 24);
    assert_eq!(kept(Policy::default(), &snaps).len(), 5);
    assert!(Policy::default().keeps_nothing());
}

#[test]
fn keep_last_keeps_the_newest_n() {
    let snaps = hourly(5, 1);
    assert_eq!(kept(last(3), &snaps), ids(&["s002", "s003", "s004"]));
    assert_eq!(kept(last(1), &snaps), ids(&["s004"]));
    assert_eq!(
        kept(last(10), &snaps).len(),
        5,
        "more than there are keeps all"
    );
}

#[test]
fn the_input_order_does_not_matter() {
    let mut snaps = hourly(6, 5);
    snaps.reverse();
    snaps.swap(1, 4);
    assert_eq!(kept(last(2), &snaps), ids(&["s004", "s005"]));
}

#[test]
fn equal_times_are_ordered_by_id() {
    let t = at(2024, 3, 1, 12);
    let snaps = vec![full("a", t), full("b", t), full("c", t)];
    assert_eq!(kept(last(1), &snaps), ids(&["c"]));
}

#[test]
fn keep_daily_keeps_the_newest_of_each_recent_day() {
    // Every 6 hours for 4 days: 00, 06, 12, 18 each day.
    let snaps = hourly(16, 6);
    let policy = Policy {
        keep_daily: 2,
        ..Policy::default()
    };
    // The 18:00 of Jan 4 (s015) and of Jan 3 (s011).
    assert_eq!(kept(policy, &snaps), ids(&["s011", "s015"]));
    assert_eq!(reasons_of(policy, &snaps, "s015"), vec![KeepReason::Daily]);
}

#[test]
fn keep_daily_counts_days_that_have_a_snapshot() {
    let snaps = vec![
        full("jan01", at(2024, 1, 1, 3)),
        full("jan05", at(2024, 1, 5, 3)),
        full("jan09a", at(2024, 1, 9, 3)),
        full("jan09b", at(2024, 1, 9, 20)),
    ];
    let policy = Policy {
        keep_daily: 3,
        ..Policy::default()
    };
    assert_eq!(kept(policy, &snaps), ids(&["jan01", "jan05", "jan09b"]));
}

#[test]
fn keep_weekly_uses_iso_weeks() {
    let snaps = vec![
        // ISO week 2020-W53 runs Mon 2020-12-28 .. Sun 2021-01-03.
        full("mon28", at(2020, 12, 28, 1)),
        full("thu31", at(2020, 12, 31, 1)),
        full("sun03", at(2021, 1, 3, 23)),
        // Week 2021-W01 starts Monday 2021-01-04.
        full("mon04", at(2021, 1, 4, 0)),
        full("wed06", at(2021, 1, 6, 0)),
    ];
    let policy = Policy {
        keep_weekly: 2,
        ..Policy::default()
    };
    assert_eq!(kept(policy, &snaps), ids(&["sun03", "wed06"]));
    let one = Policy {
        keep_weekly: 1,
        ..Policy::default()
    };
    assert_eq!(kept(one, &snaps), ids(&["wed06"]));
}

#[test]
fn keep_monthly_and_yearly() {
    let snaps = vec![
        full("2022-06", at(2022, 6, 10, 0)),
        full("2022-12", at(2022, 12, 31, 23)),
        full("2023-01a", at(2023, 1, 1, 0)),
        full("2023-01b", at(2023, 1, 20, 0)),
        full("2023-02", at(2023, 2, 1, 0)),
        full("2023-03", at(2023, 3, 31, 0)),
    ];
    let monthly = Policy {
        keep_monthly: 3,
        ..Policy::default()
    };
    assert_eq!(
        kept(monthly, &snaps),
        ids(&["2023-01b", "2023-02", "2023-03"])
    );
    let yearly = Policy {
        keep_yearly: 5,
        ..Policy::default()
    };
    assert_eq!(kept(yearly, &snaps), ids(&["2022-12", "2023-03"]));
}

#[test]
fn rules_combine_and_every_reason_is_given() {
    // Daily for 40 days at noon.
    let snaps: Vec<SnapshotInfo> = (0..40)
        .map(|i| {
            full(
                &format!("d{i:02}"),
                at(2024, 1, 1, 12) + chrono::Duration::days(i),
            )
        })
        .collect();
    let policy = Policy {
        keep_last: 2,
        keep_daily: 3,
        keep_weekly: 2,
        keep_monthly: 2,
        keep_yearly: 1,
    };
    let decisions = select(Some(&policy), &snaps, None);
    let newest = decisions.iter().find(|d| d.id == "d39").unwrap();
    assert_eq!(
        newest.reasons,
        vec![
            KeepReason::Last,
            KeepReason::Daily,
            KeepReason::Weekly,
            KeepReason::Monthly,
            KeepReason::Yearly
        ]
    );
    // d39 = Feb 9 (Fri). Last: d38, d39; daily: d37..d39; weekly: d39 and the Sunday before
    // the week of Feb 5 (Feb 4 = d34); monthly: d39 and Jan 31 (d30); yearly: d39.
    assert_eq!(
        kept(policy, &snaps),
        ids(&["d30", "d34", "d37", "d38", "d39"])
    );
    let jan31 = decisions.iter().find(|d| d.id == "d30").unwrap();
    assert_eq!(jan31.reasons, vec![KeepReason::Monthly]);
    assert!(
        decisions
            .iter()
            .filter(|d| !d.keep())
            .all(|d| d.reasons.is_empty())
    );
}

#[test]
fn snapshots_that_are_not_complete_are_kept_and_not_counted() {
    let snaps = vec![
        full("a", at(2024, 1, 1, 0)),
        full("b", at(2024, 1, 2, 0)),
        with_status(full("failed", at(2024, 1, 3, 0)), SnapshotStatus::Failed),
        with_status(
            full("cancelled", at(2024, 1, 4, 0)),
            SnapshotStatus::Cancelled,
        ),
        with_status(full("writing", at(2024, 1, 5, 0)), SnapshotStatus::Writing),
    ];
    assert_eq!(
        kept(last(1), &snaps),
        ids(&["b", "cancelled", "failed", "writing"])
    );
    assert_eq!(
        reasons_of(last(1), &snaps, "writing"),
        vec![KeepReason::NotComplete]
    );
}

#[test]
fn a_kept_incremental_keeps_its_chain_back_to_the_full_snapshot() {
    let snaps = vec![
        full("full0", at(2024, 1, 1, 0)),
        incremental("inc0", at(2024, 1, 2, 0), "full0"),
        full("full1", at(2024, 1, 3, 0)),
        incremental("inc1", at(2024, 1, 4, 0), "full1"),
        incremental("inc2", at(2024, 1, 5, 0), "inc1"),
        incremental("inc3", at(2024, 1, 6, 0), "inc2"),
    ];
    assert_eq!(
        kept(last(1), &snaps),
        ids(&["full1", "inc1", "inc2", "inc3"])
    );
    assert_eq!(
        reasons_of(last(1), &snaps, "full1"),
        vec![KeepReason::ParentOf("inc1".into())]
    );
    // Keeping two keeps the same chain: inc2's parents are inc3's too.
    assert_eq!(
        kept(last(2), &snaps),
        ids(&["full1", "inc1", "inc2", "inc3"])
    );
}

#[test]
fn a_chain_is_kept_for_a_snapshot_that_is_not_complete() {
    let snaps = vec![
        full("full0", at(2024, 1, 1, 0)),
        incremental("inc0", at(2024, 1, 2, 0), "full0"),
        full("full1", at(2024, 1, 3, 0)),
        with_status(
            incremental("retrying", at(2024, 1, 4, 0), "inc0"),
            SnapshotStatus::Failed,
        ),
    ];
    assert_eq!(
        kept(last(1), &snaps),
        ids(&["full0", "full1", "inc0", "retrying"])
    );
}

#[test]
fn the_latest_snapshot_of_the_source_is_kept() {
    let snaps = hourly(4, 24);
    assert_eq!(
        kept_with(last(1), &snaps, Some("s001")),
        ids(&["s001", "s003"])
    );
    let decisions = select(Some(&last(1)), &snaps, Some("s001"));
    assert_eq!(decisions[1].reasons, vec![KeepReason::Latest]);
}

#[test]
fn a_parent_outside_the_list_ends_the_chain() {
    let snaps = vec![incremental("inc", at(2024, 1, 1, 0), "gone")];
    assert_eq!(kept(last(1), &snaps), ids(&["inc"]));
}

#[test]
fn restic_example_daily_and_weekly() {
    // Two snapshots a day for three weeks (Mon 2024-01-01 ..), at 08:00 and 20:00.
    let snaps: Vec<SnapshotInfo> = (0..42)
        .map(|i| {
            let day = i / 2;
            let hour = if i % 2 == 0 { 8 } else { 20 };
            full(
                &format!("x{i:02}"),
                at(2024, 1, 1, hour) + chrono::Duration::days(day),
            )
        })
        .collect();
    let policy = Policy {
        keep_daily: 7,
        keep_weekly: 3,
        ..Policy::default()
    };
    let kept = kept(policy, &snaps);
    // Daily: the 20:00 of each of the last 7 days (x29, x31, ..., x41); weekly: the Sunday
    // 20:00 of each of the 3 weeks (x13, x27, x41).
    let mut expected: Vec<String> = (0..7).map(|d| format!("x{:02}", 29 + 2 * d)).collect();
    expected.extend(["x13".to_string(), "x27".to_string()]);
    expected.sort();
    assert_eq!(kept, expected);
}

#[test]
fn describe_names_the_rules_that_keep_something() {
    let policy = Policy {
        keep_last: 3,
        keep_monthly: 12,
        ..Policy::default()
    };
    assert_eq!(policy.describe(), "keep_last 3, keep_monthly 12");
}
