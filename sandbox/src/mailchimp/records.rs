//! Generated Mailchimp objects: audiences, members, campaigns, reports, templates, the API root.
//!
//! Each record is a pure function of `(seed, stream, index)` plus, for members, the audience's
//! mutation state (`last_changed`, signup time of grown members). Mailchimp's own ids are hex:
//! audiences and campaigns 10 characters, members the 32-character MD5 of the lower-cased email
//! (here a keyed hash, as unique but not an MD5). Member ids repeat across audiences in real
//! accounts (the same email in two lists), so a member is identified by `list_id` + `id`.

use rand::Rng;
use serde_json::{Value, json};

use super::{Audience, DATA_CENTER, MailchimpFake, created_of, time};
use crate::generate::{self, fake};

fn hex(key: u64, index: u64, len: usize) -> String {
    let wide = format!(
        "{:016x}{:016x}",
        generate::index_hash(key, index),
        generate::index_hash(!key, index)
    );
    wide[..len.min(wide.len())].to_owned()
}

pub(super) fn list_id(fake: &MailchimpFake, list: usize) -> String {
    hex(fake.key("lists"), list as u64, 10)
}

fn campaign_id(fake: &MailchimpFake, index: u64) -> String {
    hex(fake.key("campaigns"), index, 10)
}

/// A ratio with four decimals: short decimals read back from JSON as exactly the same `f64`,
/// so a record survives a serialize-parse round trip unchanged.
fn rate(part: u64, whole: u64) -> f64 {
    (part * 10_000 / whole.max(1)) as f64 / 10_000.0
}

fn web_id<R: Rng>(rng: &mut R) -> u64 {
    rng.gen_range(100_000..999_999_999)
}

fn list_name(fake: &MailchimpFake, list: usize) -> String {
    let mut rng = generate::record_rng(fake.key("lists"), list as u64);
    format!("{} Newsletter", fake::company(&mut rng))
}

pub(super) fn list(fake: &MailchimpFake, list: usize) -> Value {
    let index = list as u64;
    let mut rng = generate::record_rng(fake.key("lists"), index);
    let name = format!("{} Newsletter", fake::company(&mut rng));
    let owner = fake::person(&mut rng);
    let id = list_id(fake, list);
    let member_count = fake.audience_snapshot(list).map_or(0, |a| a.count);
    let web = web_id(&mut rng);
    json!({
        "id": id,
        "web_id": web,
        "name": name,
        "contact": {
            "company": fake::company(&mut rng),
            "address1": owner.address.line1,
            "address2": owner.address.line2.clone().unwrap_or_default(),
            "city": owner.address.city,
            "state": owner.address.state,
            "zip": owner.address.postal_code,
            "country": owner.address.country,
            "phone": owner.phone,
        },
        "permission_reminder": "You are receiving this email because you opted in via our website.",
        "use_archive_bar": rng.gen_bool(0.5),
        "campaign_defaults": {
            "from_name": owner.name(),
            "from_email": owner.email,
            "subject": "",
            "language": "en",
        },
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": time::format(created_of(index)),
        "list_rating": rng.gen_range(0..=5),
        "email_type_option": false,
        "subscribe_url_short": format!("http://eepurl.com/{}", fake::alphanumeric(&mut rng, 6)),
        "subscribe_url_long": format!(
            "https://sandbox.{DATA_CENTER}.list-manage.com/subscribe?u={}&id={id}",
            hex(fake.key("account"), 0, 25)
        ),
        "beamer_address": format!("{DATA_CENTER}-{}@inbound.mailchimp.com", hex(fake.key("lists"), index ^ 0x5eed, 10)),
        "visibility": "pub",
        "double_optin": rng.gen_bool(0.3),
        "has_welcome": false,
        "marketing_permissions": false,
        "modules": [],
        "stats": {
            "member_count": member_count,
            "unsubscribe_count": 0,
            "cleaned_count": 0,
            "campaign_count": rng.gen_range(0..40),
        },
        "_links": [],
    })
}

pub(super) fn member(fake: &MailchimpFake, audience: &Audience, list: usize, index: u64) -> Value {
    let key = fake.key(&format!("members.{}", list_id(fake, list)));
    let mut rng = generate::record_rng(key, index);
    let person = fake::person(&mut rng);
    // Emails are unique within an audience, as Mailchimp enforces.
    let (local, domain) = person
        .email
        .split_once('@')
        .unwrap_or((&person.email, "example.com"));
    let email = format!("{local}.{index}@{domain}");
    let signup = time::format(audience.signup(index));
    let status = match rng.gen_range(0..20) {
        0 => "unsubscribed",
        1 => "cleaned",
        2 => "pending",
        _ => "subscribed",
    };
    let ip = format!(
        "{}.{}.{}.{}",
        rng.gen_range(11..223),
        rng.gen_range(0..255),
        rng.gen_range(0..255),
        rng.gen_range(1..255)
    );
    json!({
        "id": hex(key, index, 32),
        "email_address": email,
        "unique_email_id": hex(key ^ 0x0e0e, index, 10),
        "contact_id": hex(key ^ 0xc0c0, index, 32),
        "full_name": person.name(),
        "web_id": web_id(&mut rng),
        "email_type": "html",
        "status": status,
        "merge_fields": {
            "FNAME": person.first_name,
            "LNAME": person.last_name,
            "ADDRESS": {
                "addr1": person.address.line1,
                "addr2": person.address.line2.clone().unwrap_or_default(),
                "city": person.address.city,
                "state": person.address.state,
                "zip": person.address.postal_code,
                "country": person.address.country,
            },
            "PHONE": person.phone,
        },
        "stats": {
            "avg_open_rate": f64::from(rng.gen_range(0..100u32)) / 100.0,
            "avg_click_rate": f64::from(rng.gen_range(0..40u32)) / 100.0,
        },
        "ip_signup": ip,
        "timestamp_signup": signup,
        "ip_opt": ip,
        "timestamp_opt": signup,
        "member_rating": rng.gen_range(1..=5),
        "last_changed": time::format(audience.last_changed(index)),
        "language": person.address.locale.split('-').next().unwrap_or("en"),
        "vip": rng.gen_bool(0.05),
        "email_client": "",
        "location": {
            "latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0,
            "country_code": person.address.country, "timezone": "",
        },
        "source": fake::pick(&mut rng, &["API - Generic", "Hosted Signup Form", "Import"]),
        "tags_count": 0,
        "tags": [],
        "list_id": list_id(fake, list),
        "_links": [],
    })
}

/// What a report copies from its campaign.
struct CampaignHead {
    list: usize,
    subject: String,
    emails_sent: u64,
}

fn campaign_head<R: Rng>(fake: &MailchimpFake, rng: &mut R) -> CampaignHead {
    let lists = fake.list_count().max(1);
    CampaignHead {
        list: rng.gen_range(0..lists),
        subject: format!(
            "{} — {}",
            fake::product_name(rng),
            fake::pick(rng, &["news", "offer", "update", "digest"])
        ),
        emails_sent: rng.gen_range(50..5_000),
    }
}

pub(super) fn campaign(fake: &MailchimpFake, index: u64) -> Value {
    let mut rng = generate::record_rng(fake.key("campaigns"), index);
    let head = campaign_head(fake, &mut rng);
    let created = created_of(index);
    let opens = rng.gen_range(0..=head.emails_sent);
    let clicks = rng.gen_range(0..=opens);
    json!({
        "id": campaign_id(fake, index),
        "web_id": web_id(&mut rng),
        "type": "regular",
        "create_time": time::format(created),
        "archive_url": format!("http://eepurl.com/{}", fake::alphanumeric(&mut rng, 6)),
        "status": "sent",
        "emails_sent": head.emails_sent,
        "send_time": time::format(created + 3_600),
        "content_type": "template",
        "needs_block_refresh": false,
        "resendable": false,
        "recipients": {
            "list_id": list_id(fake, head.list),
            "list_is_active": true,
            "list_name": list_name(fake, head.list),
            "segment_text": "",
            "recipient_count": head.emails_sent,
        },
        "settings": {
            "subject_line": head.subject,
            "preview_text": "",
            "title": format!("Campaign {}", index + 1),
            "from_name": "ListBackup Sandbox",
            "reply_to": "hello@example.com",
            "use_conversation": false,
            "to_name": "*|FNAME|*",
            "authenticate": true,
            "auto_footer": false,
            "inline_css": false,
            "template_id": 10_000 + rng.gen_range(0..fake.templates.max(1)),
            "drag_and_drop": true,
        },
        "tracking": { "opens": true, "html_clicks": true, "text_clicks": false },
        "report_summary": {
            "opens": opens,
            "unique_opens": opens,
            "open_rate": rate(opens, head.emails_sent),
            "clicks": clicks,
            "subscriber_clicks": clicks,
            "click_rate": rate(clicks, head.emails_sent),
        },
        "delivery_status": { "enabled": false },
        "_links": [],
    })
}

pub(super) fn report(fake: &MailchimpFake, index: u64) -> Value {
    let mut campaign_rng = generate::record_rng(fake.key("campaigns"), index);
    let head = campaign_head(fake, &mut campaign_rng);
    let mut rng = generate::record_rng(fake.key("reports"), index);
    let sent = head.emails_sent;
    let opens = rng.gen_range(0..=sent);
    let clicks = rng.gen_range(0..=opens);
    json!({
        "id": campaign_id(fake, index),
        "campaign_title": format!("Campaign {}", index + 1),
        "type": "regular",
        "list_id": list_id(fake, head.list),
        "list_is_active": true,
        "list_name": list_name(fake, head.list),
        "subject_line": head.subject,
        "emails_sent": sent,
        "abuse_reports": rng.gen_range(0..3),
        "unsubscribed": rng.gen_range(0..=sent / 50),
        "send_time": time::format(created_of(index) + 3_600),
        "bounces": { "hard_bounces": rng.gen_range(0..5), "soft_bounces": rng.gen_range(0..9), "syntax_errors": 0 },
        "forwards": { "forwards_count": 0, "forwards_opens": 0 },
        "opens": { "opens_total": opens, "unique_opens": opens, "open_rate": rate(opens, sent) },
        "clicks": { "clicks_total": clicks, "unique_clicks": clicks, "click_rate": rate(clicks, sent) },
        "_links": [],
    })
}

pub(super) fn template(fake: &MailchimpFake, index: u64) -> Value {
    let mut rng = generate::record_rng(fake.key("templates"), index);
    let created = time::format(created_of(index));
    json!({
        "id": 10_000 + index,
        "type": "user",
        "name": format!("{} template", fake::product_name(&mut rng)),
        "drag_and_drop": true,
        "responsive": rng.gen_bool(0.8),
        "category": "",
        "date_created": created,
        "date_edited": created,
        "created_by": "ListBackup Sandbox",
        "edited_by": "",
        "active": true,
        "folder_id": "",
        "thumbnail": "",
        "share_url": "",
        "content_type": "template",
        "_links": [],
    })
}

/// `GET /3.0/`: the account the key belongs to, with the data center and login it was issued for.
pub(super) fn root(fake: &MailchimpFake) -> Value {
    let mut rng = generate::record_rng(fake.key("account"), 0);
    let owner = fake::person(&mut rng);
    let account_id = hex(fake.key("account"), 0, 25);
    json!({
        "account_id": account_id,
        "login_id": hex(fake.key("account"), 1, 8),
        "account_name": fake::company(&mut rng),
        "email": owner.email,
        "first_name": owner.first_name,
        "last_name": owner.last_name,
        "username": owner.email,
        "role": "owner",
        "member_since": time::format(created_of(0) - 86_400),
        "pricing_plan_type": "monthly",
        "account_timezone": "UTC",
        "total_subscribers": fake.count("members"),
        "dc": DATA_CENTER,
        "login": { "login_id": hex(fake.key("account"), 1, 8), "login_email": owner.email, "role": "owner" },
        "_links": [],
    })
}
