//! The HubSpot resources the fake serves, and how each is named and numbered.

/// One HubSpot resource; the order matches [`super::STREAMS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stream {
    Contacts,
    Companies,
    Deals,
    Tickets,
    Owners,
    Pipelines,
}

/// Owner ids are 8-9 digit numbers in HubSpot.
const OWNER_ID_BASE: u64 = 70_000_000;
/// Custom pipelines get numeric ids; the two default ones are `default` (deals) and `0` (tickets).
const PIPELINE_ID_BASE: u64 = 700_000;

impl Stream {
    pub(crate) const ALL: [Stream; 6] = [
        Stream::Contacts,
        Stream::Companies,
        Stream::Deals,
        Stream::Tickets,
        Stream::Owners,
        Stream::Pipelines,
    ];

    /// The CRM object types, served at `/crm/v3/objects/{name}`.
    pub(crate) fn object_from_path(name: &str) -> Option<Self> {
        Self::from_name(name).filter(|s| s.is_object())
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stream| stream.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Contacts => "contacts",
            Stream::Companies => "companies",
            Stream::Deals => "deals",
            Stream::Tickets => "tickets",
            Stream::Owners => "owners",
            Stream::Pipelines => "pipelines",
        }
    }

    pub(crate) fn is_object(self) -> bool {
        !matches!(self, Stream::Owners | Stream::Pipelines)
    }

    /// The property holding the last-modified time: contacts predate the `hs_` prefix.
    pub(crate) fn modified_property(self) -> &'static str {
        match self {
            Stream::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Position in [`Stream::ALL`], for per-stream arrays.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// The key of this stream in [`crate::SandboxConfig::records`] and the generation namespace.
    pub(crate) fn spec(self) -> String {
        format!("hubspot.{}", self.name())
    }

    /// The id of record `index`: HubSpot ids are numeric strings, increasing with creation.
    pub(crate) fn id(self, index: u64) -> String {
        match self {
            Stream::Owners => OWNER_ID_BASE
                .saturating_add(index)
                .saturating_add(1)
                .to_string(),
            Stream::Pipelines => match index {
                0 => "default".to_owned(),
                1 => "0".to_owned(),
                _ => PIPELINE_ID_BASE.saturating_add(index).to_string(),
            },
            _ => index.saturating_add(1).to_string(),
        }
    }

    /// The index an id encodes (the inverse of [`Stream::id`]), `None` for anything else.
    pub(crate) fn index_of(self, id: &str) -> Option<u64> {
        let number = id
            .parse::<u64>()
            .ok()
            .filter(|_| id.bytes().all(|b| b.is_ascii_digit()));
        match self {
            Stream::Owners => number?.checked_sub(OWNER_ID_BASE)?.checked_sub(1),
            Stream::Pipelines => match id {
                "default" => Some(0),
                "0" => Some(1),
                _ => number?.checked_sub(PIPELINE_ID_BASE).filter(|&i| i >= 2),
            },
            _ => number?.checked_sub(1),
        }
    }

    /// The object type pipeline `index` belongs to: they alternate, deals first.
    pub(crate) fn pipeline_object(index: u64) -> Stream {
        if index.is_multiple_of(2) {
            Stream::Deals
        } else {
            Stream::Tickets
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for stream in Stream::ALL {
            for index in [0, 1, 2, 17, 1_000_000] {
                assert_eq!(
                    stream.index_of(&stream.id(index)),
                    Some(index),
                    "{stream:?}"
                );
            }
            assert_eq!(stream.index_of("abc"), None);
            assert_eq!(stream.index_of("+5"), None);
        }
        assert_eq!(Stream::Contacts.index_of("0"), None);
        assert_eq!(Stream::ALL.map(|s| s.slot()), [0, 1, 2, 3, 4, 5]);
    }
}
