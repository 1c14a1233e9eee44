//! Each endpoint's own list filters: what `GET /v1/{stream}` takes besides paging and `created`.
//!
//! Filters on ids (refunds by charge, balance transactions by source) narrow the listing to one
//! index; the others are tests on an index, cheap where they can be (a subscription's status is
//! its first draw, a payment intent's customer its charge's first draw).

use poem::http::StatusCode;

use super::error::ApiError;
use super::{Stream, StripeFake, balance, billing, charges, events};

/// Values `GET /v1/balance_transactions?type=` accepts.
const BALANCE_TYPES: &[&str] = &[
    "adjustment",
    "advance",
    "advance_funding",
    "anticipation_repayment",
    "application_fee",
    "application_fee_refund",
    "charge",
    "climate_order_purchase",
    "climate_order_refund",
    "connect_collection_transfer",
    "contribution",
    "issuing_authorization_hold",
    "issuing_authorization_release",
    "issuing_dispute",
    "issuing_transaction",
    "obligation_outbound",
    "obligation_reversal_inbound",
    "payment",
    "payment_failure_refund",
    "payment_network_reserve_hold",
    "payment_network_reserve_release",
    "payment_refund",
    "payment_reversal",
    "payment_unreconciled",
    "payout",
    "payout_cancel",
    "payout_failure",
    "payout_minimum_balance_hold",
    "payout_minimum_balance_release",
    "refund",
    "refund_failure",
    "reserve_transaction",
    "reserved_funds",
    "stripe_fee",
    "stripe_fx_fee",
    "tax_fee",
    "topup",
    "topup_reversal",
    "transfer",
    "transfer_cancel",
    "transfer_failure",
    "transfer_refund",
];

/// At most this many `types[]` on `GET /v1/events`.
const MAX_EVENT_TYPES: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    /// Stripe's default for subscriptions: everything not canceled.
    NotCanceled,
    /// `status=ended`: canceled and incomplete_expired.
    Ended,
    Exactly(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum EventTypes {
    /// `type`: one type, or a group with `*` wildcards.
    Pattern(String),
    /// `types[]`: exact types.
    Exact(Vec<String>),
}

/// The filters of one list request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    /// Only this index can match.
    pub(crate) only: Option<u64>,
    /// Nothing can match: a currency, payout or transaction type the fake has none of.
    pub(crate) nothing: bool,
    status: Option<Status>,
    customer: Option<u64>,
    event_types: Option<EventTypes>,
    balance_type: Option<&'static str>,
}

impl Filters {
    /// What a request without filters gets: subscriptions hide canceled ones.
    pub(crate) fn defaults(stream: Stream) -> Self {
        Self {
            status: (stream == Stream::Subscriptions).then_some(Status::NotCanceled),
            ..Self::default()
        }
    }

    /// Applies parameter `name` if `stream` takes it; `Ok(false)` when it does not.
    pub(crate) fn apply(
        &mut self,
        fake: &StripeFake,
        stream: Stream,
        name: &str,
        value: &str,
    ) -> Result<bool, ApiError> {
        match (stream, name) {
            (Stream::Subscriptions, "status") => self.status = parse_status(value)?,
            (Stream::PaymentIntents, "customer") => {
                self.customer = Some(existing(fake, Stream::Customers, value, name)?);
            }
            (Stream::Refunds, "charge") => {
                self.only_index(existing(fake, Stream::Charges, value, name)?);
            }
            (Stream::Refunds, "payment_intent") => {
                self.only_index(existing(fake, Stream::PaymentIntents, value, name)?);
            }
            (Stream::BalanceTransactions, "source") => {
                let charge = fake.decode(Stream::Charges, value);
                let refund = fake.decode(Stream::Refunds, value);
                match (charge, refund) {
                    (Some(index), _) => self.only_index(balance::of_charge(index)),
                    (None, Some(index)) => self.only_index(balance::of_refund(index)),
                    // A payout, transfer or anything else: none of those moved money here.
                    (None, None) => self.nothing = true,
                }
            }
            (Stream::BalanceTransactions, "type") => {
                let known = BALANCE_TYPES.iter().find(|t| **t == value).ok_or_else(|| {
                    ApiError::invalid_param(name, format!("Invalid type: {value}"))
                })?;
                match *known {
                    "charge" | "refund" => self.balance_type = Some(known),
                    _ => self.nothing = true,
                }
            }
            (Stream::BalanceTransactions, "currency") => {
                if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(ApiError::invalid_param(
                        name,
                        format!(
                            "Invalid currency: {value}. Stripe currently supports these currencies: usd, eur, gbp, …"
                        ),
                    ));
                }
                self.nothing |= value != "usd";
            }
            (Stream::BalanceTransactions, "payout") => self.nothing = true,
            (Stream::Events, "type") => self.event_types(EventTypes::Pattern(value.to_owned()))?,
            (Stream::Events, name) if is_types_param(name) => {
                let mut types = match self.event_types.take() {
                    Some(EventTypes::Exact(types)) => types,
                    None => Vec::new(),
                    Some(pattern) => {
                        self.event_types = Some(pattern);
                        return Err(type_and_types());
                    }
                };
                types.push(value.to_owned());
                if types.len() > MAX_EVENT_TYPES {
                    return Err(ApiError::invalid_param(
                        "types",
                        format!("You may pass at most {MAX_EVENT_TYPES} types."),
                    ));
                }
                self.event_types = Some(EventTypes::Exact(types));
            }
            (Stream::Events, "delivery_success") => match value {
                // Every webhook was delivered: nothing is pending or failed.
                "true" => {}
                "false" => self.nothing = true,
                _ => {
                    return Err(ApiError::invalid_param(
                        name,
                        format!("Invalid boolean: {value}"),
                    ));
                }
            },
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether record `index` of `stream` passes every filter that tests records.
    pub(crate) fn matches(&self, fake: &StripeFake, index: u64) -> bool {
        if let Some(status) = &self.status {
            let status_now = billing::subscription_status(fake, index);
            let keep = match status {
                Status::NotCanceled => status_now != "canceled",
                Status::Ended => matches!(status_now, "canceled" | "incomplete_expired"),
                Status::Exactly(wanted) => status_now == wanted,
            };
            if !keep {
                return false;
            }
        }
        if let Some(customer) = self.customer
            && charges::payment(fake, index).customer != customer
        {
            return false;
        }
        if let Some(kind) = self.balance_type
            && balance::kind(index) != kind
        {
            return false;
        }
        match &self.event_types {
            Some(EventTypes::Pattern(pattern)) => {
                events::type_matches(pattern, events::event_type(fake, index))
            }
            Some(EventTypes::Exact(types)) => {
                let event_type = events::event_type(fake, index);
                types.iter().any(|t| t == event_type)
            }
            None => true,
        }
    }

    fn only_index(&mut self, index: u64) {
        match self.only {
            Some(other) if other != index => self.nothing = true,
            _ => self.only = Some(index),
        }
    }

    fn event_types(&mut self, types: EventTypes) -> Result<(), ApiError> {
        if self.event_types.is_some() {
            return Err(type_and_types());
        }
        self.event_types = Some(types);
        Ok(())
    }
}

/// `types[]`, and the indexed `types[0]` some clients send.
fn is_types_param(name: &str) -> bool {
    name.strip_prefix("types[")
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| inner.bytes().all(|b| b.is_ascii_digit()))
}

fn type_and_types() -> ApiError {
    ApiError::invalid_param("types", "You may pass either type or types, but not both.")
}

/// The index of an existing `stream` object named by a filter parameter.
fn existing(fake: &StripeFake, stream: Stream, id: &str, param: &str) -> Result<u64, ApiError> {
    fake.decode(stream, id)
        .filter(|&index| fake.exists(stream, index))
        .ok_or_else(|| ApiError::resource_missing(stream, id, param, StatusCode::BAD_REQUEST))
}

fn parse_status(value: &str) -> Result<Option<Status>, ApiError> {
    match value {
        "all" => Ok(None),
        "ended" => Ok(Some(Status::Ended)),
        status if billing::is_subscription_status(status) => {
            Ok(Some(Status::Exactly(status.to_owned())))
        }
        other => Err(ApiError::invalid_param(
            "status",
            format!(
                "Invalid status: must be one of active, all, canceled, ended, incomplete, \
                 incomplete_expired, past_due, paused, trialing, or unpaid (got '{other}')."
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_params_are_recognised() {
        assert!(is_types_param("types[]"));
        assert!(is_types_param("types[12]"));
        assert!(!is_types_param("types"));
        assert!(!is_types_param("types[x]"));
    }
}
