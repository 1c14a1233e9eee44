//! Plausible people, companies, addresses and words for generated records.
//!
//! Platform-neutral on purpose: each fake turns these into its own JSON shape.
//! Every helper draws only from the record's own rng, which keeps records pure
//! functions of `(seed, stream, index)`.

use rand::Rng;
use rand::seq::SliceRandom;

const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Sofia", "Lucas", "Amara", "Kenji", "Priya",
    "Chen", "Fatima", "Diego", "Hannah", "Jonas", "Leila", "Marcus", "Nora", "Omar", "Ingrid",
    "Ravi", "Yuki", "Zoe", "Tomás", "Elena", "Kwame", "Sara", "Felix", "Mia",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Garcia",
    "Chen",
    "Okafor",
    "Müller",
    "Rossi",
    "Nakamura",
    "Patel",
    "Johansson",
    "Kowalski",
    "Dubois",
    "Silva",
    "Kim",
    "Nguyen",
    "Cohen",
    "Haddad",
    "Murphy",
    "Novak",
    "Fischer",
    "Lopez",
    "Brown",
    "Ivanova",
    "Mensah",
    "Larsen",
    "Moreau",
    "Tanaka",
];

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Blue Harbor",
    "Quantum",
    "Maple",
    "Summit",
    "Redwood",
    "Lumen",
    "Bright Path",
    "Ironclad",
    "Cobalt",
    "Evergreen",
    "Silverline",
    "Orbit",
    "Pioneer",
    "Atlas",
];

const COMPANY_SUFFIXES: &[&str] = &["Inc.", "LLC", "Ltd", "GmbH", "Labs", "Studio", "Co."];

const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "inbox.example.io",
];

const STREETS: &[&str] = &[
    "Main Street",
    "Oak Avenue",
    "Market Street",
    "Elm Road",
    "Harbor Way",
    "Mill Lane",
    "Park Boulevard",
    "Cedar Court",
    "King Street",
    "Station Road",
];

/// `(city, state, postal code prefix, ISO country, phone country code, locale)`.
const CITIES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("San Francisco", "CA", "941", "US", "+1", "en-US"),
    ("Austin", "TX", "787", "US", "+1", "en-US"),
    ("New York", "NY", "100", "US", "+1", "en-US"),
    ("Seattle", "WA", "981", "US", "+1", "en-US"),
    ("Toronto", "ON", "M5V", "CA", "+1", "en-CA"),
    ("London", "", "EC1", "GB", "+44", "en-GB"),
    ("Berlin", "", "101", "DE", "+49", "de-DE"),
    ("Paris", "", "750", "FR", "+33", "fr-FR"),
    ("Sydney", "NSW", "200", "AU", "+61", "en-AU"),
    ("Dublin", "", "D02", "IE", "+353", "en-IE"),
];

const ADJECTIVES: &[&str] = &[
    "Basic",
    "Pro",
    "Premium",
    "Enterprise",
    "Starter",
    "Growth",
    "Team",
    "Business",
    "Plus",
    "Ultimate",
];

const NOUNS: &[&str] = &[
    "Plan",
    "Backup",
    "Storage",
    "Seats",
    "Support",
    "Analytics",
    "Workspace",
    "Add-on",
    "Bundle",
    "License",
    "Subscription",
    "Credits",
];

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A postal address in the neutral shape most platforms use.
#[derive(Clone, Debug)]
pub(crate) struct Address {
    pub(crate) line1: String,
    pub(crate) line2: Option<String>,
    pub(crate) city: &'static str,
    /// Empty where the country has no states in its addresses.
    pub(crate) state: &'static str,
    pub(crate) postal_code: String,
    pub(crate) country: &'static str,
    pub(crate) phone_prefix: &'static str,
    pub(crate) locale: &'static str,
}

/// A person with a consistent name, email and phone number.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub(crate) first_name: &'static str,
    pub(crate) last_name: &'static str,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) address: Address,
}

impl Person {
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

pub(crate) fn pick<R: Rng>(rng: &mut R, items: &[&'static str]) -> &'static str {
    items.choose(rng).copied().unwrap_or_default()
}

/// `len` random characters from `[0-9A-Za-z]`, the alphabet of most platform ids.
pub(crate) fn alphanumeric<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())]))
        .collect()
}

/// `len` random upper-case letters and digits, e.g. Stripe's invoice prefixes.
pub(crate) fn upper_alphanumeric<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ALPHANUMERIC[rng.gen_range(0..36)]))
        .collect()
}

pub(crate) fn address<R: Rng>(rng: &mut R) -> Address {
    let (city, state, postal_prefix, country, phone_prefix, locale) =
        CITIES[rng.gen_range(0..CITIES.len())];
    let line2 = rng
        .gen_bool(0.3)
        .then(|| format!("Suite {}", rng.gen_range(100..999)));
    Address {
        line1: format!("{} {}", rng.gen_range(1..2_500), pick(rng, STREETS)),
        line2,
        city,
        state,
        postal_code: format!("{postal_prefix}{:02}", rng.gen_range(0..100)),
        country,
        phone_prefix,
        locale,
    }
}

pub(crate) fn person<R: Rng>(rng: &mut R) -> Person {
    let first_name = pick(rng, FIRST_NAMES);
    let last_name = pick(rng, LAST_NAMES);
    let address = address(rng);
    let email = format!(
        "{}.{}{}@{}",
        ascii_lower(first_name),
        ascii_lower(last_name),
        rng.gen_range(1..1_000),
        pick(rng, EMAIL_DOMAINS)
    );
    let phone = format!(
        "{}{}",
        address.phone_prefix,
        rng.gen_range(2_000_000_000u64..9_999_999_999)
    );
    Person {
        first_name,
        last_name,
        email,
        phone,
        address,
    }
}

pub(crate) fn company<R: Rng>(rng: &mut R) -> String {
    format!(
        "{} {}",
        pick(rng, COMPANY_WORDS),
        pick(rng, COMPANY_SUFFIXES)
    )
}

/// A product-ish name such as "Pro Backup".
pub(crate) fn product_name<R: Rng>(rng: &mut R) -> String {
    format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS))
}

/// A one-sentence description for a named thing.
pub(crate) fn sentence<R: Rng>(rng: &mut R, subject: &str) -> String {
    const TEMPLATES: &[&str] = &[
        "{} for growing teams.",
        "{} with priority support and daily exports.",
        "Everything in {}, billed per seat.",
        "{} including unlimited projects.",
        "Legacy {} kept for existing accounts.",
    ];
    pick(rng, TEMPLATES).replacen("{}", subject, 1)
}

/// Lower-cases and drops anything that cannot appear in the local part of an email.
fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::record_rng;

    #[test]
    fn people_are_consistent_and_emails_are_ascii() {
        for index in 0..200 {
            let person = person(&mut record_rng(1, index));
            assert!(person.email.is_ascii(), "{}", person.email);
            assert!(person.email.contains('@'));
            assert!(person.phone.starts_with(person.address.phone_prefix));
            assert!(!person.name().is_empty());
        }
    }

    #[test]
    fn alphabets_are_respected() {
        let mut rng = record_rng(2, 3);
        assert!(
            alphanumeric(&mut rng, 64)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        );
        let upper = upper_alphanumeric(&mut rng, 64);
        assert!(
            upper
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
    }
}
