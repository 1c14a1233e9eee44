//! The client portal: what a signed-in user reaches through client grants (their own, accepted
//! by email, and their teams'), and nothing else.
//!
//! These operations check grants themselves and never consult account roles, and the rest of
//! the API never counts a grant as reaching an account: a client sees the granted sources, their
//! jobs and snapshots (`read`) and their contents (`restore`), but no other source, no other
//! client, and none of the account's settings. A source that is not granted (or whose grant
//! expired or was revoked) answers 404 like one that does not exist. An account that requires a
//! second factor withholds its grants from users who have none. Every call is written to the
//! account's activity log (`portal.*`, by `user:{id}`).

use crate::{
    ApiTags,
    auth::BearerAuth,
    client_grants::PortalAccess,
    error::{ApiError, respond},
    operation_response,
    pagination::{Page, PageRequest},
    password_reset::invalid_token,
    snapshots::{
        DownloadFormat, SnapshotView, StreamView, WithZstd, download_response, read_records,
        records_response, snapshot_view, stream_download, stream_list,
    },
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{account, client_grant, job, repo, repo::GrantedSource, snapshot, user};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How an account presents itself to its clients.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalBranding {
    pub display_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub support_email: Option<String>,
}

/// A grant you hold.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalGrantView {
    pub id: String,
    pub account_id: String,
    /// The granting account, as it presents itself.
    pub branding: PortalBranding,
    pub access: PortalAccess,
    /// The team you hold it through (a grant to a team).
    pub team_id: Option<String>,
    /// When it ends, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// The sources it reaches now.
    pub source_ids: Vec<String>,
}

/// A source you reach through a grant, with the highest access your grants give on it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalSourceView {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub platform: String,
    pub access: PortalAccess,
    pub created_at: DateTime<Utc>,
}

/// A run of a backup or sync of a source you reach.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PortalJobView {
    pub id: String,
    pub source_id: String,
    /// `backup` or `sync`.
    pub kind: String,
    /// `queued`, `running`, `needs_reauth`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub snapshot_id: String,
    pub records: u64,
    pub bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The token from a client grant's email.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct AcceptClientGrant {
    pub token: String,
}

/// What a signed-in user reaches through grants, resolved once per request.
struct Reach {
    grants: Vec<client_grant::Model>,
    sources: BTreeMap<String, GrantedSource>,
}

impl Reach {
    /// The user's live grants — their own and their teams' — less those of accounts that
    /// require a second factor they lack, and the sources these reach.
    async fn load(db: &impl ConnectionTrait, u: &user::Model) -> Result<Self, ApiError> {
        let mut grants = repo::live_client_grants(db, &u.id).await?;
        if u.mfa_enabled_at.is_none() {
            let accounts: BTreeSet<String> = grants.iter().map(|g| g.account_id.clone()).collect();
            let mut held_back = BTreeSet::new();
            for id in accounts {
                if repo::requires_second_factor(db, &id).await? {
                    held_back.insert(id);
                }
            }
            grants.retain(|g| !held_back.contains(&g.account_id));
        }
        let sources = repo::granted_sources(db, &grants).await?;
        Ok(Self { grants, sources })
    }

    /// A granted source; 404 for any other.
    fn source(&self, id: &str) -> Result<&GrantedSource, ApiError> {
        self.sources
            .get(id)
            .ok_or_else(|| ApiError::not_found("source", id))
    }

    /// A snapshot of a granted source; 404 for any other.
    async fn snapshot(
        &self,
        db: &impl ConnectionTrait,
        id: &str,
    ) -> Result<(snapshot::Model, &GrantedSource), ApiError> {
        let snap = snapshot::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(|| ApiError::not_found("snapshot", id))?;
        let granted = self
            .sources
            .get(&snap.source_id)
            .filter(|g| g.source.account_id == snap.account_id)
            .ok_or_else(|| ApiError::not_found("snapshot", id))?;
        Ok((snap, granted))
    }
}

/// The signed-in user (403 `user_required` for an API key) and what they reach.
async fn reach(state: &AppState, auth: &BearerAuth) -> Result<Reach, ApiError> {
    let u = crate::mfa::signed_in_user(state, auth).await?;
    Reach::load(&state.db, &u).await
}

/// Contents need `restore` access: 403 `access_too_low` with `read`.
fn require_restore(granted: &GrantedSource) -> Result<(), ApiError> {
    if granted.access == repo::ACCESS_RESTORE {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "access_too_low",
            format!(
                "your access to source {} is `read`: records and downloads need `restore`",
                granted.source.id
            ),
        ))
    }
}

/// Writes a portal call to the source's account's log. Reads of contents log before they read
/// (no unlogged read); listings log after, and a listing whose entry cannot be written is still
/// answered (the failure is logged here).
async fn log(
    state: &AppState,
    auth: &BearerAuth,
    granted: &GrantedSource,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let mut details = details;
    details["grants"] = json!(granted.grant_ids);
    crate::activity::record(
        &state.db,
        &auth.0,
        &granted.source.account_id,
        action,
        ("source", &granted.source.id),
        details,
    )
    .await
}

/// Writes a listing that spans every account of `grants` to each of their logs, best effort.
async fn log_accounts(
    state: &AppState,
    auth: &BearerAuth,
    grants: &[client_grant::Model],
    action: &str,
) {
    let mut by_account: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in grants {
        by_account
            .entry(g.account_id.as_str())
            .or_default()
            .push(g.id.as_str());
    }
    let written = async {
        let txn = state.db.begin().await?;
        for (account_id, ids) in by_account {
            crate::activity::record(
                &txn,
                &auth.0,
                account_id,
                action,
                ("account", account_id),
                json!({"grants": ids}),
            )
            .await?;
        }
        txn.commit().await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = written {
        tracing::warn!(action, error = %e.message(), "portal listing not logged");
    }
}

/// The views of `grants`, each with its account's branding and the sources it reaches.
async fn grant_views(
    state: &AppState,
    grants: &[client_grant::Model],
    sources: &BTreeMap<String, GrantedSource>,
) -> Result<Vec<PortalGrantView>, ApiError> {
    let mut brands: HashMap<String, PortalBranding> = HashMap::new();
    let mut out = Vec::with_capacity(grants.len());
    for g in grants {
        if !brands.contains_key(&g.account_id) {
            let Some(acct) = account::Entity::find_by_id(g.account_id.as_str())
                .one(&state.db)
                .await?
            else {
                continue;
            };
            let b = crate::branding::effective(&state.db, &acct).await?;
            brands.insert(
                g.account_id.clone(),
                PortalBranding {
                    display_name: b.display_name,
                    logo_url: b.logo_url,
                    primary_color: b.primary_color,
                    accent_color: b.accent_color,
                    support_email: b.support_email,
                },
            );
        }
        out.push(PortalGrantView {
            id: g.id.clone(),
            account_id: g.account_id.clone(),
            branding: brands[&g.account_id].clone(),
            access: PortalAccess::parse(&g.access),
            team_id: g.team_id.clone(),
            expires_at: g.expires_at,
            source_ids: sources
                .values()
                .filter(|s| s.grant_ids.contains(&g.id))
                .map(|s| s.source.id.clone())
                .collect(),
        });
    }
    Ok(out)
}

operation_response!(AcceptClientGrantResponse, 200, "The grant you now hold.", Ok(PortalGrantView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "The grant is for another email (`grant_for_another_email`), the granting account requires a second factor you do not have (`mfa_required`; the token stays usable), or an API key (`user_required`).",
    422 => Unprocessable: "The token is unknown, used, revoked or expired (`invalid_token`).",
});

operation_response!(ListPortalGrantsResponse, 200, "The grants you hold now.", Ok(Vec<PortalGrantView>), {
    403 => Forbidden: "An API key (`user_required`): the portal is for signed-in users.",
});

operation_response!(ListPortalSourcesResponse, 200, "A page of the sources you reach, by id.", Ok(Page<PortalSourceView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    403 => Forbidden: "An API key (`user_required`).",
});

operation_response!(ListPortalJobsResponse, 200, "A page of the source's jobs, newest first.", Ok(Page<PortalJobView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    403 => Forbidden: "An API key (`user_required`).",
    404 => NotFound: "No such source among those you reach.",
});

operation_response!(ListPortalSnapshotsResponse, 200, "A page of the source's snapshots, newest first.", Ok(Page<SnapshotView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    403 => Forbidden: "An API key (`user_required`).",
    404 => NotFound: "No such source among those you reach.",
});

operation_response!(ListPortalStreamsResponse, 200, "A page of the snapshot's streams with their totals.", Ok(Page<StreamView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    403 => Forbidden: "An API key (`user_required`).",
    404 => NotFound: "No such snapshot among those of the sources you reach.",
    409 => Conflict: "The snapshot is not complete (`snapshot_not_complete`).",
    503 => Unavailable: "The object store cannot be reached.",
});

records_response!(PortalRecordsResponse, {
    400 => BadRequest: "`limit` or `cursor` is not acceptable (`invalid_request`, `details.field`).",
    403 => Forbidden: "Your access is `read` (`access_too_low`), or an API key (`user_required`).",
    404 => NotFound: "No such snapshot or stream among those of the sources you reach.",
    409 => Conflict: "The snapshot is not complete (`snapshot_not_complete`), or the account holds its own key (`key_not_held`).",
    503 => Unavailable: "The object store cannot be reached.",
});

download_response!(PortalDownloadInner, {
    400 => BadRequest: "`format` is not `jsonl` or `jsonl.zst` (`invalid_request`, `details.field`).",
    403 => Forbidden: "Your access is `read` (`access_too_low`), or an API key (`user_required`).",
    404 => NotFound: "No such snapshot or stream among those of the sources you reach.",
    409 => Conflict: "The snapshot is not complete (`snapshot_not_complete`), or the account holds its own key (`key_not_held`).",
    503 => Unavailable: "The object store cannot be reached.",
});

pub struct PortalApi;

#[OpenApi(tag = "ApiTags::Portal")]
impl PortalApi {
    /// Accepts a client grant with the token from its email: you then reach its sources in the
    /// portal. You must be signed in with the address it was sent to; the token works once.
    #[oai(
        path = "/v1/portal/accept",
        method = "post",
        operation_id = "acceptClientGrant"
    )]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<AcceptClientGrant>,
    ) -> AcceptClientGrantResponse {
        respond(async {
            let u = crate::mfa::signed_in_user(&state, &auth).await?;
            let grant = repo::find_client_grant_by_token(&state.db, body.token.trim())
                .await?
                .ok_or_else(|| invalid_token("client grant"))?;
            if grant.email.as_deref() != Some(u.email.as_str()) {
                return Err(ApiError::forbidden(
                    "grant_for_another_email",
                    "this grant is for another email address; sign in with that one",
                ));
            }
            if u.mfa_enabled_at.is_none()
                && repo::requires_second_factor(&state.db, &grant.account_id).await?
            {
                // Refused before the token is used: it works once the user has a factor.
                return Err(ApiError::forbidden(
                    "mfa_required",
                    "the granting account requires a second factor: set one up, then accept",
                ));
            }
            let txn = state.db.begin().await?;
            if !repo::accept_client_grant(&txn, &grant.id, &u.id).await? {
                return Err(invalid_token("client grant"));
            }
            crate::activity::record(
                &txn,
                &auth.0,
                &grant.account_id,
                "client_grant.accepted",
                ("client_grant", &grant.id),
                json!({"email": grant.email}),
            )
            .await?;
            txn.commit().await?;
            let reach = Reach::load(&state.db, &u).await?;
            let accepted: Vec<client_grant::Model> = reach
                .grants
                .iter()
                .filter(|g| g.id == grant.id)
                .cloned()
                .collect();
            let view = grant_views(&state, &accepted, &reach.sources)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::internal("an accepted grant not among the user's"))?;
            Ok(AcceptClientGrantResponse::Ok(Json(view)))
        })
        .await
    }

    /// Lists the grants you hold now — your own and your teams' — with each account's branding
    /// and the sources each reaches.
    #[oai(
        path = "/v1/portal/grants",
        method = "get",
        operation_id = "listPortalGrants"
    )]
    async fn grants(&self, state: Data<&AppState>, auth: BearerAuth) -> ListPortalGrantsResponse {
        respond(async {
            let reach = reach(&state, &auth).await?;
            let views = grant_views(&state, &reach.grants, &reach.sources).await?;
            log_accounts(&state, &auth, &reach.grants, "portal.grants.listed").await;
            Ok(ListPortalGrantsResponse::Ok(Json(views)))
        })
        .await
    }

    /// Lists the sources you reach through your grants.
    #[oai(
        path = "/v1/portal/sources",
        method = "get",
        operation_id = "listPortalSources"
    )]
    async fn sources(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListPortalSourcesResponse {
        respond(async {
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let reach = reach(&state, &auth).await?;
            let sources: Vec<PortalSourceView> = reach
                .sources
                .values()
                .map(|g| PortalSourceView {
                    id: g.source.id.clone(),
                    account_id: g.source.account_id.clone(),
                    name: g.source.name.clone(),
                    platform: g.source.platform.clone(),
                    access: PortalAccess::parse(g.access),
                    created_at: g.source.created_at,
                })
                .collect();
            let page = page.slice(sources, |s| s.id.clone()).map(|s| s);
            log_accounts(&state, &auth, &reach.grants, "portal.sources.listed").await;
            Ok(ListPortalSourcesResponse::Ok(Json(page)))
        })
        .await
    }

    /// Lists a granted source's jobs, newest first.
    #[oai(
        path = "/v1/portal/sources/:source_id/jobs",
        method = "get",
        operation_id = "listPortalSourceJobs"
    )]
    async fn jobs(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListPortalJobsResponse {
        respond(async {
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let reach = reach(&state, &auth).await?;
            let granted = reach.source(&source_id)?;
            let rows = page
                .apply_desc(
                    job::Entity::find()
                        .filter(job::Column::SourceId.eq(granted.source.id.as_str()))
                        .filter(job::Column::AccountId.eq(granted.source.account_id.as_str())),
                    job::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |j| j.id.clone()).map(|j| {
                // The operator's view, less what only operators use (workflow, Web UI link).
                let v = crate::jobs::stored_view(&state, j);
                PortalJobView {
                    id: v.id,
                    source_id: v.source_id,
                    kind: v.kind,
                    status: v.status,
                    snapshot_id: v.snapshot_id,
                    records: v.records,
                    bytes: v.bytes,
                    error: v.error,
                    created_at: v.created_at,
                    started_at: v.started_at,
                    finished_at: v.finished_at,
                }
            });
            log(&state, &auth, granted, "portal.jobs.listed", json!({})).await?;
            Ok(ListPortalJobsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Lists a granted source's snapshots, newest first.
    #[oai(
        path = "/v1/portal/sources/:source_id/snapshots",
        method = "get",
        operation_id = "listPortalSnapshots"
    )]
    async fn snapshots(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListPortalSnapshotsResponse {
        respond(async {
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let reach = reach(&state, &auth).await?;
            let granted = reach.source(&source_id)?;
            let rows = page
                .apply_desc(
                    snapshot::Entity::find()
                        .filter(snapshot::Column::SourceId.eq(granted.source.id.as_str()))
                        .filter(snapshot::Column::AccountId.eq(granted.source.account_id.as_str())),
                    snapshot::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |s| s.id.clone()).map(snapshot_view);
            log(&state, &auth, granted, "portal.snapshots.listed", json!({})).await?;
            Ok(ListPortalSnapshotsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Lists a complete snapshot's streams with their totals.
    #[oai(
        path = "/v1/portal/snapshots/:snapshot_id/streams",
        method = "get",
        operation_id = "listPortalSnapshotStreams"
    )]
    async fn streams(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        snapshot_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListPortalStreamsResponse {
        respond(async {
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let reach = reach(&state, &auth).await?;
            let (snap, granted) = reach.snapshot(&state.db, &snapshot_id).await?;
            let streams = stream_list(&state, &snap).await?;
            let page = page.slice(streams, |s| s.name.clone()).map(|s| s);
            log(
                &state,
                &auth,
                granted,
                "portal.streams.listed",
                json!({"snapshot_id": snap.id}),
            )
            .await?;
            Ok(ListPortalStreamsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Reads a stream's records as NDJSON, `limit` at a time (next page's cursor in
    /// `X-Next-Cursor`). Needs `restore` access.
    #[oai(
        path = "/v1/portal/snapshots/:snapshot_id/streams/:stream/records",
        method = "get",
        operation_id = "getPortalStreamRecords"
    )]
    // One argument per request parameter: the operation has that many.
    #[allow(clippy::too_many_arguments)]
    async fn records(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// Records per page, 1 to 1000 (default 100).
        limit: Query<Option<u64>>,
        /// `X-Next-Cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> PortalRecordsResponse {
        respond(async {
            let reach = reach(&state, &auth).await?;
            let (snap, granted) = reach.snapshot(&state.db, &snapshot_id).await?;
            require_restore(granted)?;
            log(
                &state,
                &auth,
                granted,
                "portal.records.read",
                json!({"snapshot_id": snap.id, "stream": stream.0, "cursor": cursor.0}),
            )
            .await?;
            let page = read_records(
                &state,
                &snap,
                key.0.as_deref(),
                &stream,
                (limit.0, cursor.0.as_deref()),
                "/v1/portal/snapshots",
            )
            .await?;
            Ok(PortalRecordsResponse::Ok(
                page.body,
                page.next,
                page.link,
                page.records,
            ))
        })
        .await
    }

    /// Downloads a whole stream, decrypted, as `.jsonl` (or `.jsonl.zst`). Needs `restore`
    /// access.
    #[oai(
        path = "/v1/portal/snapshots/:snapshot_id/streams/:stream/download",
        method = "get",
        operation_id = "downloadPortalStream"
    )]
    async fn download(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// `jsonl` (default) or `jsonl.zst`.
        format: Query<Option<DownloadFormat>>,
    ) -> WithZstd<PortalDownloadInner> {
        WithZstd(
            respond(async {
                let reach = reach(&state, &auth).await?;
                let (snap, granted) = reach.snapshot(&state.db, &snapshot_id).await?;
                require_restore(granted)?;
                log(
                    &state,
                    &auth,
                    granted,
                    "portal.stream.downloaded",
                    json!({"snapshot_id": snap.id, "stream": stream.0}),
                )
                .await?;
                let (file, disposition) =
                    stream_download(&state, &snap, key.0.as_deref(), &stream, format.0).await?;
                Ok(PortalDownloadInner::Ok(file, disposition))
            })
            .await,
        )
    }
}
