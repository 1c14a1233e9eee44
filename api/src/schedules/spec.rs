//! Reading a schedule's timing at the edge: a five-field cron expression, an IANA time zone,
//! jitter and the catch-up window. Values are checked here, before anything reaches Temporal,
//! so a bad one is a 422 naming its field (Temporal itself would answer with a generic error).

use crate::error::ApiError;

/// The largest jitter: an hour.
pub const MAX_JITTER_SECS: u32 = 3600;
/// The catch-up window when none is given: an hour.
pub const DEFAULT_CATCHUP_WINDOW_SECS: u32 = 3600;
/// The catch-up window's bounds: a minute to a week.
pub const CATCHUP_WINDOW_SECS: std::ops::RangeInclusive<u32> = 60..=7 * 24 * 3600;

/// The fields of a cron expression: name, bounds, and the names allowed for values.
const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    ),
    (
        "day of week",
        0,
        6,
        &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    ),
];

/// Checks a five-field cron expression (`minute hour day-of-month month day-of-week`): numbers,
/// `*`, ranges `a-b`, steps `/n` and lists `a,b`; months and weekdays also by their English
/// three-letter names. Returns it with single spaces between the fields.
pub fn cron(text: &str) -> Result<String, ApiError> {
    let bad = |why: String| ApiError::invalid_field("cron", format!("`cron` {why}"));
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(bad(format!(
            "needs five fields (minute hour day-of-month month day-of-week), not {}",
            fields.len()
        )));
    }
    for (field, (name, min, max, names)) in fields.iter().zip(FIELDS) {
        check_field(field, min, max, names)
            .map_err(|why| bad(format!("has a bad {name} field `{field}`: {why}")))?;
    }
    Ok(fields.join(" "))
}

fn check_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= max.max(1) => {}
                _ => return Err(format!("step `{step}` must be between 1 and {max}")),
            }
        }
        if range == "*" {
            continue;
        }
        let value = |v: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                return Ok(min + i as u32);
            }
            match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(format!("`{v}` is not between {min} and {max}")),
            }
        };
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b {
                    return Err(format!("the range `{range}` runs backwards"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

/// Checks an IANA time zone name (`Europe/Berlin`, `UTC`).
pub fn timezone(text: &str) -> Result<String, ApiError> {
    let name = text.trim();
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        ApiError::invalid_field(
            "timezone",
            format!("`timezone` `{name}` is not an IANA time zone name such as `Europe/Berlin`"),
        )
    })?;
    Ok(name.to_owned())
}

pub fn jitter(secs: u32) -> Result<u32, ApiError> {
    if secs > MAX_JITTER_SECS {
        return Err(ApiError::invalid_field(
            "jitter_secs",
            format!("`jitter_secs` must be between 0 and {MAX_JITTER_SECS}"),
        ));
    }
    Ok(secs)
}

pub fn catchup_window(secs: u32) -> Result<u32, ApiError> {
    if !CATCHUP_WINDOW_SECS.contains(&secs) {
        return Err(ApiError::invalid_field(
            "catchup_window_secs",
            format!(
                "`catchup_window_secs` must be between {} and {}",
                CATCHUP_WINDOW_SECS.start(),
                CATCHUP_WINDOW_SECS.end()
            ),
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_expressions() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "30 9 * * MON-FRI",
            "0 0 1,15 * *",
            "0 6-18/2 * jan-jun sun",
            "5 4 * * 0",
        ] {
            assert!(cron(ok).is_ok(), "{ok}");
        }
        assert_eq!(cron("  0   2 * * *  ").unwrap(), "0 2 * * *");
    }

    #[test]
    fn refuses_what_temporal_would_not_read_the_same_way() {
        for bad in [
            "",
            "0 2 * *",
            "0 0 2 * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "5-1 * * * *",
            "*/0 * * * *",
            "@daily",
            "? * * * *",
            "0 2 * * MON#2",
        ] {
            let e = cron(bad).unwrap_err();
            assert_eq!(e.status().as_u16(), 422, "{bad}");
            assert_eq!(
                e.into_body().0.error.details,
                Some(serde_json::json!({"field": "cron"})),
                "{bad}"
            );
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(timezone("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert_eq!(timezone("UTC").unwrap(), "UTC");
        for bad in ["Mars/Olympus", "", "CEST+1"] {
            assert_eq!(timezone(bad).unwrap_err().status().as_u16(), 422, "{bad}");
        }
        assert!(jitter(3600).is_ok() && jitter(3601).is_err());
        assert!(catchup_window(59).is_err() && catchup_window(3600).is_ok());
    }
}
