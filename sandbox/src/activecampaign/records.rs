//! Generated ActiveCampaign records, shaped like the API's list answers (numbers as strings,
//! `links` to related resources, account-local timestamps).

use rand::Rng;
use serde_json::{Value, json};

use super::time::{iso, plain};
use super::{ActiveCampaignFake, Stream};
use crate::generate::fake;

const API_ROOT: &str = "https://sandbox.api-us1.com/api/3";

const DEAL_STAGES: &[&str] = &["To Contact", "In Contact", "Follow Up", "Negotiation"];
const LIST_TOPICS: &[&str] = &[
    "Newsletter",
    "Product Updates",
    "Webinars",
    "Customers",
    "Leads",
];
const AUTOMATION_GOALS: &[&str] = &[
    "Welcome series",
    "Abandoned cart",
    "Lead scoring",
    "Re-engagement",
    "Onboarding",
];

fn links(stream: &str, id: &str, related: &[&str]) -> Value {
    related
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                Value::from(format!("{API_ROOT}/{stream}/{id}/{name}")),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// One object from several `json!` literals (one literal of 50 fields exceeds the macro's
/// recursion limit).
fn merge<const N: usize>(parts: [Value; N]) -> Value {
    let mut object = serde_json::Map::new();
    for part in parts {
        if let Value::Object(fields) = part {
            object.extend(fields);
        }
    }
    object.into()
}

fn hex(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

pub(super) fn contact(fake: &ActiveCampaignFake, index: u64, updated: i64) -> Value {
    let mut rng = fake.rng(Stream::Contacts, index);
    let person = fake::person(&mut rng);
    let id = ActiveCampaignFake::id_of(index);
    let created = ActiveCampaignFake::created_of(index);
    let org = rng.gen_bool(0.4).then(|| rng.gen_range(1..50).to_string());
    let (local, domain) = person.email.split_once('@').unwrap_or((&person.email, ""));
    json!({
        "cdate": iso(created),
        "email": person.email,
        "phone": person.phone,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "orgid": org.clone().unwrap_or_else(|| "0".into()),
        "orgname": org.as_ref().map(|_| fake::company(&mut rng)).unwrap_or_default(),
        "segmentio_id": "",
        "bounced_hard": "0",
        "bounced_soft": "0",
        "bounced_date": null,
        "ip": "0",
        "ua": null,
        "hash": hex(&mut rng, 32),
        "socialdata_lastcheck": null,
        "email_local": local,
        "email_domain": domain,
        "sentcnt": rng.gen_range(0..60).to_string(),
        "rating_tstamp": null,
        "gravatar": "1",
        "deleted": "0",
        "anonymized": "0",
        "adate": null,
        "udate": iso(updated),
        "edate": null,
        "deleted_at": null,
        "created_utc_timestamp": plain(created),
        "updated_utc_timestamp": plain(updated),
        "created_timestamp": plain(created),
        "updated_timestamp": plain(updated),
        "created_by": null,
        "updated_by": null,
        "mpp_tracking": "0",
        "email_empty": false,
        "scoreValues": [],
        "accountContacts": [],
        "links": links("contacts", &id, &["bounceLogs", "contactAutomations", "contactLists",
            "contactDeals", "fieldValues", "notes", "organization", "scoreValues"]),
        "id": id,
        "organization": org,
    })
}

pub(super) fn deal(fake: &ActiveCampaignFake, index: u64, updated: i64) -> Value {
    let mut rng = fake.rng(Stream::Deals, index);
    let id = ActiveCampaignFake::id_of(index);
    let created = ActiveCampaignFake::created_of(index);
    let contact = fake.reference(&mut rng, Stream::Contacts, index);
    let stage = rng.gen_range(0..DEAL_STAGES.len());
    json!({
        "hash": hex(&mut rng, 8),
        "owner": "1",
        "contact": ActiveCampaignFake::id_of(contact),
        "organization": null,
        "group": "1",
        "stage": (stage + 1).to_string(),
        "title": format!("{} for {}", fake::product_name(&mut rng), fake::company(&mut rng)),
        "description": "",
        "percent": "0",
        "cdate": iso(created),
        "mdate": iso(updated),
        "nextdate": null,
        "nexttaskid": null,
        "value": (rng.gen_range(5..500) * 10_000).to_string(),
        "currency": "usd",
        "winProbability": null,
        "winProbabilityMdate": null,
        "status": rng.gen_range(0..3).to_string(),
        "activitycount": rng.gen_range(0..20).to_string(),
        "nextdealid": "0",
        "edate": null,
        "links": links("deals", &id, &["activities", "contact", "contactDeals", "group",
            "nextTask", "notes", "organization", "owner", "scoreValues", "stage", "tasks"]),
        "id": id,
        "isDisabled": false,
        "account": null,
        "customerAccount": null,
    })
}

pub(super) fn list(fake: &ActiveCampaignFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Lists, index);
    let id = ActiveCampaignFake::id_of(index);
    let topic = fake::pick(&mut rng, LIST_TOPICS);
    let address = fake::address(&mut rng);
    let company = fake::company(&mut rng);
    let record = json!({
        "stringid": format!("{}-{id}", topic.to_ascii_lowercase().replace(' ', "-")),
        "userid": "1",
        "name": format!("{topic} {id}"),
        "cdate": iso(ActiveCampaignFake::created_of(index)),
        "p_use_tracking": "1",
        "p_use_analytics_read": "0",
        "p_use_analytics_link": "0",
        "p_use_twitter": "0",
        "p_use_facebook": "0",
        "p_embed_image": "1",
        "p_use_captcha": "1",
    });
    let settings = json!({
        "send_last_broadcast": "0",
        "private": "0",
        "analytics_domains": null,
        "analytics_source": "",
        "analytics_ua": "",
        "twitter_token": "",
        "twitter_token_secret": "",
        "facebook_session": null,
        "carboncopy": null,
        "subscription_notify": null,
        "unsubscription_notify": null,
        "require_name": "0",
    });
    let sender = json!({
        "get_unsubscribe_reason": "0",
        "to_name": "Recipient",
        "optinoptout": "1",
        "sender_name": company,
        "sender_addr1": address.line1,
        "sender_addr2": address.line2.unwrap_or_default(),
        "sender_city": address.city,
        "sender_state": address.state,
        "sender_zip": address.postal_code,
        "sender_country": address.country,
        "sender_phone": "",
        "sender_url": "https://example.com",
        "sender_reminder": format!("You signed up for {topic} on our website."),
        "fulladdress": "",
        "optinmessageid": "0",
        "optoutconf": "0",
        "deletestamp": null,
        "udate": null,
        "links": links("lists", &id, &["contactGoalLists", "user", "addressLists"]),
        "id": id,
        "user": "1",
    });
    merge([record, settings, sender])
}

pub(super) fn campaign(fake: &ActiveCampaignFake, index: u64, updated: i64) -> Value {
    let mut rng = fake.rng(Stream::Campaigns, index);
    let id = ActiveCampaignFake::id_of(index);
    let created = ActiveCampaignFake::created_of(index);
    let sent: u32 = rng.gen_range(100..20_000);
    let opens = rng.gen_range(0..=sent);
    let clicks = rng.gen_range(0..=opens);
    let record = json!({
        "type": fake::pick(&mut rng, &["single", "recurring", "split", "responder"]),
        "userid": "1",
        "segmentid": "0",
        "bounceid": "-1",
        "realcid": "0",
        "sendid": "0",
        "threadid": "0",
        "seriesid": "0",
        "formid": "0",
        "basetemplateid": "0",
        "basemessageid": "0",
        "addressid": "0",
        "source": "web",
        "name": fake::product_name(&mut rng),
        "cdate": iso(created),
        "mdate": iso(updated),
        "sdate": iso(created + 86_400),
        "ldate": iso(created + 86_400),
    });
    let stats = json!({
        "send_amt": sent.to_string(),
        "total_amt": sent.to_string(),
        "opens": opens.to_string(),
        "uniqueopens": (opens * 4 / 5).to_string(),
        "linkclicks": clicks.to_string(),
        "uniquelinkclicks": (clicks * 4 / 5).to_string(),
        "subscriberclicks": (clicks / 2).to_string(),
        "forwards": "0",
        "uniqueforwards": "0",
        "hardbounces": rng.gen_range(0..20).to_string(),
        "softbounces": rng.gen_range(0..40).to_string(),
        "unsubscribes": rng.gen_range(0..30).to_string(),
        "unsubreasons": "0",
        "updates": "0",
        "socialshares": "0",
        "replies": "0",
        "uniquereplies": "0",
    });
    let settings = json!({
        "status": "5",
        "public": "1",
        "mail_transfer": "0",
        "mail_send": "1",
        "mail_cleanup": "1",
        "tracklinks": "all",
        "tracklinksanalytics": "0",
        "trackreads": "1",
        "trackreadsanalytics": "0",
        "analytics_campaign_name": "",
        "links": links("campaigns", &id, &["user", "automation", "campaignMessage", "links"]),
        "id": id,
        "user": "1",
        "automation": null,
    });
    merge([record, stats, settings])
}

pub(super) fn automation(fake: &ActiveCampaignFake, index: u64, updated: i64) -> Value {
    let mut rng = fake.rng(Stream::Automations, index);
    let id = ActiveCampaignFake::id_of(index);
    let entered: u32 = rng.gen_range(0..5_000);
    json!({
        "name": format!("{} {id}", fake::pick(&mut rng, AUTOMATION_GOALS)),
        "cdate": iso(ActiveCampaignFake::created_of(index)),
        "mdate": iso(updated),
        "userid": "1",
        "status": rng.gen_range(0..3).to_string(),
        "entered": entered.to_string(),
        "exited": rng.gen_range(0..=entered).to_string(),
        "hidden": "0",
        "defaultscreenshot": format!("https://d226aj4ao1t61q.cloudfront.net/{}_screenshot.png",
            hex(&mut rng, 16)),
        "screenshot": "",
        "links": links("automations", &id, &["campaigns", "contactGoals", "contactAutomations",
            "blocks", "goals", "sms", "sitemessages"]),
        "id": id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deals_reference_existing_contacts() {
        let fake = ActiveCampaignFake::new(3, |_| 20);
        for index in 0..50 {
            let deal = deal(&fake, index, 0);
            let contact: u64 = deal["contact"].as_str().unwrap().parse().unwrap();
            assert!((1..=20).contains(&contact) && contact <= index + 1);
        }
        assert_eq!(DEAL_STAGES.len(), 4);
    }
}
