//! Generated Stripe subscriptions and invoices.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, catalog, customers, opaque_id};
use crate::generate::fake;

const DAY: i64 = 86_400;

/// Stripe's subscription statuses with the share each gets, in percent.
/// Every status gets a share, so a `status=` filter never scans far for a match.
const SUBSCRIPTION_STATUSES: &[(&str, u32)] = &[
    ("active", 55),
    ("canceled", 20),
    ("trialing", 8),
    ("past_due", 5),
    ("unpaid", 3),
    ("paused", 3),
    ("incomplete", 3),
    ("incomplete_expired", 3),
];

/// Every value `GET /v1/subscriptions?status=` accepts besides `all` and `ended`.
pub(super) fn is_subscription_status(status: &str) -> bool {
    SUBSCRIPTION_STATUSES
        .iter()
        .any(|(name, _)| *name == status)
}

fn draw_status(rng: &mut ChaCha8Rng) -> &'static str {
    let mut roll = rng.gen_range(0..100);
    for &(status, share) in SUBSCRIPTION_STATUSES {
        if roll < share {
            return status;
        }
        roll -= share;
    }
    "active"
}

/// The status of subscription `index`: its first draw, so list filters need not
/// generate whole records to skip canceled ones.
pub(super) fn subscription_status(fake: &StripeFake, index: u64) -> &'static str {
    draw_status(&mut fake.rng(Stream::Subscriptions, index))
}

pub(super) fn subscription(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Subscriptions, index);
    let status = draw_status(&mut rng);
    let id = fake.id(Stream::Subscriptions, index);
    let created = fake.created(index);
    let customer = fake.reference(&mut rng, Stream::Customers, index);
    let price_index =
        catalog::recurring_at_or_below(fake.reference(&mut rng, Stream::Prices, index));
    let price = catalog::price(fake, price_index);
    let period = if price["recurring"]["interval"] == "year" {
        365 * DAY
    } else {
        30 * DAY
    };

    let (trial_start, trial_end) = if status == "trialing" || rng.gen_bool(0.1) {
        (Some(created), Some(created + 14 * DAY))
    } else {
        (None, None)
    };
    // Up to two years of renewals so far; a trial is the current period while it lasts.
    let renewals = if period == 365 * DAY {
        rng.gen_range(0..3)
    } else {
        rng.gen_range(0..24)
    };
    let (period_start, period_end) = match trial_end {
        Some(end) if status == "trialing" => (created, end),
        _ => {
            let start = created + period * renewals;
            (start, start + period)
        }
    };
    let (canceled_at, ended_at) = match status {
        "canceled" | "incomplete_expired" => {
            let at = period_start + rng.gen_range(0..period_end - period_start);
            (Some(at), Some(at))
        }
        _ => (None, None),
    };
    let cancel_at_period_end = status == "active" && rng.gen_bool(0.05);
    let quantity = if rng.gen_bool(0.7) {
        1
    } else {
        rng.gen_range(2..20)
    };

    json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "billing_cycle_anchor": created,
        "cancel_at": cancel_at_period_end.then_some(period_end),
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "current_period_end": period_end,
        "current_period_start": period_start,
        "customer": fake.id(Stream::Customers, customer),
        "days_until_due": null,
        "default_payment_method": opaque_id(&mut rng, "pm_"),
        "ended_at": ended_at,
        "items": {
            "object": "list",
            "data": [{
                "id": opaque_id(&mut rng, "si_"),
                "object": "subscription_item",
                "created": created + 1,
                "metadata": {},
                "price": price,
                "quantity": quantity,
                "subscription": id,
            }],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={id}"),
        },
        "livemode": false,
        "metadata": {},
        "start_date": created,
        "status": status,
        "trial_end": trial_end,
        "trial_start": trial_start,
    })
}

pub(super) fn invoice(fake: &StripeFake, index: u64) -> Value {
    let mut rng = fake.rng(Stream::Invoices, index);
    let id = fake.id(Stream::Invoices, index);
    let created = fake.created(index);
    let customer = fake.reference(&mut rng, Stream::Customers, index);
    let profile = customers::profile(fake, customer);
    let product = fake.reference(&mut rng, Stream::Products, index);
    let subscription = rng.gen_bool(0.7).then(|| {
        fake.id(
            Stream::Subscriptions,
            fake.reference(&mut rng, Stream::Subscriptions, index),
        )
    });

    let status = match rng.gen_range(0..20) {
        0..=13 => "paid",
        14..=16 => "open",
        17 => "draft",
        18 => "void",
        _ => "uncollectible",
    };
    let quantity: i64 = if rng.gen_bool(0.7) {
        1
    } else {
        rng.gen_range(2..10)
    };
    let unit_amount: i64 = rng.gen_range(5..500) * 100;
    let total = unit_amount * quantity;
    let amount_paid = if status == "paid" { total } else { 0 };
    let (period_start, period_end) = (created - 30 * DAY, created);
    let number = (status != "draft")
        .then(|| format!("{}-{:04}", profile.invoice_prefix, rng.gen_range(1..500)));
    let description = format!(
        "{quantity} × {} (at ${}.{:02} / month)",
        catalog::product_name(fake, product),
        unit_amount / 100,
        unit_amount % 100
    );

    json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "ListBackup Sandbox",
        "amount_due": total,
        "amount_paid": amount_paid,
        "amount_remaining": total - amount_paid,
        "attempt_count": u8::from(status != "draft"),
        "attempted": status != "draft",
        "billing_reason": if subscription.is_some() { "subscription_cycle" } else { "manual" },
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "customer": fake.id(Stream::Customers, customer),
        "customer_email": profile.person.email,
        "customer_name": profile.person.name(),
        "description": null,
        "due_date": null,
        "hosted_invoice_url": (status != "draft").then(|| format!(
            "https://invoice.stripe.com/i/acct_sandbox/test_{}", fake::alphanumeric(&mut rng, 32))),
        "lines": {
            "object": "list",
            "data": [{
                "id": opaque_id(&mut rng, "il_"),
                "object": "line_item",
                "amount": total,
                "currency": "usd",
                "description": description,
                "period": { "end": period_end, "start": period_start },
                "quantity": quantity,
            }],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/invoices/{id}/lines"),
        },
        "livemode": false,
        "metadata": {},
        "number": number,
        "paid": status == "paid",
        "period_end": period_end,
        "period_start": period_start,
        "status": status,
        "subscription": subscription,
        "subtotal": total,
        "total": total,
    })
}
