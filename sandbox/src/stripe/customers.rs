//! Generated Stripe customer objects.

use rand::Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, address_json, opaque_id};
use crate::generate::fake::{self, Person};

/// The parts of a customer other records copy (an invoice's `customer_email`).
///
/// Drawn first from the customer's rng, so [`profile`] and [`record`] agree
/// without generating the whole customer.
pub(super) struct Profile {
    pub(super) person: Person,
    pub(super) invoice_prefix: String,
}

fn draw_profile<R: Rng>(rng: &mut R) -> Profile {
    Profile {
        person: fake::person(rng),
        invoice_prefix: fake::upper_alphanumeric(rng, 8),
    }
}

/// The profile of customer `index`, for records that reference it.
pub(super) fn profile(fake: &StripeFake, index: u64) -> Profile {
    draw_profile(&mut fake.rng(Stream::Customers, index))
}

pub(super) fn record(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Customers, index);
    let Profile {
        person,
        invoice_prefix,
    } = draw_profile(&mut rng);
    let name = person.name();

    let description = rng.gen_bool(0.5).then(|| fake::company(&mut rng));
    let balance: i64 = if rng.gen_bool(0.1) {
        -100 * rng.gen_range(1..50)
    } else {
        0
    };
    let shipping = rng.gen_bool(0.4).then(|| {
        json!({
            "address": address_json(&person.address),
            "name": name,
            "phone": person.phone,
        })
    });
    let default_payment_method = rng.gen_bool(0.7).then(|| opaque_id(&mut rng, "pm_"));
    let mut metadata = serde_json::Map::new();
    if rng.gen_bool(0.6) {
        metadata.insert(
            "crm_id".into(),
            format!("CRM-{:06}", rng.gen_range(0..1_000_000)).into(),
        );
        metadata.insert(
            "plan_tier".into(),
            fake::pick(&mut rng, &["free", "starter", "growth", "enterprise"]).into(),
        );
    }
    let tax_exempt = match rng.gen_range(0..20) {
        0 => "exempt",
        1 => "reverse",
        _ => "none",
    };

    json!({
        "id": fake.id(Stream::Customers, index),
        "object": "customer",
        "address": address_json(&person.address),
        "balance": balance,
        "created": fake.created(index),
        "currency": "usd",
        "default_source": null,
        "delinquent": rng.gen_bool(0.05),
        "description": description,
        "discount": null,
        "email": person.email,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": default_payment_method,
            "footer": null,
            "rendering_options": null,
        },
        "livemode": false,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": rng.gen_range(1..40),
        "phone": person.phone,
        "preferred_locales": [person.address.locale],
        "shipping": shipping,
        "tax_exempt": tax_exempt,
        "test_clock": null,
    })
}
