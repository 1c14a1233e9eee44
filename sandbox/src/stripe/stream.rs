//! The Stripe objects the fake lists, and what each is called on the wire.

/// One listable Stripe resource; the order matches [`super::STREAMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stream {
    Customers,
    Products,
    Prices,
    Invoices,
    Charges,
    PaymentIntents,
    Subscriptions,
    Refunds,
    BalanceTransactions,
    Events,
}

impl Stream {
    pub(crate) const ALL: [Stream; 10] = [
        Stream::Customers,
        Stream::Products,
        Stream::Prices,
        Stream::Invoices,
        Stream::Charges,
        Stream::PaymentIntents,
        Stream::Subscriptions,
        Stream::Refunds,
        Stream::BalanceTransactions,
        Stream::Events,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stream| stream.name() == name)
    }

    /// The path segment, `/v1/{name}`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Customers => "customers",
            Stream::Products => "products",
            Stream::Prices => "prices",
            Stream::Invoices => "invoices",
            Stream::Charges => "charges",
            Stream::PaymentIntents => "payment_intents",
            Stream::Subscriptions => "subscriptions",
            Stream::Refunds => "refunds",
            Stream::BalanceTransactions => "balance_transactions",
            Stream::Events => "events",
        }
    }

    /// The `object` field of a record and the noun in "No such customer" errors.
    pub(crate) fn object(self) -> &'static str {
        match self {
            Stream::Customers => "customer",
            Stream::Products => "product",
            Stream::Prices => "price",
            Stream::Invoices => "invoice",
            Stream::Charges => "charge",
            Stream::PaymentIntents => "payment_intent",
            Stream::Subscriptions => "subscription",
            Stream::Refunds => "refund",
            Stream::BalanceTransactions => "balance_transaction",
            Stream::Events => "event",
        }
    }

    /// Stripe's id prefix, separator included.
    pub(crate) fn id_prefix(self) -> &'static str {
        match self {
            Stream::Customers => "cus_",
            Stream::Products => "prod_",
            Stream::Prices => "price_",
            Stream::Invoices => "in_",
            Stream::Charges => "ch_",
            Stream::PaymentIntents => "pi_",
            Stream::Subscriptions => "sub_",
            Stream::Refunds => "re_",
            Stream::BalanceTransactions => "txn_",
            Stream::Events => "evt_",
        }
    }

    /// What a stream without a count of its own follows from (for messages), `None` for the
    /// counted streams: payment intents, refunds and balance transactions follow charges, and
    /// events follow every object created.
    pub(crate) fn follows(self) -> Option<&'static str> {
        match self {
            Stream::PaymentIntents | Stream::Refunds | Stream::BalanceTransactions => {
                Some("charges")
            }
            Stream::Events => Some("every other stream"),
            _ => None,
        }
    }

    /// Position in [`Stream::ALL`], for per-stream arrays.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// The key of this stream in [`crate::SandboxConfig::records`] and the generation namespace.
    pub(crate) fn spec(self) -> String {
        format!("stripe.{}", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_public_list_and_slots() {
        for (slot, (stream, name)) in Stream::ALL.iter().zip(super::super::STREAMS).enumerate() {
            assert_eq!(stream.name(), name);
            assert_eq!(stream.slot(), slot);
            assert_eq!(Stream::from_name(name), Some(*stream));
        }
        assert_eq!(Stream::from_name("disputes"), None);
    }

    #[test]
    fn only_the_counted_streams_have_counts() {
        let counted: Vec<&str> = Stream::ALL
            .iter()
            .filter(|s| s.follows().is_none())
            .map(|s| s.name())
            .collect();
        assert_eq!(counted, super::super::COUNTED_STREAMS);
    }
}
