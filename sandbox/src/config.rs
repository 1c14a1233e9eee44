//! What a sandbox serves: its seed, API keys and how many records each stream holds.

use std::collections::BTreeMap;
use std::fmt;

use crate::SandboxError;
use crate::{
    activecampaign, dropbox, gohighlevel, googledrive, hubspot, keap, mailchimp, slack, stripe,
    zendesk,
};

/// The platforms the sandbox fakes and their streams, for validating `platform.stream` specs.
const PLATFORMS: &[(&str, &[&str])] = &[
    ("stripe", &stripe::COUNTED_STREAMS),
    ("mailchimp", &mailchimp::STREAMS),
    ("activecampaign", &activecampaign::STREAMS),
    ("zendesk", &zendesk::STREAMS),
    ("hubspot", &hubspot::STREAMS),
    ("keap", &keap::STREAMS),
    ("gohighlevel", &gohighlevel::STREAMS),
    ("dropbox", &dropbox::STREAMS),
    ("googledrive", &googledrive::STREAMS),
    ("slack", &slack::STREAMS),
];

/// How to build a [`Sandbox`](crate::Sandbox).
///
/// `records` maps `"platform.stream"` (e.g. `"stripe.customers"`) to the record count
/// the stream starts with; [`SandboxConfig::new`] fills in every stream's default.
#[derive(Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Every generated record and id derives from this; same seed, same bytes.
    pub seed: u64,
    /// The secret key the Stripe fake accepts (`Authorization: Bearer <key>`).
    pub stripe_api_key: String,
    /// The private-app token the HubSpot fake accepts (`Authorization: Bearer <token>`).
    pub hubspot_access_token: String,
    /// Initial record count per `"platform.stream"`.
    pub records: BTreeMap<String, u64>,
}

impl SandboxConfig {
    /// The defaults: key `sk_test_sandbox`, 100 Stripe customers and 50 of everything else;
    /// Mailchimp: 3 lists of 100 members, 20 campaigns and reports, 10 templates.
    /// Zendesk: 100 tickets, 50 users, 20 organizations and 10 groups.
    /// HubSpot: 100 contacts, 50 companies, deals and tickets, 10 owners, 4 pipelines;
    /// Keap: 50 contacts and 20 of every other stream;
    /// GoHighLevel, per location: 100 contacts, 2 calendars and 50 of everything else;
    /// Dropbox: 40 files in 10 folders;
    /// Google Drive: 60 files and folders, 3 shared drives;
    /// Slack: 6 channels, 20 members, 30 messages and 5 threads per channel, 8 files.
    pub fn new(seed: u64) -> Self {
        fn counts(platform: &str, streams: &[&str], count: fn(&str) -> u64) -> Vec<(String, u64)> {
            streams
                .iter()
                .map(|&stream| (format!("{platform}.{stream}"), count(stream)))
                .collect()
        }
        let records = [
            counts("stripe", &stripe::COUNTED_STREAMS, stripe::default_count),
            counts("mailchimp", &mailchimp::STREAMS, mailchimp::default_count),
            counts(
                "activecampaign",
                &activecampaign::STREAMS,
                activecampaign::default_count,
            ),
            counts("zendesk", &zendesk::STREAMS, zendesk::default_count),
            counts("hubspot", &hubspot::STREAMS, hubspot::default_count),
            counts("keap", &keap::STREAMS, keap::default_count),
            counts(
                "gohighlevel",
                &gohighlevel::STREAMS,
                gohighlevel::default_count,
            ),
            counts("dropbox", &dropbox::STREAMS, dropbox::default_count),
            counts(
                "googledrive",
                &googledrive::STREAMS,
                googledrive::default_count,
            ),
            counts("slack", &slack::STREAMS, slack::default_count),
        ]
        .into_iter()
        .flatten()
        .collect();
        Self {
            seed,
            stripe_api_key: stripe::DEFAULT_API_KEY.to_owned(),
            hubspot_access_token: hubspot::DEFAULT_ACCESS_TOKEN.to_owned(),
            records,
        }
    }

    /// Sets the initial record count of one stream, e.g. `("stripe.customers", 10_000)`.
    pub fn with_records(mut self, spec: &str, n: u64) -> Result<Self, SandboxError> {
        let spec = normalize_spec(spec)?;
        self.records.insert(spec, n);
        Ok(self)
    }

    /// Parses a CLI `--records` value such as `stripe.customers=10000` (underscores allowed in the count).
    pub fn parse_records_arg(arg: &str) -> Result<(String, u64), SandboxError> {
        let invalid = |reason: String| SandboxError::InvalidRecordsArg {
            arg: arg.to_owned(),
            reason,
        };
        let (spec, count) = arg.split_once('=').ok_or_else(|| {
            invalid("expected `platform.stream=count`, e.g. `stripe.customers=10000`".into())
        })?;
        let digits = count.trim().replace('_', "");
        let count = digits.parse::<u64>().map_err(|_| {
            invalid(format!(
                "count `{}` is not a non-negative whole number",
                count.trim()
            ))
        })?;
        let spec = normalize_spec(spec).map_err(|err| match err {
            // Name the whole argument, not just the part before `=`.
            SandboxError::InvalidRecordsArg { reason, .. } => invalid(reason),
            other => other,
        })?;
        Ok((spec, count))
    }

    /// The initial record count of `"platform.stream"`, 0 when unset.
    pub fn records_for(&self, spec: &str) -> u64 {
        self.records.get(spec).copied().unwrap_or_default()
    }

    /// Checks what a caller may have set by hand on the public fields.
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if self.stripe_api_key.trim().is_empty() {
            return Err(SandboxError::EmptyApiKey {
                platform: "stripe".into(),
            });
        }
        if self.hubspot_access_token.trim().is_empty() {
            return Err(SandboxError::EmptyApiKey {
                platform: "hubspot".into(),
            });
        }
        for spec in self.records.keys() {
            if normalize_spec(spec)? != *spec {
                return Err(SandboxError::InvalidRecordsArg {
                    arg: spec.clone(),
                    reason: "write the spec in lower case without spaces, e.g. `stripe.customers`"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

// Hand-written so the API key never reaches logs, even though it is only a sandbox key:
// people paste real keys into configs.
impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("seed", &self.seed)
            .field("stripe_api_key", &"<redacted>")
            .field("hubspot_access_token", &"<redacted>")
            .field("records", &self.records)
            .finish()
    }
}

/// Validates `platform.stream` and returns it in canonical (trimmed, lower-case) form.
fn normalize_spec(spec: &str) -> Result<String, SandboxError> {
    let spec = spec.trim().to_ascii_lowercase();
    let Some((platform, stream)) = spec.split_once('.') else {
        return Err(SandboxError::InvalidRecordsArg {
            arg: spec,
            reason: "expected `platform.stream`, e.g. `stripe.customers`".into(),
        });
    };
    let Some((_, streams)) = PLATFORMS.iter().find(|(name, _)| *name == platform) else {
        return Err(SandboxError::UnknownPlatform {
            platform: platform.to_owned(),
            known: PLATFORMS
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    if platform == "stripe"
        && let Some(source) = stripe::follows(stream)
    {
        return Err(SandboxError::InvalidRecordsArg {
            arg: spec.clone(),
            reason: format!("Stripe `{stream}` have no count of their own: they follow {source}"),
        });
    }
    if !streams.contains(&stream) {
        return Err(SandboxError::UnknownStream {
            platform: platform.to_owned(),
            stream: stream.to_owned(),
            known: streams.join(", "),
        });
    }
    Ok(format!("{platform}.{stream}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_every_stripe_stream() {
        let config = SandboxConfig::new(1);
        assert_eq!(config.records_for("stripe.customers"), 100);
        for stream in ["products", "prices", "invoices", "charges", "subscriptions"] {
            assert_eq!(config.records_for(&format!("stripe.{stream}")), 50);
        }
        assert_eq!(
            config.records_for("stripe.events"),
            0,
            "events follow the others"
        );
        assert_eq!(config.stripe_api_key, "sk_test_sandbox");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn with_records_names_what_is_unknown() {
        let config = SandboxConfig::new(1)
            .with_records("Stripe.Customers ", 10)
            .unwrap();
        assert_eq!(config.records_for("stripe.customers"), 10);

        let err = SandboxConfig::new(1)
            .with_records("acme.contacts", 1)
            .unwrap_err();
        assert!(err.to_string().contains("`acme`"), "{err}");
        let err = SandboxConfig::new(1)
            .with_records("stripe.disputes", 1)
            .unwrap_err();
        assert!(err.to_string().contains("`disputes`"), "{err}");
        assert!(err.to_string().contains("customers"), "{err}");
        let err = SandboxConfig::new(1)
            .with_records("stripe.refunds", 1)
            .unwrap_err();
        assert!(err.to_string().contains("follow charges"), "{err}");
        assert!(SandboxConfig::new(1).with_records("customers", 1).is_err());
    }

    #[test]
    fn parses_records_args() {
        assert_eq!(
            SandboxConfig::parse_records_arg("stripe.customers=10000").unwrap(),
            ("stripe.customers".to_owned(), 10_000)
        );
        assert_eq!(
            SandboxConfig::parse_records_arg("stripe.charges = 10_000_000").unwrap(),
            ("stripe.charges".to_owned(), 10_000_000)
        );
        for bad in [
            "stripe.customers",
            "stripe.customers=",
            "stripe.customers=-1",
            "stripe.customers=1e6",
            "=5",
        ] {
            let err = SandboxConfig::parse_records_arg(bad).unwrap_err();
            assert!(
                matches!(err, SandboxError::InvalidRecordsArg { ref arg, .. } if arg == bad),
                "{bad}: {err}"
            );
        }
        let err = SandboxConfig::parse_records_arg("stripe.nope=5").unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    #[test]
    fn validate_rejects_empty_keys_and_bad_specs() {
        let mut config = SandboxConfig::new(1);
        config.stripe_api_key = " ".into();
        assert!(matches!(
            config.validate(),
            Err(SandboxError::EmptyApiKey { .. })
        ));

        let mut config = SandboxConfig::new(1);
        config.records.insert("stripe.disputes".into(), 3);
        assert!(matches!(
            config.validate(),
            Err(SandboxError::UnknownStream { .. })
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        let debug = format!("{:?}", SandboxConfig::new(1));
        assert!(!debug.contains("sk_test_sandbox"), "{debug}");
        assert!(
            !debug.contains(crate::hubspot::DEFAULT_ACCESS_TOKEN),
            "{debug}"
        );
    }
}
