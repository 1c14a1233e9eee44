//! Generated Stripe products and prices (the catalog subscriptions and invoices bill).

use rand::Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake};
use crate::generate::fake;

const FEATURES: &[&str] = &[
    "Daily backups",
    "Point-in-time restore",
    "Priority support",
    "Single sign-on",
    "Audit log",
    "Unlimited seats",
];

const CATEGORIES: &[&str] = &["software", "storage", "support", "services"];

/// The name of product `index`; its first draw, so other records can quote it cheaply.
pub(super) fn product_name(fake: &StripeFake, index: u64) -> String {
    fake::product_name(&mut fake.rng(Stream::Products, index))
}

pub(super) fn product(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Products, index);
    let name = fake::product_name(&mut rng);
    let created = fake.created(index);
    let features: Vec<Value> = FEATURES
        .iter()
        .filter(|_| rng.gen_bool(0.4))
        .map(|feature| json!({ "name": feature }))
        .collect();
    let images: Vec<String> = rng
        .gen_bool(0.5)
        .then(|| {
            format!(
                "https://files.stripe.com/links/MDB8YWNjdF9{}",
                fake::alphanumeric(&mut rng, 40)
            )
        })
        .into_iter()
        .collect();
    let statement_descriptor = rng
        .gen_bool(0.3)
        .then(|| format!("LISTBACKUP* {}", name.to_ascii_uppercase()));
    let unit_label = rng.gen_bool(0.3).then_some("seat");
    let mut metadata = serde_json::Map::new();
    metadata.insert("category".into(), fake::pick(&mut rng, CATEGORIES).into());
    if rng.gen_bool(0.7) {
        metadata.insert(
            "sku".into(),
            format!("SKU-{}", fake::upper_alphanumeric(&mut rng, 6)).into(),
        );
    }

    json!({
        "id": fake.id(Stream::Products, index),
        "object": "product",
        "active": rng.gen_bool(0.9),
        "attributes": [],
        "created": created,
        "default_price": null,
        "description": fake::sentence(&mut rng, &name),
        "images": images,
        "livemode": false,
        "marketing_features": features,
        "metadata": metadata,
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": statement_descriptor,
        "tax_code": "txcd_10103001",
        "type": "service",
        "unit_label": unit_label,
        "updated": created + rng.gen_range(0..90 * 86_400),
        "url": null,
    })
}

/// Every fourth price is one-time; the rest recur. Kept a function of the index
/// so subscriptions can pick a recurring price without generating candidates.
pub(super) fn is_recurring(index: u64) -> bool {
    index % 4 != 3
}

/// A recurring price at or below `index` (subscriptions must bill a recurring one).
pub(super) fn recurring_at_or_below(index: u64) -> u64 {
    if is_recurring(index) {
        index
    } else {
        index - 1
    }
}

pub(super) fn price(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Prices, index);
    let product = fake.reference(&mut rng, Stream::Products, index);
    let unit_amount: i64 = rng.gen_range(5..500) * 100 - if rng.gen_bool(0.5) { 1 } else { 0 };
    let yearly = rng.gen_bool(0.25);
    let recurring = is_recurring(index).then(|| {
        json!({
            "aggregate_usage": null,
            "interval": if yearly { "year" } else { "month" },
            "interval_count": 1,
            "meter": null,
            "trial_period_days": rng.gen_bool(0.2).then_some(14),
            "usage_type": "licensed",
        })
    });
    let nickname = rng.gen_bool(0.5).then(|| {
        let cadence = match (&recurring, yearly) {
            (None, _) => "one-time",
            (Some(_), true) => "yearly",
            (Some(_), false) => "monthly",
        };
        format!("{} {cadence}", product_name(fake, product))
    });
    let mut metadata = serde_json::Map::new();
    if rng.gen_bool(0.5) {
        let code = format!("PLAN-{}", fake::upper_alphanumeric(&mut rng, 5));
        metadata.insert("plan_code".into(), code.into());
    }
    let lookup_key = rng.gen_bool(0.3).then(|| {
        format!(
            "price_{}",
            fake::alphanumeric(&mut rng, 10).to_ascii_lowercase()
        )
    });

    json!({
        "id": fake.id(Stream::Prices, index),
        "object": "price",
        "active": rng.gen_bool(0.9),
        "billing_scheme": "per_unit",
        "created": fake.created(index),
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "nickname": nickname,
        "product": fake.id(Stream::Products, product),
        "recurring": recurring,
        "tax_behavior": if rng.gen_bool(0.5) { "exclusive" } else { "unspecified" },
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if is_recurring(index) { "recurring" } else { "one_time" },
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    })
}
