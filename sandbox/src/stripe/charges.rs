//! Generated Stripe charges, and the payment facts their payment intents, refunds and balance
//! transactions repeat.
//!
//! Whether a charge is declined, waits for its funds or is refunded is a function of its index,
//! not a random draw: the streams that follow charges (a refund per refunded charge, a balance
//! transaction per charge that moved money) then have closed-form counts.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, address_json, balance, customers, opaque_id};
use crate::generate::fake;

/// `(brand, last4)` of Stripe's test cards, so the data looks like test mode.
const CARDS: &[(&str, &str)] = &[
    ("visa", "4242"),
    ("visa", "1881"),
    ("mastercard", "4444"),
    ("amex", "8431"),
    ("discover", "1117"),
];

/// One charge in twenty is declined.
pub(super) fn declined(index: u64) -> bool {
    index % 20 == 7
}

/// One charge in twenty-five waits for its funds (`pending`) until it settles.
fn waits(index: u64) -> bool {
    index % 25 == 13
}

/// One charge in five is refunded, in full or in part; never a declined or waiting one.
pub(super) fn refunded(index: u64) -> bool {
    index % 5 == 1
}

/// How many of charges `0..n` are refunded.
pub(super) fn refunded_below(n: u64) -> u64 {
    n.saturating_add(3) / 5
}

/// How many of charges `0..n` are declined.
pub(super) fn declined_below(n: u64) -> u64 {
    n.saturating_add(12) / 20
}

/// The status of charge `index`; `settled` once the clock passed its settlement.
pub(super) fn status(index: u64, settled: bool) -> &'static str {
    if declined(index) {
        "failed"
    } else if waits(index) && !settled {
        "pending"
    } else {
        "succeeded"
    }
}

/// What a charge, its payment intent, its refund and its balance transactions agree on.
pub(super) struct Payment {
    pub(super) customer: u64,
    pub(super) amount: i64,
    /// 0 unless the charge is [`refunded`].
    pub(super) amount_refunded: i64,
    pub(super) invoice: Option<u64>,
    pub(super) payment_method: String,
}

impl Payment {
    pub(super) fn description(&self) -> &'static str {
        if self.invoice.is_some() {
            "Payment for invoice"
        } else {
            "One-off charge"
        }
    }
}

/// The payment facts of charge `index`: the first draws of its rng.
pub(super) fn payment(fake: &StripeFake, index: u64) -> Payment {
    draw_payment(fake, &mut fake.rng(Stream::Charges, index), index)
}

fn draw_payment(fake: &StripeFake, rng: &mut ChaCha8Rng, index: u64) -> Payment {
    let customer = fake.reference(rng, Stream::Customers, index);
    let amount: i64 = rng.gen_range(5..1_000) * 100;
    let in_full = rng.gen_bool(0.6);
    let part = rng.gen_range(1..amount / 100) * 100;
    let amount_refunded = match (refunded(index), in_full) {
        (false, _) => 0,
        (true, true) => amount,
        (true, false) => part,
    };
    let invoice = if rng.gen_bool(0.5) {
        Some(fake.reference(rng, Stream::Invoices, index))
    } else {
        None
    };
    Payment {
        customer,
        amount,
        amount_refunded,
        invoice,
        payment_method: opaque_id(rng, "pm_"),
    }
}

pub(super) fn record(fake: &StripeFake, index: u64, settled: bool) -> Value {
    let mut rng = fake.rng(Stream::Charges, index);
    let payment = draw_payment(fake, &mut rng, index);
    let person = customers::profile(fake, payment.customer).person;
    let status = status(index, settled);
    let captured = status == "succeeded";
    let (brand, last4) = CARDS[rng.gen_range(0..CARDS.len())];
    let (exp_month, exp_year) = (rng.gen_range(1..=12), 2030 + rng.gen_range(0..6));
    let fingerprint = fake::alphanumeric(&mut rng, 16);
    let receipt = fake::alphanumeric(&mut rng, 40);
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
        "amount": payment.amount,
        "amount_captured": if captured { payment.amount } else { 0 },
        "amount_refunded": payment.amount_refunded,
        "balance_transaction": (status != "failed")
            .then(|| fake.id(Stream::BalanceTransactions, balance::of_charge(index))),
        "billing_details": {
            "address": address_json(&person.address),
            "email": person.email,
            "name": person.name(),
            "phone": null,
        },
        "captured": captured,
        "created": fake.created(index),
        "currency": "usd",
        "customer": fake.id(Stream::Customers, payment.customer),
        "description": payment.description(),
        "disputed": false,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "invoice": payment.invoice.map(|invoice| fake.id(Stream::Invoices, invoice)),
        "livemode": false,
        "metadata": {},
        "outcome": outcome,
        "paid": captured,
        "payment_intent": fake.id(Stream::PaymentIntents, index),
        "payment_method": payment.payment_method,
        "payment_method_details": {
            "card": {
                "brand": brand,
                "checks": {
                    "address_line1_check": "pass",
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": person.address.country,
                "exp_month": exp_month,
                "exp_year": exp_year,
                "fingerprint": fingerprint,
                "funding": "credit",
                "last4": last4,
                "network": brand,
            },
            "type": "card",
        },
        "receipt_email": person.email,
        "receipt_url": captured.then(|| format!("https://pay.stripe.com/receipts/payment/{receipt}")),
        "refunded": payment.amount_refunded == payment.amount,
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_counts_match_the_predicates() {
        for n in 0..500 {
            assert_eq!(
                refunded_below(n),
                (0..n).filter(|&i| refunded(i)).count() as u64
            );
            assert_eq!(
                declined_below(n),
                (0..n).filter(|&i| declined(i)).count() as u64
            );
        }
    }

    #[test]
    fn refunds_only_touch_charges_that_succeed() {
        for index in (0..1_000).filter(|&i| refunded(i)) {
            assert_eq!(status(index, false), "succeeded", "#{index}");
        }
        assert_eq!(status(13, false), "pending");
        assert_eq!(status(13, true), "succeeded");
        assert_eq!(status(7, true), "failed");
    }
}
