//! The Mailchimp fake's HTTP surface under `/3.0`: authentication, the connection limit,
//! routing and the collection handlers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::query::{Collection, Query};
use super::{MAX_CONNECTIONS, MailchimpFake, records};
use crate::faults::Fault;

/// The routes under `/3.0`, authenticated, limited to [`MAX_CONNECTIONS`] requests at a time
/// and answering every error as a problem document.
pub(crate) fn routes(fake: Arc<MailchimpFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    Route::new()
        .at("/", get(root))
        .at("/lists", get(lists))
        .at("/lists/:list_id/members", get(members))
        .at("/campaigns", get(campaigns))
        .at("/reports", get(reports))
        .at("/templates", get(templates))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            async move {
                let _slot = match Connection::open(&fake) {
                    Some(slot) => slot,
                    None => return Ok(ApiError::too_many_connections().into_response()),
                };
                if let Err(err) = authenticate(&fake, &req) {
                    return Ok(err.into_response());
                }
                let method = req.method().clone();
                let path = req.original_uri().path().to_owned();
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) => ApiError::from_routing(&err, &method, &path).into_response(),
                })
            }
        })
}

/// How the Mailchimp fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    ApiError::from_fault(fault).into_response()
}

/// One of the account's simultaneous connections, released when dropped.
struct Connection<'a>(&'a MailchimpFake);

impl<'a> Connection<'a> {
    fn open(fake: &'a MailchimpFake) -> Option<Self> {
        let before = fake.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = Connection(fake);
        (before < MAX_CONNECTIONS).then_some(slot)
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Basic auth with any user name and the API key as password, or an OAuth bearer token.
fn authenticate(fake: &MailchimpFake, req: &Request) -> Result<(), ApiError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    let accepted = if scheme.eq_ignore_ascii_case("Bearer") && !credentials.is_empty() {
        credentials == fake.oauth_token()
    } else if scheme.eq_ignore_ascii_case("Basic") && !credentials.is_empty() {
        let decoded = BASE64
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        decoded
            .split_once(':')
            .is_some_and(|(_, password)| password == fake.api_key())
    } else {
        return Err(ApiError::missing_api_key());
    };
    if accepted && !fake.key_revoked() {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key())
    }
}

fn query(req: &Request, what: Collection) -> Result<Query, ApiError> {
    let params: Vec<(String, String)> = req
        .params()
        .map_err(|err| ApiError::invalid_param("query", format!("could not be read: {err}")))?;
    Query::parse(what, &params)
}

fn collection(
    what: Collection,
    records: Vec<Value>,
    total: u64,
    extra: Option<(&str, Value)>,
) -> Response {
    let mut body = json!({
        what.field(): records,
        "total_items": total,
        "_links": [],
    });
    if let (Some((name, value)), Some(map)) = (extra, body.as_object_mut()) {
        map.insert(name.to_owned(), value);
    }
    json_response(&body)
}

#[handler]
async fn root(Data(fake): Data<&Arc<MailchimpFake>>) -> Response {
    json_response(&records::root(fake))
}

#[handler]
async fn lists(req: &Request, Data(fake): Data<&Arc<MailchimpFake>>) -> Response {
    let total = fake.list_count() as u64;
    match query(req, Collection::Lists) {
        Ok(q) => {
            let page = q.page(total).into_iter();
            let data = page
                .map(|i| records::list(fake, usize::try_from(i).unwrap_or(usize::MAX)))
                .collect();
            collection(Collection::Lists, data, total, None)
        }
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn members(
    Path(list_id): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<MailchimpFake>>,
) -> Response {
    let Some((list, audience)) = fake
        .list_index(&list_id)
        .and_then(|l| fake.audience_snapshot(l).map(|a| (l, a)))
    else {
        return ApiError::not_found(req.method(), req.original_uri().path()).into_response();
    };
    match query(req, Collection::Members) {
        Ok(q) => {
            let (page, total) = q.members(&audience);
            let data = page
                .into_iter()
                .map(|i| records::member(fake, &audience, list, i))
                .collect();
            collection(
                Collection::Members,
                data,
                total,
                Some(("list_id", list_id.into())),
            )
        }
        Err(err) => err.into_response(),
    }
}

fn fixed(req: &Request, what: Collection, total: u64, record: impl Fn(u64) -> Value) -> Response {
    match query(req, what) {
        Ok(q) => collection(
            what,
            q.page(total).into_iter().map(record).collect(),
            total,
            None,
        ),
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn campaigns(req: &Request, Data(fake): Data<&Arc<MailchimpFake>>) -> Response {
    fixed(req, Collection::Campaigns, fake.campaigns, |i| {
        records::campaign(fake, i)
    })
}

#[handler]
async fn reports(req: &Request, Data(fake): Data<&Arc<MailchimpFake>>) -> Response {
    fixed(req, Collection::Reports, fake.reports, |i| {
        records::report(fake, i)
    })
}

#[handler]
async fn templates(req: &Request, Data(fake): Data<&Arc<MailchimpFake>>) -> Response {
    fixed(req, Collection::Templates, fake.templates, |i| {
        records::template(fake, i)
    })
}
