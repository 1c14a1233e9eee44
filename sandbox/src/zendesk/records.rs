//! Generated Zendesk tickets, users, organizations, groups and ticket comments.
//!
//! Everything but the timestamps and the fields a touch changes comes from the record's own
//! rng, so a record is a pure function of `(seed, stream, index, Meta)`. References (a
//! ticket's requester) point only at initial records of the other streams.

use rand::Rng;
use serde_json::{Value, json};

use super::ZendeskFake;
use super::state::{Kind, Meta};
use crate::generate::{self, fake};

const STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
const TYPES: &[&str] = &["question", "incident", "problem", "task"];
const CHANNELS: &[&str] = &["email", "web", "api", "chat", "voice"];
const TAGS: &[&str] = &["billing", "vip", "bug", "refund", "onboarding", "sla"];
const ISSUES: &[&str] = &[
    "Cannot log in",
    "Invoice is wrong",
    "Export takes too long",
    "Feature request: dark mode",
    "Password reset email never arrives",
    "Data missing after sync",
];

pub(super) fn record(zendesk: &ZendeskFake, kind: Kind, index: u64, meta: Meta) -> Value {
    let mut rng = generate::record_rng(zendesk.key(kind), index);
    let mut record = match kind {
        Kind::Tickets => ticket(zendesk, &mut rng, index, meta),
        Kind::Users => user(zendesk, &mut rng, index),
        Kind::Organizations => organization(&mut rng, index),
        Kind::Groups => group(&mut rng, index),
    };
    record["id"] = kind.id(index).into();
    record["url"] = format!(
        "https://sandbox.zendesk.com/api/v2/{}/{}.json",
        kind.name(),
        kind.id(index)
    )
    .into();
    record["created_at"] = iso8601(meta.created_at).into();
    record["updated_at"] = iso8601(meta.updated_at).into();
    record
}

fn ticket<R: Rng>(zendesk: &ZendeskFake, rng: &mut R, index: u64, meta: Meta) -> Value {
    let subject = fake::pick(rng, ISSUES);
    let requester = fake::person(rng);
    let status_base = rng.gen_range(0..STATUSES.len());
    let tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.gen_bool(0.3)).collect();
    json!({
        "external_id": null,
        "type": fake::pick(rng, TYPES),
        "subject": subject,
        "raw_subject": subject,
        "description": format!("{subject}. {} writes: {}", requester.name(), fake::sentence(rng, subject)),
        "priority": fake::pick(rng, PRIORITIES),
        // A touch moves the ticket along its workflow, so the record really changes.
        "status": STATUSES[(status_base + meta.touches as usize) % STATUSES.len()],
        "recipient": format!("support@{}", "sandbox.zendesk.com"),
        "requester_id": zendesk.reference(rng, Kind::Users),
        "submitter_id": zendesk.reference(rng, Kind::Users),
        "assignee_id": zendesk.reference(rng, Kind::Users),
        "organization_id": zendesk.reference(rng, Kind::Organizations),
        "group_id": zendesk.reference(rng, Kind::Groups),
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "has_incidents": false,
        "is_public": true,
        "due_at": null,
        "tags": tags,
        "custom_fields": [{"id": 360_001, "value": format!("ref-{index:06}")}],
        "satisfaction_rating": null,
        "via": {"channel": fake::pick(rng, CHANNELS), "source": {"from": {}, "to": {}, "rel": null}},
        "generated_timestamp": meta.updated_at,
        "version": meta.touches,
    })
}

fn user<R: Rng>(zendesk: &ZendeskFake, rng: &mut R, index: u64) -> Value {
    let person = fake::person(rng);
    let role = match rng.gen_range(0..10) {
        0 => "admin",
        1..=2 => "agent",
        _ => "end-user",
    };
    json!({
        "name": person.name(),
        "email": person.email,
        "phone": person.phone,
        "locale": person.address.locale,
        "time_zone": person.address.city,
        "organization_id": zendesk.reference(rng, Kind::Organizations),
        "role": role,
        "verified": rng.gen_bool(0.9),
        "active": true,
        "suspended": rng.gen_bool(0.02),
        "shared": false,
        "tags": [],
        "user_fields": {"customer_number": format!("C{index:07}")},
        "notes": "",
    })
}

fn organization<R: Rng>(rng: &mut R, index: u64) -> Value {
    let name = fake::company(rng);
    let domain = format!(
        "{}{index}.example",
        name.to_ascii_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    json!({
        "name": format!("{name} #{index}"),
        "domain_names": [domain],
        "details": fake::sentence(rng, &name),
        "notes": "",
        "group_id": null,
        "shared_tickets": rng.gen_bool(0.3),
        "shared_comments": false,
        "tags": [],
        "organization_fields": {},
    })
}

fn group<R: Rng>(rng: &mut R, index: u64) -> Value {
    let name = format!("{} Support {index}", fake::product_name(rng));
    json!({
        "name": name,
        "description": fake::sentence(rng, &name),
        "default": index == 0,
        "deleted": false,
        "is_public": true,
    })
}

/// The comments of ticket `index`: one to four, the first being the ticket's description.
pub(super) fn comments(zendesk: &ZendeskFake, index: u64, meta: Meta) -> Vec<Value> {
    let tickets_key = zendesk.key(Kind::Tickets);
    let mut rng = generate::record_rng(generate::mix64(tickets_key ^ 0xc0), index);
    let n = rng.gen_range(1..=4u64);
    (0..n)
        .map(|k| {
            let issue = fake::pick(&mut rng, ISSUES);
            let body = fake::sentence(&mut rng, issue);
            json!({
                "id": comment_id(index, k),
                "type": "Comment",
                "ticket_id": Kind::Tickets.id(index),
                "author_id": zendesk.reference(&mut rng, Kind::Users),
                "body": body,
                "html_body": format!("<div class=\"zd-comment\"><p>{body}</p></div>"),
                "plain_body": body,
                "public": k == 0 || rng.gen_bool(0.7),
                "attachments": [],
                "audit_id": comment_id(index, k) + 1_000_000_000,
                "via": {"channel": fake::pick(&mut rng, CHANNELS)},
                "created_at": iso8601(meta.created_at.saturating_add(i64::try_from(k).unwrap_or(0) * 300)),
                "metadata": {"system": {}},
            })
        })
        .collect()
}

fn comment_id(ticket: u64, k: u64) -> u64 {
    400_000_000_000 + ticket * 8 + k
}

/// `2020-09-13T12:26:40Z` for Unix seconds (UTC), the format of every Zendesk timestamp.
pub(super) fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_600_000_000), "2020-09-13T12:26:40Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn comment_ids_are_unique_per_ticket() {
        let meta = Meta {
            created_at: 0,
            updated_at: 0,
            touches: 0,
        };
        let zendesk = ZendeskFake::new(1, |_| 10);
        let ids: std::collections::BTreeSet<u64> = (0..50)
            .flat_map(|t| comments(&zendesk, t, meta))
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert!(ids.len() >= 50);
    }
}
