//! The activities of `VerifyWorkflow`: read the manifest, check its objects chunk by chunk,
//! record the verdict.
//!
//! Each call reads the manifest again (it is small and immutable), so a chunk needs nothing
//! from history but its group and start index, and a retried chunk checks the same objects.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, permanent, storage},
};
use entities::{SnapshotStatus, account, blob, repo, snapshot};
use sea_orm::EntityTrait;
use std::{sync::Arc, time::Duration};
use storage::{
    StorageError,
    keys::AccountKey,
    layout::blob_key,
    manifest::Manifest,
    reader,
    verify::{self, BlobRecord, Checked, Problem, ProblemKind},
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::time::Instant;
use workflows::contracts::{
    self, FinishVerifyInput, PassPlan, PassVerification, VerifyChunk, VerifyGroup, VerifyInput,
    VerifyObjectsInput, VerifyPassInput, VerifyPlan, VerifyProblem, VerifyTally,
};

/// How long one `verify.objects` call checks before it hands its tally back.
const CHUNK: Duration = Duration::from_secs(60);

/// Implements the verification contracts in `workflows::contracts`.
pub struct VerifyActivities {
    pub ctx: WorkerContext,
}

impl VerifyActivities {
    pub fn new(ctx: WorkerContext) -> Self {
        Self { ctx }
    }
}

#[activities]
impl VerifyActivities {
    #[activity(definition = contracts::PlanVerification)]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: VerifyInput,
    ) -> Result<VerifyPlan, ActivityError> {
        plan(&self.ctx, &input).await
    }

    #[activity(definition = contracts::VerifyObjects)]
    pub async fn objects(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: VerifyObjectsInput,
    ) -> Result<VerifyChunk, ActivityError> {
        check_objects(&self.ctx, &ctx, &input).await
    }

    #[activity(definition = contracts::StartVerifyPass)]
    pub async fn start_pass(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: VerifyPassInput,
    ) -> Result<PassPlan, ActivityError> {
        // The pass's run id keys its verifications, so a retried call finds the ones it made.
        let pass_id = ctx
            .info()
            .workflow_run_id
            .clone()
            .ok_or_else(|| permanent("InvalidState", "a pass runs inside a workflow"))?;
        let rows = repo::start_verify_pass(&self.ctx.db, &input.account_id, &pass_id)
            .await
            .map_err(db)?;
        tracing::info!(account_id = %input.account_id, verifications = rows.len(), "verification pass started");
        Ok(PassPlan {
            verifications: rows
                .into_iter()
                .map(|(row, platform)| PassVerification {
                    workflow_id: row.workflow_id.clone(),
                    platform,
                    input: VerifyInput {
                        verification_id: row.id,
                        account_id: row.account_id,
                        source_id: row.source_id,
                        snapshot_id: row.snapshot_id,
                        // A scheduled pass has no key of an account that holds its own.
                        key_queue: None,
                    },
                })
                .collect(),
        })
    }

    #[activity(definition = contracts::FinishVerification)]
    pub async fn finish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinishVerifyInput,
    ) -> Result<String, ActivityError> {
        let tally = &input.tally;
        let outcome = repo::VerificationOutcome {
            decrypted: input.decrypted,
            objects_checked: tally.objects,
            bytes_checked: tally.bytes,
            records_counted: tally.records,
            problems: tally
                .problems
                .iter()
                .map(|p| serde_json::json!({"key": p.key, "kind": p.kind, "detail": p.detail}))
                .collect(),
            problem_count: tally.problem_count,
            error: input.error.clone(),
        };
        if let Some(row) = repo::finish_verification(&self.ctx.db, &input.verification_id, &outcome)
            .await
            .map_err(db)?
        {
            tracing::info!(
                verification_id = %row.id,
                snapshot_id = %row.snapshot_id,
                status = %row.status,
                objects = row.objects_checked,
                problems = row.problem_count,
                "verification finished"
            );
        }
        Ok(outcome.status().to_owned())
    }
}

fn problem(p: Problem) -> VerifyProblem {
    VerifyProblem {
        key: p.key,
        kind: p.kind.as_str().to_owned(),
        detail: p.detail,
    }
}

/// The snapshot, which must be complete, and its manifest key.
async fn complete_snapshot(
    w: &WorkerContext,
    snapshot_id: &str,
) -> Result<(snapshot::Model, String), ActivityError> {
    let snap = snapshot::Entity::find_by_id(snapshot_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("snapshot", snapshot_id))?;
    match (&snap.status, snap.manifest_key.clone()) {
        (SnapshotStatus::Complete, Some(key)) => Ok((snap, key)),
        _ => Err(permanent(
            "InvalidState",
            format!("snapshot {snapshot_id} is not complete: it has nothing to verify"),
        )),
    }
}

/// The manifest, or the problem that makes it unusable.
async fn load_manifest(
    w: &WorkerContext,
    key: &str,
    snapshot_id: &str,
) -> Result<Result<Manifest, Problem>, ActivityError> {
    match reader::read_manifest(&w.store, key).await {
        Ok(m) if m.snapshot_id == snapshot_id => Ok(Ok(m)),
        Ok(m) => Ok(Err(Problem::new(
            key,
            ProblemKind::Unreadable,
            format!("the manifest describes snapshot {}", m.snapshot_id),
        ))),
        Err(StorageError::NotFound { .. }) => Ok(Err(Problem::new(
            key,
            ProblemKind::Missing,
            "the manifest is not in the store",
        ))),
        Err(e) if e.is_permanent() => Ok(Err(Problem::new(
            key,
            ProblemKind::Unreadable,
            e.to_string(),
        ))),
        Err(e) => Err(storage(e)),
    }
}

/// The account's identity when the service holds it; for an account that holds its own, the
/// one it sent for this verification if this process holds it; otherwise `None`.
async fn account_identity(
    w: &WorkerContext,
    account_id: &str,
    verification_id: &str,
) -> Result<Option<Arc<AccountKey>>, ActivityError> {
    let acct = account::Entity::find_by_id(account_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("account", account_id))?;
    match acct.encryption_identity_sealed {
        None => Ok(w.held.get(verification_id)),
        Some(sealed) => AccountKey::open_with(&w.master, &sealed)
            .map(|key| Some(Arc::new(key)))
            .map_err(|e| permanent("ConfigError", format!("account key: {e}"))),
    }
}

async fn plan(w: &WorkerContext, input: &VerifyInput) -> Result<VerifyPlan, ActivityError> {
    let (snap, key) = complete_snapshot(w, &input.snapshot_id).await?;
    let manifest = match load_manifest(w, &key, &snap.id).await? {
        Ok(m) => m,
        Err(p) => {
            // Nothing else will be checked: a key held for this verification is let go.
            w.held.release(&input.verification_id);
            return Ok(VerifyPlan {
                problems: vec![problem(p)],
                ..VerifyPlan::default()
            });
        }
    };
    let identity = account_identity(w, &snap.account_id, &input.verification_id).await?;
    let mut problems = Vec::new();
    if let Some(key_) = &identity
        && let Err(e) = reader::check_recipient(&manifest, key_.identity())
    {
        problems.push(problem(Problem::new(
            &key,
            ProblemKind::Unreadable,
            e.to_string(),
        )));
    }
    if manifest.streams.is_empty() {
        w.held.release(&input.verification_id);
    }
    Ok(VerifyPlan {
        streams: manifest
            .streams
            .iter()
            .map(|s| (s.name.clone(), s.parts.len() as u64))
            .collect(),
        blobs: blobs_of(&manifest).len() as u64,
        decrypt: identity.is_some() && problems.is_empty(),
        problems,
    })
}

/// The distinct blobs a manifest's parts refer to, sorted.
fn blobs_of(manifest: &Manifest) -> Vec<String> {
    let mut blobs: Vec<String> = manifest
        .parts()
        .flat_map(|(_, part)| part.blobs.iter().cloned())
        .collect();
    blobs.sort_unstable();
    blobs.dedup();
    blobs
}

async fn check_objects(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: &VerifyObjectsInput,
) -> Result<VerifyChunk, ActivityError> {
    let (snap, key) = complete_snapshot(w, &input.snapshot_id).await?;
    let manifest = match load_manifest(w, &key, &snap.id).await? {
        Ok(m) => m,
        // It was readable when planned: it has been damaged or removed since.
        Err(p) => {
            let mut tally = VerifyTally::default();
            tally.problem(problem(p));
            return Ok(VerifyChunk { tally, next: None });
        }
    };
    let identity = if input.decrypt {
        let key = account_identity(w, &snap.account_id, &input.verification_id).await?;
        // Planned to decrypt, so the key was there: a process that lost it cannot go on.
        Some(key.ok_or_else(|| {
            permanent(
                "InvalidState",
                "the key sent for this verification is no longer held (the process holding it \
                 restarted, or its time ran out): verify again",
            )
        })?)
    } else {
        None
    };
    let identity = identity.as_deref().map(AccountKey::identity);
    let started = Instant::now();
    let mut tally = VerifyTally::default();
    let mut index = input.start;
    let total;
    match &input.group {
        VerifyGroup::Stream(name) => {
            let parts = manifest
                .stream(name)
                .map(|s| s.parts.as_slice())
                .unwrap_or_default();
            total = parts.len() as u64;
            while index < total && (index == input.start || started.elapsed() < CHUNK) {
                let part = &parts[index as usize];
                let checked = verify::check_part(&w.store, identity, part)
                    .await
                    .map_err(storage)?;
                record(&mut tally, checked);
                // The part's record index, written with it, is one of the snapshot's objects.
                if let Some(checked) = verify::check_index(&w.store, identity, part)
                    .await
                    .map_err(storage)?
                {
                    record(&mut tally, checked);
                }
                index += 1;
                let _ = ctx.record_heartbeat(index).await;
            }
        }
        VerifyGroup::Blobs => {
            let blobs = blobs_of(&manifest);
            total = blobs.len() as u64;
            while index < total && (index == input.start || started.elapsed() < CHUNK) {
                let sha256 = &blobs[index as usize];
                let row = blob::Entity::find_by_id((snap.account_id.clone(), sha256.clone()))
                    .one(&w.db)
                    .await
                    .map_err(db)?;
                let record_ = row.map(|r| BlobRecord {
                    stored_bytes: r.stored_bytes.max(0) as u64,
                    stored_sha256: r.stored_sha256,
                });
                let object = blob_key(&snap.account_id, sha256);
                let checked =
                    verify::check_blob(&w.store, identity, &object, sha256, record_.as_ref())
                        .await
                        .map_err(storage)?;
                record(&mut tally, checked);
                index += 1;
                let _ = ctx.record_heartbeat(index).await;
            }
        }
    }
    let next = (index < total).then_some(index);
    if next.is_none() && input.last_group {
        // The last check done: a key held for this verification is let go.
        w.held.release(&input.verification_id);
    }
    Ok(VerifyChunk { tally, next })
}

fn record(tally: &mut VerifyTally, checked: Checked) {
    tally.objects += 1;
    tally.bytes += checked.bytes;
    tally.records += checked.records;
    if let Some(p) = checked.problem {
        tracing::warn!(key = %p.key, kind = p.kind.as_str(), detail = %p.detail, "verification found a damaged object");
        tally.problem(problem(p));
    }
}
