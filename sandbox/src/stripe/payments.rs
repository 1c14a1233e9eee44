//! Generated payment intents (one per charge, which is its `latest_charge`) and refunds (one per
//! refunded charge). Both keep their charge's index, so they share its `created` second.

use rand::Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, balance, charges, customers};
use crate::generate::fake;

/// The payment intent's status as its charge stands: declined charges leave it waiting for
/// another payment method, pending ones leave it processing.
pub(super) fn intent_status(index: u64, settled: bool) -> &'static str {
    match charges::status(index, settled) {
        "failed" => "requires_payment_method",
        "pending" => "processing",
        _ => "succeeded",
    }
}

pub(super) fn payment_intent(fake: &StripeFake, index: u64, settled: bool) -> Value {
    let mut rng = fake.rng(Stream::PaymentIntents, index);
    let payment = charges::payment(fake, index);
    let email = customers::profile(fake, payment.customer).person.email;
    let id = fake.id(Stream::PaymentIntents, index);
    let charge = fake.id(Stream::Charges, index);
    let status = intent_status(index, settled);
    let last_payment_error = (status == "requires_payment_method").then(|| {
        json!({
            "charge": charge,
            "code": "card_declined",
            "decline_code": "generic_decline",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card was declined.",
            "payment_method": { "id": payment.payment_method, "object": "payment_method", "type": "card" },
            "type": "card_error",
        })
    });
    let secret = fake::alphanumeric(&mut rng, 25);
    let mut metadata = serde_json::Map::new();
    if rng.gen_bool(0.4) {
        let order = format!("ORD-{:06}", rng.gen_range(0..1_000_000));
        metadata.insert("order_id".into(), order.into());
    }

    json!({
        "id": id,
        "object": "payment_intent",
        "amount": payment.amount,
        "amount_capturable": 0,
        "amount_details": { "tip": {} },
        "amount_received": if status == "succeeded" { payment.amount } else { 0 },
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": { "allow_redirects": "always", "enabled": true },
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic",
        "client_secret": format!("{id}_secret_{secret}"),
        "confirmation_method": "automatic",
        "created": fake.created(index),
        "currency": "usd",
        "customer": fake.id(Stream::Customers, payment.customer),
        "description": payment.description(),
        "invoice": payment.invoice.map(|invoice| fake.id(Stream::Invoices, invoice)),
        "last_payment_error": last_payment_error,
        "latest_charge": charge,
        "livemode": false,
        "metadata": metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": payment.payment_method,
        "payment_method_options": {
            "card": {
                "installments": null,
                "mandate_options": null,
                "network": null,
                "request_three_d_secure": "automatic",
            },
        },
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": email,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// One refund in five waits for the card network (`pending`) until it settles.
pub(super) fn refund_status(index: u64, settled: bool) -> &'static str {
    if index % 25 == 1 && !settled {
        "pending"
    } else {
        "succeeded"
    }
}

const REFUND_REASONS: &[Option<&str>] = &[
    None,
    Some("requested_by_customer"),
    Some("requested_by_customer"),
    Some("duplicate"),
    Some("fraudulent"),
];

/// The refund of charge `index` (which must be [`charges::refunded`]).
pub(super) fn refund(fake: &StripeFake, index: u64, settled: bool) -> Value {
    let mut rng = fake.rng(Stream::Refunds, index);
    let payment = charges::payment(fake, index);
    let status = refund_status(index, settled);
    let reason = REFUND_REASONS[rng.gen_range(0..REFUND_REASONS.len())];
    let reference: String = (0..12)
        .map(|_| char::from(b'0' + rng.gen_range(0..10)))
        .collect();
    let receipt_number = rng.gen_bool(0.5).then(|| {
        format!(
            "{}-{}",
            rng.gen_range(1000..10_000),
            rng.gen_range(1000..10_000)
        )
    });

    json!({
        "id": fake.id(Stream::Refunds, index),
        "object": "refund",
        "amount": payment.amount_refunded,
        "balance_transaction": fake.id(Stream::BalanceTransactions, balance::of_refund(index)),
        "charge": fake.id(Stream::Charges, index),
        "created": fake.created(index),
        "currency": "usd",
        "destination_details": {
            "card": {
                "reference": (status == "succeeded").then_some(reference),
                "reference_status": if status == "succeeded" { "available" } else { "pending" },
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": {},
        "payment_intent": fake.id(Stream::PaymentIntents, index),
        "reason": reason,
        "receipt_number": receipt_number,
        "source_transfer_reversal": null,
        "status": status,
        "transfer_reversal": null,
    })
}
