//! Live progress of a job as Server-Sent Events: `GET /v1/jobs/{id}/events`.
//!
//! The stream follows what `GET /v1/jobs/{id}` shows — the workflow's `progress` query while the
//! job runs, the database's committed totals — and sends an event whenever it changes:
//!
//! - `progress`: records, bytes, phase or a stream's counts changed (the first event is always
//!   one, with the job as it is when the subscriber arrives);
//! - `stream_done`: a stream finished (`stream` names it), once per stream;
//! - `finished`: the job ended (`succeeded`, `failed`, `cancelled`); the stream then closes.
//!
//! Each event's `id` counts up from 1 and its data is a [`JobEvent`]. Comments keep the
//! connection alive through proxies every 15 seconds. A job that ended before the subscriber
//! came sees one `finished` event. A user's stream ends within 15 s of their sign-in ending
//! (sign-out, password change or reset); a job row gone for 10 s ends it too.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ErrorEnvelope, envelope, internal},
    jobs::{JobView, find_job, view},
    state::AppState,
};
use futures::stream::{self, BoxStream, StreamExt};
use poem::web::{Data, sse::Event};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Path,
    payload::{EventStream, Json},
    types::ToJSON,
};
use sea_orm::EntityTrait;
use std::{collections::HashSet, time::Duration};

/// How often the job is looked at while it runs.
const POLL: Duration = Duration::from_millis(500);

/// One event of a job's progress.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct JobEvent {
    /// `progress`, `stream_done` or `finished` (also the SSE event type).
    pub event: String,
    /// Counts up from 1 (also the SSE event id).
    pub seq: u64,
    /// The stream that finished, for `stream_done`.
    pub stream: Option<String>,
    /// The job as it was when the event was sent.
    pub job: JobView,
}

#[derive(ApiResponse)]
pub enum JobEventsResponse {
    /// The job's events, as `text/event-stream`, until it ends.
    #[oai(status = 200)]
    Ok(EventStream<BoxStream<'static, JobEvent>>),
    /// No such job (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}

/// What the subscriber has been told so far.
struct Follow {
    state: AppState,
    job_id: String,
    seq: u64,
    last: Option<Fingerprint>,
    streams_done: HashSet<String>,
    /// Events decided but not sent yet.
    pending: std::collections::VecDeque<JobEvent>,
    finished: bool,
    /// The subscriber's sign-in (users): the stream ends when it is signed out.
    session: Option<String>,
    ticks: u64,
    /// Looks in a row that found no job row.
    missing: u32,
}

/// The sign-in is checked again every this many looks (15 s).
const SESSION_CHECK_TICKS: u64 = 30;
/// A job row gone for this many looks (10 s) ends the stream.
const MISSING_TICKS: u32 = 20;

/// The parts of a job whose change is worth an event.
#[derive(PartialEq)]
struct Fingerprint {
    status: String,
    phase: Option<String>,
    records: u64,
    bytes: u64,
    streams: Vec<(String, String, u64, u64, u32)>,
}

impl Fingerprint {
    fn of(job: &JobView) -> Self {
        Self {
            status: job.status.clone(),
            phase: job.phase.clone(),
            records: job.records,
            bytes: job.bytes,
            streams: job
                .streams
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.status.clone(),
                        s.records,
                        s.stored_bytes,
                        s.parts,
                    )
                })
                .collect(),
        }
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled")
}

impl Follow {
    fn push(&mut self, event: &str, stream: Option<String>, job: &JobView) {
        self.seq += 1;
        self.pending.push_back(JobEvent {
            event: event.into(),
            seq: self.seq,
            stream,
            job: job.clone(),
        });
    }

    /// Looks at the job once and queues the events its change calls for.
    async fn look(&mut self) {
        self.ticks += 1;
        if self.ticks.is_multiple_of(SESSION_CHECK_TICKS)
            && let Some(session) = &self.session
            && matches!(
                entities::repo::session_is_active(&self.state.db, session).await,
                Ok(false)
            )
        {
            // Signed out (or reset): the stream ends with the sign-in.
            self.finished = true;
            return;
        }
        let row = match entities::job::Entity::find_by_id(self.job_id.as_str())
            .one(&self.state.db)
            .await
        {
            Ok(Some(row)) => row,
            // Deleted meanwhile, or the database is away: try again on the next tick, for a
            // while.
            Ok(None) | Err(_) => {
                self.missing += 1;
                if self.missing >= MISSING_TICKS {
                    self.finished = true;
                }
                return;
            }
        };
        self.missing = 0;
        let job = view(&self.state, row).await;
        let done = is_final(&job.status);
        if done && self.seq == 0 {
            // Ended before the subscriber came: the end is all there is to tell.
            self.push("finished", None, &job);
            self.finished = true;
            return;
        }
        let fingerprint = Fingerprint::of(&job);
        if !done && self.last.as_ref() != Some(&fingerprint) {
            self.push("progress", None, &job);
        }
        for s in &job.streams {
            let finished = s.status == "done" || (done && s.status == "committed");
            if finished && self.streams_done.insert(s.name.clone()) {
                self.push("stream_done", Some(s.name.clone()), &job);
            }
        }
        if done {
            self.push("finished", None, &job);
            self.finished = true;
        }
        self.last = Some(fingerprint);
    }
}

fn follow(
    state: AppState,
    job_id: String,
    session: Option<String>,
) -> BoxStream<'static, JobEvent> {
    let start = Follow {
        state,
        job_id,
        seq: 0,
        last: None,
        streams_done: HashSet::new(),
        pending: Default::default(),
        finished: false,
        session,
        ticks: 0,
        missing: 0,
    };
    stream::unfold(start, |mut f| async move {
        let mut first = f.seq == 0;
        loop {
            if let Some(event) = f.pending.pop_front() {
                return Some((event, f));
            }
            if f.finished {
                return None;
            }
            if !first {
                tokio::time::sleep(POLL).await;
            }
            first = false;
            f.look().await;
        }
    })
    .boxed()
}

fn session_of(auth: &BearerAuth) -> Option<String> {
    match auth.0.principal() {
        crate::access::Principal::User { session_id, .. } => Some(session_id.clone()),
        crate::access::Principal::ApiKey { .. } => None,
    }
}

pub struct JobEventsApi;

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobEventsApi {
    /// Follows a job's progress as Server-Sent Events (`progress`, `stream_done`, `finished`)
    /// until it ends, for dashboards that should not poll.
    #[oai(
        path = "/v1/jobs/:job_id/events",
        method = "get",
        operation_id = "followJob"
    )]
    async fn events(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        job_id: Path<String>,
    ) -> JobEventsResponse {
        match find_job(&state, &auth, &job_id).await {
            Ok(Some(job)) => JobEventsResponse::Ok(
                EventStream::new(follow(state.clone(), job.id, session_of(&auth)))
                    .keep_alive(Duration::from_secs(15))
                    .to_event(|e| {
                        Event::message(e.to_json_string())
                            .event_type(e.event.clone())
                            .id(e.seq.to_string())
                    }),
            ),
            Ok(None) => JobEventsResponse::NotFound(envelope(
                "not_found",
                format!("job {} not found", job_id.0),
            )),
            Err(e) => JobEventsResponse::Internal(internal(e)),
        }
    }
}
