//! Which snapshots a retention policy keeps: a pure function of the policy and a source's
//! snapshots, shared by the API's dry runs and `RetentionWorkflow`.
//!
//! The counts follow restic's `forget --keep-*`. Complete snapshots are taken newest first;
//! `keep_last` keeps the first N; each period rule (`keep_daily`, `keep_weekly` (ISO weeks),
//! `keep_monthly`, `keep_yearly`, periods in UTC) keeps a snapshot when it is in a period other
//! than the last one that rule kept from, until the rule has kept N: the newest snapshot of each
//! of the N most recent periods that have one. A snapshot kept by several rules is kept once,
//! with every reason.
//!
//! On top of the policy, and whatever it says:
//! - snapshots that are not complete (`writing`, `failed`, `cancelled`) are not candidates: a
//!   backup is writing them, or a retry may continue them;
//! - the source's latest snapshot (what the next sync continues from) is kept;
//! - every snapshot a kept snapshot depends on — its parent, and the parent's parent, back to the
//!   last full snapshot — is kept, so every kept incremental snapshot still restores;
//! - a policy that keeps nothing (every count zero) keeps everything, like no policy.

use crate::SnapshotStatus;
use chrono::{DateTime, Datelike, Utc};
use std::collections::{BTreeMap, HashMap};

/// The counts of a retention policy; zero means the rule keeps nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
}

impl Policy {
    /// True when no rule keeps anything.
    pub fn keeps_nothing(&self) -> bool {
        self.keep_last == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
            && self.keep_yearly == 0
    }

    /// `keep_last 3, keep_daily 7`: the rules that keep something.
    pub fn describe(&self) -> String {
        [
            ("keep_last", self.keep_last),
            ("keep_daily", self.keep_daily),
            ("keep_weekly", self.keep_weekly),
            ("keep_monthly", self.keep_monthly),
            ("keep_yearly", self.keep_yearly),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(rule, n)| format!("{rule} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// What the selection needs to know of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: String,
    pub status: SnapshotStatus,
    /// When the backup started: the moment the snapshot stands for.
    pub created_at: DateTime<Utc>,
    /// The snapshot an incremental one continues (`None` for a full one).
    pub parent_snapshot_id: Option<String>,
}

/// Why a snapshot is kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeepReason {
    /// One of the `keep_last` newest.
    Last,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    /// Not complete: being written, or a failed or cancelled one a retry may continue.
    NotComplete,
    /// The source's latest snapshot, which the next sync continues from.
    Latest,
    /// An incremental snapshot kept for another reason depends on it (its id).
    ParentOf(String),
    /// There is no policy, or it keeps nothing.
    NoPolicy,
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Last => f.write_str("keep_last"),
            Self::Daily => f.write_str("keep_daily"),
            Self::Weekly => f.write_str("keep_weekly"),
            Self::Monthly => f.write_str("keep_monthly"),
            Self::Yearly => f.write_str("keep_yearly"),
            Self::NotComplete => f.write_str("not complete"),
            Self::Latest => f.write_str("latest snapshot of the source"),
            Self::ParentOf(id) => write!(f, "parent of {id}"),
            Self::NoPolicy => f.write_str("no policy"),
        }
    }
}

/// The decision about one snapshot: kept (with every reason) or expired (no reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub reasons: Vec<KeepReason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The period a rule groups snapshots by; equal keys are the same period.
fn period(rule: usize, at: &DateTime<Utc>) -> (i32, u32) {
    match rule {
        0 => (at.year(), at.ordinal()),
        1 => {
            let week = at.iso_week();
            (week.year(), week.week())
        }
        2 => (at.year(), at.month()),
        _ => (at.year(), 0),
    }
}

/// Decides, for every snapshot of one source, whether `policy` keeps it. `latest` is the
/// source's latest snapshot (kept whatever the policy says). The answer is in the order of
/// `snapshots`.
pub fn select(
    policy: Option<&Policy>,
    snapshots: &[SnapshotInfo],
    latest: Option<&str>,
) -> Vec<Decision> {
    let mut reasons: BTreeMap<&str, Vec<KeepReason>> = BTreeMap::new();
    let policy = match policy {
        Some(p) if !p.keeps_nothing() => *p,
        _ => {
            return snapshots
                .iter()
                .map(|s| Decision {
                    id: s.id.clone(),
                    reasons: vec![KeepReason::NoPolicy],
                })
                .collect();
        }
    };
    let mut complete: Vec<&SnapshotInfo> = snapshots
        .iter()
        .filter(|s| s.status == SnapshotStatus::Complete)
        .collect();
    // Newest first; ids (UUIDv7) break ties in creation order.
    complete.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let mut last = policy.keep_last;
    let rules = [
        (KeepReason::Daily, policy.keep_daily),
        (KeepReason::Weekly, policy.keep_weekly),
        (KeepReason::Monthly, policy.keep_monthly),
        (KeepReason::Yearly, policy.keep_yearly),
    ];
    let mut remaining: Vec<u32> = rules.iter().map(|(_, n)| *n).collect();
    let mut last_period: Vec<Option<(i32, u32)>> = vec![None; rules.len()];
    for snap in complete {
        let entry = reasons.entry(snap.id.as_str()).or_default();
        if last > 0 {
            last -= 1;
            entry.push(KeepReason::Last);
        }
        for (i, (reason, _)) in rules.iter().enumerate() {
            let p = period(i, &snap.created_at);
            if remaining[i] > 0 && last_period[i] != Some(p) {
                remaining[i] -= 1;
                last_period[i] = Some(p);
                entry.push(reason.clone());
            }
        }
    }
    for snap in snapshots {
        if snap.status != SnapshotStatus::Complete {
            reasons
                .entry(snap.id.as_str())
                .or_default()
                .push(KeepReason::NotComplete);
        }
        if latest == Some(snap.id.as_str()) {
            reasons
                .entry(snap.id.as_str())
                .or_default()
                .push(KeepReason::Latest);
        }
    }
    // Chains: every kept snapshot keeps its parents, back to the full one.
    let parents: HashMap<&str, &str> = snapshots
        .iter()
        .filter_map(|s| Some((s.id.as_str(), s.parent_snapshot_id.as_deref()?)))
        .collect();
    let kept: Vec<&str> = reasons
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(id, _)| *id)
        .collect();
    for start in kept {
        let mut child = start;
        while let Some(parent) = parents.get(child).copied() {
            let Some(snap) = snapshots.iter().find(|s| s.id == parent) else {
                break;
            };
            let entry = reasons.entry(snap.id.as_str()).or_default();
            // A parent that some child kept already had its own ancestors kept then.
            let walked = entry.iter().any(|r| matches!(r, KeepReason::ParentOf(_)));
            entry.push(KeepReason::ParentOf(child.to_owned()));
            if walked {
                break;
            }
            child = parent;
        }
    }
    snapshots
        .iter()
        .map(|s| Decision {
            id: s.id.clone(),
            reasons: reasons.remove(s.id.as_str()).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
