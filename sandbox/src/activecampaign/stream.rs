//! The ActiveCampaign resources the fake lists, and what each is called on the wire.

/// One listable resource; the order matches [`super::STREAMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stream {
    Contacts,
    Deals,
    Lists,
    Campaigns,
    Automations,
}

impl Stream {
    pub(crate) const ALL: [Stream; 5] = [
        Stream::Contacts,
        Stream::Deals,
        Stream::Lists,
        Stream::Campaigns,
        Stream::Automations,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stream| stream.name() == name)
    }

    /// The path segment `/api/3/{name}` and the key of the record array in a list answer.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Contacts => "contacts",
            Stream::Deals => "deals",
            Stream::Lists => "lists",
            Stream::Campaigns => "campaigns",
            Stream::Automations => "automations",
        }
    }

    /// Whether the list endpoint takes `filters[updated_after]` / `filters[updated_before]`.
    pub(crate) fn has_updated_filter(self) -> bool {
        matches!(self, Stream::Contacts | Stream::Deals)
    }

    /// Position in [`Stream::ALL`], for per-stream arrays.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// The key of this stream in [`crate::SandboxConfig::records`] and the generation namespace.
    pub(crate) fn spec(self) -> String {
        format!("activecampaign.{}", self.name())
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
        assert_eq!(Stream::from_name("accounts"), None);
    }
}
