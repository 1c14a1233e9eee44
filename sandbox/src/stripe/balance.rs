//! Generated balance transactions: one for every charge that moved money (all but declined
//! ones) and one for every refund, each naming its `source`.
//!
//! Balance transaction `2i` is charge `i`'s, `2i + 1` its refund's: both are created with the
//! charge, in the same second of the shared timeline.

use serde_json::{Value, json};

use super::{SETTLEMENT_SECS, Stream, StripeFake, charges};

/// Stripe's card pricing: 2.9% + 30¢.
fn card_fee(amount: i64) -> i64 {
    amount * 29 / 1_000 + 30
}

/// The balance transaction of charge `index`.
pub(super) fn of_charge(index: u64) -> u64 {
    index.saturating_mul(2)
}

/// The balance transaction of the refund of charge `index`.
pub(super) fn of_refund(index: u64) -> u64 {
    of_charge(index).saturating_add(1)
}

/// Whether balance transaction `index` exists while there are `charges` charges.
pub(super) fn exists(index: u64, charges: u64) -> bool {
    let charge = index / 2;
    charge < charges
        && if index.is_multiple_of(2) {
            !charges::declined(charge)
        } else {
            charges::refunded(charge)
        }
}

/// How many balance transactions `charges` charges make.
pub(super) fn count(charges: u64) -> u64 {
    charges - charges::declined_below(charges) + charges::refunded_below(charges)
}

/// `charge` or `refund`: what a balance transaction records.
pub(super) fn kind(index: u64) -> &'static str {
    if index.is_multiple_of(2) {
        "charge"
    } else {
        "refund"
    }
}

pub(super) fn record(fake: &StripeFake, index: u64) -> Value {
    let charge = index / 2;
    let payment = charges::payment(fake, charge);
    let created = fake.created(charge);
    let available_on = created + SETTLEMENT_SECS;
    let status = if fake.now() >= available_on {
        "available"
    } else {
        "pending"
    };
    let (amount, fee, source, description) = if kind(index) == "charge" {
        (
            payment.amount,
            card_fee(payment.amount),
            fake.id(Stream::Charges, charge),
            payment.description().to_owned(),
        )
    } else {
        (
            -payment.amount_refunded,
            0,
            fake.id(Stream::Refunds, charge),
            format!("REFUND FOR CHARGE ({})", payment.description()),
        )
    };
    let fee_details: Vec<Value> = (fee > 0)
        .then(|| {
            json!({
                "amount": fee,
                "application": null,
                "currency": "usd",
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            })
        })
        .into_iter()
        .collect();

    json!({
        "id": fake.id(Stream::BalanceTransactions, index),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": "usd",
        "description": description,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": kind(index),
        "source": source,
        "status": status,
        "type": kind(index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_matches_exists() {
        for charges in 0..300 {
            let listed = (0..charges * 2).filter(|&i| exists(i, charges)).count() as u64;
            assert_eq!(count(charges), listed, "{charges} charges");
        }
    }

    #[test]
    fn fees_follow_card_pricing() {
        assert_eq!(card_fee(10_000), 320);
        assert_eq!(card_fee(500), 44);
    }
}
