//! The Keap resources the fake lists, which API version serves each, and their wire names.

/// Which of Keap's two REST APIs serves a resource, and so how it paginates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/crm/rest/v1`: `limit` + `offset`, answers carry `count` and a `next` URL.
    V1,
    /// `/crm/rest/v2`: `page_size` + `page_token`, answers carry `next_page_token`.
    V2,
}

/// One listable Keap resource; the order matches [`super::STREAMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stream {
    Contacts,
    Companies,
    Orders,
    Products,
    Opportunities,
    Tags,
}

impl Stream {
    pub(crate) const ALL: [Stream; 6] = [
        Stream::Contacts,
        Stream::Companies,
        Stream::Orders,
        Stream::Products,
        Stream::Opportunities,
        Stream::Tags,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stream| stream.name() == name)
    }

    /// The path segment and the array field of a list answer.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Contacts => "contacts",
            Stream::Companies => "companies",
            Stream::Orders => "orders",
            Stream::Products => "products",
            Stream::Opportunities => "opportunities",
            Stream::Tags => "tags",
        }
    }

    /// Orders and products are listed through v1 (their v1 lists are the documented,
    /// complete ones); everything else through v2.
    pub(crate) fn version(self) -> ApiVersion {
        match self {
            Stream::Orders | Stream::Products => ApiVersion::V1,
            _ => ApiVersion::V2,
        }
    }

    /// Whether the list accepts a last-updated filter (`filter=start_update_time==…`).
    pub(crate) fn filters_on_update_time(self) -> bool {
        self == Stream::Contacts
    }

    /// Position in [`Stream::ALL`], for per-stream arrays.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// The key in [`crate::SandboxConfig::records`] and the generation namespace.
    pub(crate) fn spec(self) -> String {
        format!("keap.{}", self.name())
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
        assert_eq!(Stream::from_name("notes"), None);
    }
}
