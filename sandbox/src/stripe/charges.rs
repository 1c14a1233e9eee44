//! Generated Stripe charges.

use rand::Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, address_json, customers, opaque_id};
use crate::generate::fake;

/// `(brand, last4)` of Stripe's test cards, so the data looks like test mode.
const CARDS: &[(&str, &str)] = &[
    ("visa", "4242"),
    ("visa", "1881"),
    ("mastercard", "4444"),
    ("amex", "8431"),
    ("discover", "1117"),
];

pub(super) fn record(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Charges, index);
    let customer = fake.reference(&mut rng, Stream::Customers, index);
    let person = customers::profile(fake, customer).person;
    let status = match rng.gen_range(0..100) {
        0..=89 => "succeeded",
        90..=96 => "failed",
        _ => "pending",
    };
    let amount: i64 = rng.gen_range(5..1_000) * 100;
    let captured = status == "succeeded";
    let amount_refunded = if captured && rng.gen_bool(0.05) {
        amount
    } else {
        0
    };
    let (brand, last4) = CARDS[rng.gen_range(0..CARDS.len())];
    let invoice = rng.gen_bool(0.5).then(|| {
        fake.id(
            Stream::Invoices,
            fake.reference(&mut rng, Stream::Invoices, index),
        )
    });
    let outcome = match status {
        "failed" => json!({
            "network_status": "declined_by_network",
            "reason": "generic_decline",
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }),
        _ => json!({
            "network_status": "approved_by_network",
            "reason": null,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }),
    };
    let (failure_code, failure_message) = if status == "failed" {
        (Some("card_declined"), Some("Your card was declined."))
    } else {
        (None, None)
    };

    json!({
        "id": fake.id(Stream::Charges, index),
        "object": "charge",
        "amount": amount,
        "amount_captured": if captured { amount } else { 0 },
        "amount_refunded": amount_refunded,
        "balance_transaction": captured.then(|| opaque_id(&mut rng, "txn_")),
        "billing_details": {
            "address": address_json(&person.address),
            "email": person.email,
            "name": person.name(),
            "phone": null,
        },
        "captured": captured,
        "created": StripeFake::created_of(index),
        "currency": "usd",
        "customer": fake.id(Stream::Customers, customer),
        "description": invoice.as_ref().map_or("One-off charge", |_| "Payment for invoice"),
        "disputed": false,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "invoice": invoice,
        "livemode": false,
        "metadata": {},
        "outcome": outcome,
        "paid": captured,
        "payment_intent": opaque_id(&mut rng, "pi_"),
        "payment_method": opaque_id(&mut rng, "pm_"),
        "payment_method_details": {
            "card": {
                "brand": brand,
                "checks": {
                    "address_line1_check": "pass",
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": person.address.country,
                "exp_month": rng.gen_range(1..=12),
                "exp_year": 2030 + rng.gen_range(0..6),
                "fingerprint": fake::alphanumeric(&mut rng, 16),
                "funding": "credit",
                "last4": last4,
                "network": brand,
            },
            "type": "card",
        },
        "receipt_email": person.email,
        "receipt_url": captured.then(|| format!(
            "https://pay.stripe.com/receipts/payment/{}", fake::alphanumeric(&mut rng, 40))),
        "refunded": amount_refunded == amount && amount_refunded > 0,
        "status": status,
    })
}
