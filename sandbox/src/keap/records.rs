//! Keap-shaped records: v2 field names (`given_name`, `update_time`) for v2 resources, v1
//! names (`product_name`, `modification_date`) for v1 ones.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{KeapFake, Stream, time};
use crate::generate::fake::{self, Address};

const STAGES: &[&str] = &[
    "New Lead",
    "Qualified",
    "Proposal",
    "Negotiation",
    "Won",
    "Lost",
];
const TAG_CATEGORIES: &[&str] = &["Lead Source", "Interest", "Customer Type", "Events"];
const TAG_NAMES: &[&str] = &[
    "Newsletter",
    "Webinar",
    "VIP",
    "Trial",
    "Referral",
    "Conference",
    "Churn Risk",
    "Upsell",
];
const ORDER_STATUSES: &[&str] = &["PAID", "UNPAID", "DRAFT", "REFUNDED"];
const CONTACT_TYPES: &[&str] = &["Lead", "Customer", "Prospect", "Partner"];

pub(crate) fn record(fake: &KeapFake, stream: Stream, index: u64) -> Value {
    let mut rng = fake.rng(stream, index);
    let id = index.saturating_add(1);
    // Created some time before the record's first version; an edit moves only the update time.
    let created = fake.base_updated(index) - rng.gen_range(0..86_400);
    let updated = fake.updated(stream, index);
    let (created, updated) = (time::format(created), time::format(updated));
    match stream {
        Stream::Contacts => contact(fake, &mut rng, id, created, updated),
        Stream::Companies => company(&mut rng, id, created, updated),
        Stream::Orders => order(fake, &mut rng, id, created, updated),
        Stream::Products => product(&mut rng, id),
        Stream::Opportunities => opportunity(fake, &mut rng, id, created, updated),
        Stream::Tags => tag(&mut rng, id, created, updated),
    }
}

fn address_json(address: &Address, field: &str) -> Value {
    json!({
        "field": field,
        "line1": address.line1,
        "line2": address.line2,
        "locality": address.city,
        "region": address.state,
        "postal_code": address.postal_code,
        "country_code": address.country,
    })
}

fn contact(
    fake: &KeapFake,
    rng: &mut ChaCha8Rng,
    id: u64,
    created: String,
    updated: String,
) -> Value {
    let person = fake::person(rng);
    let company_id = fake.reference(rng, Stream::Companies) + 1;
    let tag_ids: Vec<u64> = (0..rng.gen_range(0..4))
        .map(|_| fake.reference(rng, Stream::Tags) + 1)
        .collect();
    json!({
        "id": id,
        "given_name": person.first_name,
        "family_name": person.last_name,
        "email_addresses": [{"email": person.email, "field": "EMAIL1", "is_opt_in": rng.gen_bool(0.6)}],
        "phone_numbers": [{"number": person.phone, "field": "PHONE1", "type": "Work"}],
        "addresses": [address_json(&person.address, "BILLING")],
        "company": {"id": company_id},
        "contact_type": fake::pick(rng, CONTACT_TYPES),
        "owner_id": rng.gen_range(1..20),
        "tag_ids": tag_ids,
        "score_value": rng.gen_range(0..100).to_string(),
        "create_time": created,
        "update_time": updated,
    })
}

fn company(rng: &mut ChaCha8Rng, id: u64, created: String, updated: String) -> Value {
    let name = fake::company(rng);
    let address = fake::address(rng);
    let domain: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    json!({
        "id": id,
        "company_name": name,
        "email_address": format!("info@{domain}.example.com"),
        "phone_number": {"number": format!("{}{}", address.phone_prefix, rng.gen_range(2_000_000_000u64..9_999_999_999)), "type": "Work"},
        "address": address_json(&address, "ADDRESS_FIELD_UNSPECIFIED"),
        "website": format!("https://{domain}.example.com"),
        "notes": fake::sentence(rng, &name),
        "create_time": created,
        "update_time": updated,
    })
}

fn order(
    fake: &KeapFake,
    rng: &mut ChaCha8Rng,
    id: u64,
    created: String,
    updated: String,
) -> Value {
    let contact_id = fake.reference(rng, Stream::Contacts) + 1;
    // Money in integer cents, shown as decimals: sums of floats would not survive a JSON
    // round trip digit for digit.
    let mut total_cents: i64 = 0;
    let items: Vec<Value> = (0..rng.gen_range(1..4))
        .map(|n| {
            let product_id = fake.reference(rng, Stream::Products) + 1;
            let (quantity, price_cents) = (rng.gen_range(1..5), rng.gen_range(500..50_000));
            total_cents += quantity * price_cents;
            json!({
                "id": id * 10 + n,
                "name": fake::product_name(rng),
                "quantity": quantity,
                "price": cents(price_cents),
                "product": {"id": product_id},
            })
        })
        .collect();
    let status = fake::pick(rng, ORDER_STATUSES);
    let paid_cents = if status == "PAID" { total_cents } else { 0 };
    let (total, paid, due) = (
        cents(total_cents),
        cents(paid_cents),
        cents(total_cents - paid_cents),
    );
    json!({
        "id": id,
        "title": format!("Order #{id}"),
        "status": status,
        "recurring": rng.gen_bool(0.2),
        "total": total,
        "total_paid": paid,
        "total_due": due,
        "contact": {"id": contact_id},
        "order_items": items,
        "source_type": "API",
        "order_date": created,
        "creation_date": created,
        "modification_date": updated,
    })
}

fn cents(amount: i64) -> f64 {
    amount as f64 / 100.0
}

fn product(rng: &mut ChaCha8Rng, id: u64) -> Value {
    let name = fake::product_name(rng);
    json!({
        "id": id,
        "product_name": name,
        "product_desc": fake::sentence(rng, &name),
        "product_short_desc": name,
        "product_price": cents(rng.gen_range(500..100_000)),
        "sku": format!("SKU-{}", fake::upper_alphanumeric(rng, 8)),
        "active": rng.gen_bool(0.85),
        "subscription_only": rng.gen_bool(0.1),
        "product_options": [],
        "subscription_plans": [],
    })
}

fn opportunity(
    fake: &KeapFake,
    rng: &mut ChaCha8Rng,
    id: u64,
    created: String,
    updated: String,
) -> Value {
    let contact_id = fake.reference(rng, Stream::Contacts) + 1;
    let low = rng.gen_range(100..10_000);
    json!({
        "id": id,
        "opportunity_title": format!("{} for {}", fake::product_name(rng), fake::company(rng)),
        "contact": {"id": contact_id},
        "stage": {"name": fake::pick(rng, STAGES)},
        "projected_revenue_low": low,
        "projected_revenue_high": low + rng.gen_range(0..5_000),
        "opportunity_notes": fake::sentence(rng, "Follow-up"),
        "user": {"id": rng.gen_range(1..20)},
        "create_time": created,
        "update_time": updated,
    })
}

fn tag(rng: &mut ChaCha8Rng, id: u64, created: String, updated: String) -> Value {
    let name = fake::pick(rng, TAG_NAMES);
    json!({
        "id": id,
        "name": format!("{name} {id}"),
        "description": fake::sentence(rng, name),
        "category": {"name": fake::pick(rng, TAG_CATEGORIES)},
        "create_time": created,
        "update_time": updated,
    })
}
