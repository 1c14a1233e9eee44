//! Generated HubSpot records: CRM objects, owners and pipelines.
//!
//! Everything but the timestamps and the one property a touch changes comes from the
//! record's own rng, so a record's bytes depend only on `(seed, stream, index, version)`.

use rand::Rng;
use serde_json::{Map, Value, json};

use super::{HubSpotFake, Stream, Version};
use crate::generate::fake;

const LIFECYCLE_STAGES: [&str; 6] = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
];
const PRIORITIES: [&str; 3] = ["LOW", "MEDIUM", "HIGH"];
const INDUSTRIES: &[&str] = &[
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "RETAIL",
    "HOSPITAL_HEALTH_CARE",
    "MARKETING_AND_ADVERTISING",
];
const DEAL_STAGES: &[&str] = &[
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
];
const TICKET_STAGES: &[&str] = &["1", "2", "3", "4"];

/// HubSpot's timestamp format: ISO 8601 in UTC with milliseconds.
pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn record(fake: &HubSpotFake, stream: Stream, index: u64, version: Version) -> Value {
    match stream {
        Stream::Owners => owner(fake, index, version),
        Stream::Pipelines => pipeline(fake, index, version),
        _ => object(fake, stream, index, version),
    }
}

fn object(fake: &HubSpotFake, stream: Stream, index: u64, version: Version) -> Value {
    let mut rng = fake.rng(stream, index);
    let id = stream.id(index);
    let revision = version.revision;
    let mut properties = Map::new();
    let mut set = |name: &str, value: Value| {
        properties.insert(name.to_owned(), value);
    };
    match stream {
        Stream::Contacts => {
            let person = fake::person(&mut rng);
            let stage = rng.gen_range(0..LIFECYCLE_STAGES.len() as u64);
            set("firstname", person.first_name.into());
            set("lastname", person.last_name.into());
            set("email", person.email.into());
            set("phone", person.phone.into());
            set("city", person.address.city.into());
            set("country", person.address.country.into());
            set("company", fake::company(&mut rng).into());
            set(
                "lifecyclestage",
                LIFECYCLE_STAGES[((stage + revision) % LIFECYCLE_STAGES.len() as u64) as usize]
                    .into(),
            );
        }
        Stream::Companies => {
            let address = fake::address(&mut rng);
            let name = fake::company(&mut rng);
            let domain: String = name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            set("name", name.into());
            set("domain", format!("{domain}.example.com").into());
            set("industry", fake::pick(&mut rng, INDUSTRIES).into());
            set("city", address.city.into());
            set("country", address.country.into());
            let employees = rng.gen_range(1..5_000u64) + revision;
            set("numberofemployees", employees.to_string().into());
        }
        Stream::Deals => {
            let amount = rng.gen_range(5..500u64) * 100 + revision * 100;
            let close = version.created_ms + rng.gen_range(1..90i64) * 86_400_000;
            set(
                "dealname",
                format!(
                    "{} - {}",
                    fake::company(&mut rng),
                    fake::product_name(&mut rng)
                )
                .into(),
            );
            set("amount", amount.to_string().into());
            set("dealstage", fake::pick(&mut rng, DEAL_STAGES).into());
            set("pipeline", "default".into());
            set("closedate", iso(close).into());
            set("hubspot_owner_id", owner_ref(fake, &mut rng));
        }
        _ => {
            let priority = rng.gen_range(0..PRIORITIES.len() as u64);
            let subject = fake::product_name(&mut rng);
            set("subject", format!("Problem with {subject}").into());
            set("content", fake::sentence(&mut rng, &subject).into());
            set("hs_pipeline", "0".into());
            set(
                "hs_pipeline_stage",
                fake::pick(&mut rng, TICKET_STAGES).into(),
            );
            set(
                "hs_ticket_priority",
                PRIORITIES[((priority + revision) % PRIORITIES.len() as u64) as usize].into(),
            );
            set("hubspot_owner_id", owner_ref(fake, &mut rng));
        }
    }
    set("createdate", iso(version.created_ms).into());
    set(stream.modified_property(), iso(version.modified_ms).into());
    set("hs_object_id", id.clone().into());
    json!({
        "id": id,
        "properties": properties,
        "createdAt": iso(version.created_ms),
        "updatedAt": iso(version.modified_ms),
        "archived": false,
    })
}

/// An owner that existed at start-up, as a `hubspot_owner_id` value.
fn owner_ref(fake: &HubSpotFake, rng: &mut rand_chacha::ChaCha8Rng) -> Value {
    match fake.initial_count(Stream::Owners) {
        0 => Value::Null,
        owners => Stream::Owners.id(rng.gen_range(0..owners)).into(),
    }
}

fn owner(fake: &HubSpotFake, index: u64, version: Version) -> Value {
    let mut rng = fake.rng(Stream::Owners, index);
    let person = fake::person(&mut rng);
    let user_id = 5_000_000 + index;
    let team = rng.gen_range(1..4u64);
    let last_name = match version.revision {
        0 => person.last_name.to_owned(),
        r => format!("{}-{r}", person.last_name),
    };
    json!({
        "id": Stream::Owners.id(index),
        "email": person.email,
        "type": "PERSON",
        "firstName": person.first_name,
        "lastName": last_name,
        "userId": user_id,
        "userIdIncludingInactive": user_id,
        "createdAt": iso(version.created_ms),
        "updatedAt": iso(version.modified_ms),
        "archived": false,
        "teams": [{ "id": (900 + team).to_string(), "name": format!("Team {team}"), "primary": true }],
    })
}

fn pipeline(fake: &HubSpotFake, index: u64, version: Version) -> Value {
    let mut rng = fake.rng(Stream::Pipelines, index);
    let object = Stream::pipeline_object(index);
    let (label, stages): (String, &[&str]) = match (index, object) {
        (0, _) => ("Sales Pipeline".into(), DEAL_STAGES),
        (1, _) => ("Support Pipeline".into(), TICKET_STAGES),
        (_, Stream::Deals) => (
            format!("{} Pipeline", fake::product_name(&mut rng)),
            DEAL_STAGES,
        ),
        _ => (
            format!("{} Support", fake::product_name(&mut rng)),
            TICKET_STAGES,
        ),
    };
    let label = match version.revision {
        0 => label,
        r => format!("{label} (rev {r})"),
    };
    let count = stages.len();
    let stages: Vec<Value> = stages
        .iter()
        .enumerate()
        .map(|(order, stage)| {
            let mut metadata = Map::new();
            if object == Stream::Deals {
                let probability = if *stage == "closedlost" {
                    0.0
                } else {
                    (order + 1) as f64 / (count - 1) as f64
                };
                metadata.insert("probability".into(), format!("{:.1}", probability.min(1.0)).into());
            } else {
                metadata.insert("ticketState".into(), if order + 1 == count { "CLOSED" } else { "OPEN" }.into());
            }
            json!({
                "id": if index < 2 { (*stage).to_owned() } else { format!("{}{order}", Stream::Pipelines.id(index)) },
                "label": stage.replace("scheduled", " scheduled"),
                "displayOrder": order,
                "metadata": metadata,
                "createdAt": iso(version.created_ms),
                "updatedAt": iso(version.modified_ms),
                "archived": false,
                "writePermissions": "CRUD_ALL",
            })
        })
        .collect();
    json!({
        "id": Stream::Pipelines.id(index),
        "label": label,
        "displayOrder": index / 2,
        "createdAt": iso(version.created_ms),
        "updatedAt": iso(version.modified_ms),
        "archived": false,
        "stages": stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_carry_hubspot_system_properties() {
        let fake = HubSpotFake::new(3, "t".into(), |s| super::super::default_count(s.name()));
        for stream in ["contacts", "companies", "deals", "tickets"] {
            let record = fake.record(stream, 5);
            let s = Stream::from_name(stream).unwrap();
            assert_eq!(record["id"], "6");
            assert_eq!(record["properties"]["hs_object_id"], "6");
            assert_eq!(
                record["properties"][s.modified_property()],
                record["updatedAt"]
            );
            assert_eq!(record["properties"]["createdate"], record["createdAt"]);
            assert_eq!(record["archived"], false);
        }
        assert_eq!(iso(1_600_000_000_123), "2020-09-13T12:26:40.123Z");
        assert_eq!(fake.record("pipelines", 1)["id"], "0");
        assert_eq!(fake.record("owners", 0)["id"], "70000001");
    }
}
