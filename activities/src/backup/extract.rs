//! `backup.extract_stream`: page through one stream into parts, committing each part before it
//! counts.
//!
//! A part is closed at a page boundary once it holds `part_target_bytes`, stored under its
//! deterministic key, then recorded in `snapshot_parts` with the page token to continue from.
//! An attempt therefore resumes from the last *recorded* part — later than the heartbeat the
//! server saw, if the previous attempt died between the two — and a part stored but not recorded
//! is simply written again under the same key. Nothing is lost, nothing is stored twice.

use super::files::{self, FileTarget};
use crate::{
    context::WorkerContext,
    failure::{connector, db, not_found, permanent, quota_exhausted, storage, temporary},
};
use chrono::Utc;
use connectors::{Connector, Page, PageRequest};
use entities::{account, connection, repo, snapshot_part, source};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use std::{future::Future, sync::Arc, time::Duration};
use storage::{index::IndexBuilder, layout, part::PartWriter};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use workflows::contracts::{Checkpoint, ExtractInput};

pub async fn extract(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: ExtractInput,
) -> Result<Checkpoint, ActivityError> {
    let span = tracing::info_span!(
        "extract",
        job_id = %input.job_id,
        account_id = %input.account_id,
        source_id = %input.source_id,
        stream = %input.stream,
        attempt = ctx.info().attempt,
    );
    run(w, ctx, input).instrument(span).await
}

async fn run(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: ExtractInput,
) -> Result<Checkpoint, ActivityError> {
    let committed = repo::stream_parts(&w.db, &input.snapshot_id, &input.stream)
        .await
        .map_err(db)?;
    let mut checkpoint = resume_point(input.checkpoint.clone(), &committed);
    if checkpoint.done {
        return Ok(checkpoint);
    }
    if checkpoint.parts_committed > 0 {
        tracing::info!(
            parts = checkpoint.parts_committed,
            records = checkpoint.records,
            "resuming after committed part"
        );
    }
    let opened = open_source(w, &input).await?;
    let connector = opened.connector.clone();
    let files = FileTarget {
        account_id: &input.account_id,
        snapshot_id: &input.snapshot_id,
        connection_id: &opened.connection_id,
        recipient: &opened.recipient,
    };
    let mut extraction = Extraction {
        w,
        ctx,
        input: &input,
        recipient: opened.recipient.clone(),
        writer: None,
        blobs: Vec::new(),
        index: IndexBuilder::new(),
    };
    let deadline = Instant::now() + w.extract.chunk_duration;
    let mut page_token = checkpoint.page_token.clone();
    let mut cursor = checkpoint.cursor.clone();
    // The next page, asked for as soon as its token is known so that the platform's answer is
    // on its way while this page is archived (aborted if the attempt ends first).
    let mut next_page: Option<AbortOnDropHandle<Result<Page, connectors::ConnectorError>>> = None;
    loop {
        if ctx.is_cancelled() {
            return Err(ActivityError::cancelled());
        }
        let every = w.extract.heartbeat_every;
        let page = match next_page.take() {
            Some(task) => heartbeating(ctx, &checkpoint, every, task)
                .await
                .map_err(|e| temporary("Interrupted", format!("reading a page stopped: {e}")))?,
            None => {
                let request = page_request(&input, &page_token, &cursor);
                heartbeating(ctx, &checkpoint, every, connector.read_page(&request)).await
            }
        }
        .map_err(|e| connector_failure(w, e))?;
        // Pages with files are not read ahead: their downloads use the connector in order.
        if page.next_page_token.is_some() && page.records.iter().all(|r| r.file.is_none()) {
            let request = page_request(
                &input,
                &page.next_page_token,
                &page.cursor.clone().or_else(|| cursor.clone()),
            );
            let connector = connector.clone();
            next_page = Some(AbortOnDropHandle::new(tokio::spawn(
                async move { connector.read_page(&request).await }.in_current_span(),
            )));
        }
        for record in &page.records {
            if let Some(file) = &record.file {
                let (line, blob) = heartbeating(
                    ctx,
                    &checkpoint,
                    w.extract.heartbeat_every,
                    files::store_record(w, connector.as_ref(), &files, record, file),
                )
                .await?;
                extraction.blobs.extend(blob);
                extraction.write(record, &line)?;
            } else {
                extraction.write(record, record.json.get().as_bytes())?;
            }
        }
        let writer = extraction.writer()?;
        page_token = page.next_page_token;
        cursor = page.cursor.or(cursor);
        let done = page_token.is_none();
        if done || writer.raw_bytes() >= w.extract.part_target_bytes {
            extraction
                .commit(&mut checkpoint, &page_token, &cursor)
                .await?;
            checkpoint.done = done;
            // The stream is complete even if its last page added nothing to commit.
            checkpoint.page_token = page_token.clone();
            checkpoint.cursor = cursor.clone();
            if done || Instant::now() >= deadline {
                let _ = ctx.record_heartbeat(checkpoint.clone()).await;
                return Ok(checkpoint);
            }
        }
    }
}

/// The request for the page at `page_token`, with the stream's `cursor` so far.
fn page_request(
    input: &ExtractInput,
    page_token: &Option<String>,
    cursor: &Option<Value>,
) -> PageRequest {
    PageRequest {
        stream: input.stream.clone(),
        page_token: page_token.clone(),
        since: input.since.clone(),
        cursor: cursor.clone(),
    }
}

fn connector_failure(w: &WorkerContext, e: connectors::ConnectorError) -> ActivityError {
    // The HTTP client waits out a `Retry-After` up to its limit; a longer one is a quota that
    // resets later (a daily quota), which the workflow sleeps through.
    match e.retry_after {
        Some(wait)
            if e.kind == connectors::ErrorKind::RateLimited
                && wait > w.http.retry_settings().max_retry_after =>
        {
            quota_exhausted(wait, e.to_string())
        }
        _ => {
            tracing::warn!(error = %e, "page failed");
            connector(e)
        }
    }
}

/// The later of the workflow's checkpoint and the parts recorded in the database.
fn resume_point(from_workflow: Checkpoint, committed: &[snapshot_part::Model]) -> Checkpoint {
    let Some(last) = committed.last() else {
        return from_workflow;
    };
    if (last.part_no as u32) < from_workflow.parts_committed {
        return from_workflow;
    }
    Checkpoint {
        parts_committed: last.part_no as u32,
        page_token: last.cursor_after.as_str().map(str::to_owned),
        cursor: Some(last.stream_cursor.clone()).filter(|c| !c.is_null()),
        records: committed.iter().map(|p| p.records as u64).sum(),
        raw_bytes: committed.iter().map(|p| p.raw_bytes as u64).sum(),
        stored_bytes: committed.iter().map(|p| p.stored_bytes as u64).sum(),
        done: last.cursor_after.is_null(),
    }
}

/// What extracting a source's stream needs.
struct OpenedSource {
    connector: Arc<dyn Connector>,
    connection_id: String,
    /// The account's age recipient, which parts and blobs are encrypted to.
    recipient: String,
}

/// Builds the platform connector from the sealed credentials, and finds the account's recipient.
async fn open_source(
    w: &WorkerContext,
    input: &ExtractInput,
) -> Result<OpenedSource, ActivityError> {
    let source = source::Entity::find_by_id(&input.source_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("source", &input.source_id))?;
    let conn = connection::Entity::find_by_id(&source.connection_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("connection", &source.connection_id))?;
    let account = account::Entity::find_by_id(&source.account_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("account", &source.account_id))?;
    let credentials: Value = w
        .master
        .open_string(&conn.credentials_sealed)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| {
            permanent(
                "ConfigError",
                format!(
                    "credentials of connection {} cannot be opened with this master key",
                    conn.id
                ),
            )
        })?;
    // OAuth tokens live in the connection's row, so every job and worker shares one refresh.
    let tokens: Option<Arc<dyn connectors::oauth::TokenStore>> =
        match connectors::platform(&conn.platform) {
            Some(info) if info.auth == connectors::AuthKind::OAuth2 => Some(Arc::new(
                crate::tokens::DbTokenStore::new(w.db.clone(), w.master.clone(), &conn.id, info.id),
            )),
            _ => None,
        };
    // Rate budgets live in the database, so all jobs and workers of the connection (and of
    // its account or app key) pace against one schedule.
    let http = w
        .http
        .clone()
        .with_budgets(w.budgets.for_connection(&conn.id));
    let connector =
        connectors::build_with_tokens(&conn.platform, &credentials, &conn.config, &http, tokens)
            .map_err(connector)?;
    Ok(OpenedSource {
        connector,
        connection_id: conn.id,
        recipient: account.encryption_recipient,
    })
}

/// The distinct blobs of a part, sorted, as stored in its row; `None` for a part without files.
fn part_blobs(mut blobs: Vec<String>) -> Option<Value> {
    if blobs.is_empty() {
        return None;
    }
    blobs.sort_unstable();
    blobs.dedup();
    Some(json!(blobs))
}

/// Awaits `work`, heartbeating `details` (the last checkpoint, for extraction) meanwhile, so a
/// slow page or a long `Retry-After` never looks like a dead worker.
pub(super) async fn heartbeating<F: Future, D: serde::Serialize + Clone + 'static>(
    ctx: &ActivityContext,
    details: &D,
    every: Duration,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticker.tick() => {
                let _ = ctx.record_heartbeat(details.clone()).await;
            }
        }
    }
}

/// The part being filled and what committing it needs.
struct Extraction<'a> {
    w: &'a WorkerContext,
    ctx: &'a ActivityContext,
    input: &'a ExtractInput,
    recipient: String,
    writer: Option<PartWriter>,
    /// The blobs the open part's records refer to.
    blobs: Vec<String>,
    /// The open part's record index: each record's platform id and line.
    index: IndexBuilder,
}

impl Extraction<'_> {
    fn writer(&mut self) -> Result<&mut PartWriter, ActivityError> {
        if self.writer.is_none() {
            self.writer = Some(PartWriter::new(&self.recipient, 3).map_err(storage)?);
        }
        Ok(self.writer.as_mut().expect("writer was just created"))
    }

    /// Appends `record`, stored as `line`, to the open part and its index (JSON the platform
    /// pretty-printed is stored compact: a part holds one record per line).
    fn write(&mut self, record: &connectors::Record, line: &[u8]) -> Result<(), ActivityError> {
        let compact = storage::part::one_line(line);
        let line: &[u8] = &compact;
        let writer = self.writer()?;
        let at = writer.records();
        writer.write_record(line).map_err(storage)?;
        self.index.add(&record.id, at, line, record.deleted);
        Ok(())
    }

    /// Stores the open part (if it holds records) and records it; advances `checkpoint`.
    async fn commit(
        &mut self,
        checkpoint: &mut Checkpoint,
        page_token: &Option<String>,
        cursor: &Option<Value>,
    ) -> Result<(), ActivityError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        if writer.records() == 0 {
            return Ok(());
        }
        let sealed = writer.finish().map_err(storage)?;
        let input = self.input;
        let part_no = checkpoint.parts_committed + 1;
        let key = layout::part_key(
            &input.account_id,
            &input.source_id,
            &input.snapshot_id,
            &input.stream,
            part_no,
        );
        let stored_bytes = sealed.body.len() as u64;
        self.w.store.put(&key, sealed.body).await.map_err(storage)?;
        // The index goes under its own deterministic key, before the part is recorded: a
        // retried attempt overwrites both, and finalize keeps both once the row lists them.
        let index = std::mem::take(&mut self.index)
            .seal(&self.recipient, &layout::index_key(&key), &sealed.frames)
            .map_err(storage)?;
        let index_meta = serde_json::to_value(&index.meta).expect("index metadata serialises");
        self.w
            .store
            .put(&index.meta.key, index.body)
            .await
            .map_err(storage)?;
        let row = snapshot_part::Model {
            id: entities::new_id(),
            snapshot_id: input.snapshot_id.clone(),
            stream: input.stream.clone(),
            part_no: part_no as i32,
            key: key.clone(),
            records: sealed.records as i64,
            raw_bytes: sealed.raw_bytes as i64,
            stored_bytes: stored_bytes as i64,
            sha256: sealed.sha256,
            cursor_after: json!(page_token),
            stream_cursor: cursor.clone().unwrap_or(Value::Null),
            blobs: part_blobs(std::mem::take(&mut self.blobs)),
            record_index: Some(index_meta),
            created_at: Utc::now(),
        };
        repo::commit_part(&self.w.db, row).await.map_err(db)?;
        checkpoint.parts_committed = part_no;
        checkpoint.page_token = page_token.clone();
        checkpoint.cursor = cursor.clone();
        checkpoint.records += sealed.records;
        checkpoint.raw_bytes += sealed.raw_bytes;
        checkpoint.stored_bytes += stored_bytes;
        tracing::info!(
            part = part_no,
            records = sealed.records,
            stored_bytes,
            total_records = checkpoint.records,
            "part committed"
        );
        let _ = self.ctx.record_heartbeat(checkpoint.clone()).await;
        super::finalize::publish_progress(self.w, &input.job_id, &input.snapshot_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(no: i32, cursor_after: Value, records: i64) -> snapshot_part::Model {
        snapshot_part::Model {
            id: format!("prt_{no}"),
            snapshot_id: "snp".into(),
            stream: "customers".into(),
            part_no: no,
            key: format!("k{no}"),
            records,
            raw_bytes: records * 10,
            stored_bytes: records,
            sha256: String::new(),
            cursor_after,
            stream_cursor: json!(1700000000 + no),
            blobs: None,
            record_index: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn resumes_from_recorded_parts_ahead_of_the_workflow() {
        let parts = vec![part(1, json!("cus_a"), 100), part(2, json!("cus_b"), 50)];
        let cp = resume_point(Checkpoint::default(), &parts);
        assert_eq!(cp.parts_committed, 2);
        assert_eq!(cp.page_token.as_deref(), Some("cus_b"));
        assert_eq!(cp.records, 150);
        assert_eq!(cp.raw_bytes, 1500);
        assert_eq!(cp.cursor, Some(json!(1700000002)));
        assert!(!cp.done);
    }

    #[test]
    fn a_last_part_without_a_next_page_means_done() {
        let parts = vec![part(1, Value::Null, 10)];
        assert!(resume_point(Checkpoint::default(), &parts).done);
    }

    #[test]
    fn nothing_recorded_keeps_the_workflow_checkpoint() {
        let from = Checkpoint {
            page_token: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(resume_point(from.clone(), &[]), from);
    }
}
