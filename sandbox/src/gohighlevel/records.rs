//! Generated GoHighLevel records in the API's shapes.

use rand::Rng;
use serde_json::{Value, json};

use super::{
    APPOINTMENT_BASE_MS, APPOINTMENT_STEP_MS, BASE_MS, Location, LocationData, Stream, iso,
    timeline::STEP_MS,
};
use crate::generate::{self, fake};

pub(super) fn generate(loc: &Location, data: &LocationData, stream: Stream, index: u64) -> Value {
    match stream {
        Stream::Contacts => contact(loc, data, index),
        Stream::Opportunities => opportunity(loc, index),
        Stream::Calendars => calendar(loc, index),
        Stream::Appointments => appointment(loc, index),
    }
}

fn rng(loc: &Location, stream: Stream, index: u64) -> rand_chacha::ChaCha8Rng {
    generate::record_rng(loc.keys[stream as usize], index)
}

/// A contact, with the `searchAfter` values of the default sort (`dateUpdated`, then id).
pub(super) fn contact(loc: &Location, data: &LocationData, index: u64) -> Value {
    let mut rng = rng(loc, Stream::Contacts, index);
    let person = fake::person(&mut rng);
    let id = loc.id_of(Stream::Contacts, index);
    let updated = data.contacts.updated(index);
    let tags: Vec<&str> = (0..rng.gen_range(0..3))
        .map(|_| {
            fake::pick(
                &mut rng,
                &["lead", "customer", "vip", "newsletter", "webinar"],
            )
        })
        .collect();
    json!({
        "id": id,
        "locationId": loc.id,
        "contactName": person.name().to_lowercase(),
        "firstName": person.first_name,
        "lastName": person.last_name,
        "firstNameLowerCase": person.first_name.to_lowercase(),
        "lastNameLowerCase": person.last_name.to_lowercase(),
        "email": person.email,
        "phone": person.phone,
        "companyName": rng.gen_bool(0.5).then(|| fake::company(&mut rng)),
        "address1": person.address.line1,
        "city": person.address.city,
        "state": person.address.state,
        "postalCode": person.address.postal_code,
        "country": person.address.country,
        "source": fake::pick(&mut rng, &["form", "import", "api", "facebook", "manual"]),
        "type": if rng.gen_bool(0.7) { "lead" } else { "customer" },
        "tags": tags,
        "dnd": rng.gen_bool(0.05),
        "assignedTo": null,
        "customFields": [],
        "dateAdded": iso(data.contacts.added(index)),
        "dateUpdated": iso(updated),
        "searchAfter": [updated, id],
    })
}

pub(super) fn opportunity_created(index: u64) -> i64 {
    let steps = i64::try_from(index).unwrap_or(i64::MAX);
    BASE_MS.saturating_add(steps.saturating_mul(STEP_MS))
}

fn opportunity(loc: &Location, index: u64) -> Value {
    let mut rng = rng(loc, Stream::Opportunities, index);
    let created = opportunity_created(index);
    let contacts = loc.initial[Stream::Contacts as usize];
    let contact = (contacts > 0).then(|| loc.id_of(Stream::Contacts, index % contacts));
    let status = fake::pick(&mut rng, &["open", "won", "lost", "abandoned"]);
    json!({
        "id": loc.id_of(Stream::Opportunities, index),
        "name": fake::product_name(&mut rng),
        "monetaryValue": rng.gen_range(0..50_000),
        "pipelineId": format!("pl{}", fake::alphanumeric(&mut rng, 18)),
        "pipelineStageId": format!("st{}", fake::alphanumeric(&mut rng, 18)),
        "status": status,
        "source": fake::pick(&mut rng, &["website", "referral", "ads"]),
        "contactId": contact,
        "locationId": loc.id,
        "assignedTo": null,
        "lastStatusChangeAt": iso(created),
        "createdAt": iso(created),
        "updatedAt": iso(created),
    })
}

fn calendar(loc: &Location, index: u64) -> Value {
    let mut rng = rng(loc, Stream::Calendars, index);
    let name = format!("{} call", fake::product_name(&mut rng));
    json!({
        "id": loc.id_of(Stream::Calendars, index),
        "locationId": loc.id,
        "name": name,
        "description": fake::sentence(&mut rng, &name),
        "slug": format!("cal-{index}"),
        "calendarType": fake::pick(&mut rng, &["event", "round_robin", "personal"]),
        "isActive": true,
        "slotDuration": fake::pick(&mut rng, &["15", "30", "60"]).parse::<u32>().unwrap_or(30),
        "eventColor": "#039be5",
    })
}

pub(super) fn appointment_start(index: u64) -> i64 {
    let steps = i64::try_from(index).unwrap_or(i64::MAX);
    APPOINTMENT_BASE_MS.saturating_add(steps.saturating_mul(APPOINTMENT_STEP_MS))
}

/// Appointment `index` belongs to calendar `index % calendars`.
/// (The calendars at start-up, so an appointment never moves when calendars are added.)
pub(super) fn appointment_calendar(loc: &Location, index: u64) -> Option<u64> {
    let calendars = loc.initial[Stream::Calendars as usize];
    (calendars > 0).then(|| index % calendars)
}

fn appointment(loc: &Location, index: u64) -> Value {
    let mut rng = rng(loc, Stream::Appointments, index);
    let start = appointment_start(index);
    let contacts = loc.initial[Stream::Contacts as usize];
    json!({
        "id": loc.id_of(Stream::Appointments, index),
        "title": format!("Call with {}", fake::person(&mut rng).name()),
        "calendarId": appointment_calendar(loc, index).map(|c| loc.id_of(Stream::Calendars, c)),
        "locationId": loc.id,
        "contactId": (contacts > 0).then(|| loc.id_of(Stream::Contacts, index % contacts)),
        "appointmentStatus": fake::pick(&mut rng, &["confirmed", "showed", "noshow", "cancelled"]),
        "startTime": iso(start),
        "endTime": iso(start + 1_800_000),
        "dateAdded": iso(start - 86_400_000),
        "dateUpdated": iso(start - 86_400_000),
        "notes": rng.gen_bool(0.3).then_some("Bring the signed proposal."),
    })
}
