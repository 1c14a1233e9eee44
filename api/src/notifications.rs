//! Job-outcome emails. Ending a job writes one `notifications` row per member of its account who
//! wants that outcome (`job_failed` on by default, `job_succeeded` off; `PATCH /v1/me`), in the
//! job's own transaction. Every API process with an SMTP server runs [`run`]: it claims due rows
//! with a lease (so replicas never both send one), checks the recipient still reaches the account
//! and still wants it, sends the email in the account's branding with times in the recipient's
//! time zone, and records the outcome. A failed send is tried again with growing delays, up to
//! [`MAX_ATTEMPTS`]; rows older than a day are skipped rather than sent late, a user gets at most
//! [`DAILY_CAP`] a day, and finished rows are deleted after 30 days.

use crate::{branding, mail::MailSettings};
use chrono::{DateTime, Duration, Utc};
use entities::{account, job, notification, repo, source, user};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use std::sync::Arc;

/// How often the sender looks for due emails.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Attempts before an email is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// Job emails one user gets in a day at most; more are skipped (a flood of failures, or
/// someone using their own account to send mail to an address they do not own).
pub const DAILY_CAP: u64 = 50;
/// How long a claimed email is the claiming sender's: well over one SMTP exchange (each of its
/// commands times out after 20 s), as the sender claims one email at a time.
const LEASE: Duration = Duration::minutes(5);
/// Older outcomes are not worth an email any more.
const STALE_AFTER: Duration = Duration::hours(24);
/// Sent, given-up and skipped emails are kept this long, then deleted.
const KEEP: Duration = Duration::days(30);

/// Runs a pass every `every`, for as long as the future is polled. Without `mail` (no SMTP
/// server), a pass only skips stale emails and deletes old ones, so the outbox stays small.
pub async fn run(
    db: DatabaseConnection,
    mail: Option<Arc<MailSettings>>,
    every: std::time::Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // `send_due` skips stale emails itself; without mail, `tidy` does.
        let pass = async {
            match &mail {
                Some(mail) => {
                    purge(&db).await?;
                    send_due(&db, mail).await
                }
                None => tidy(&db).await.map(|()| 0),
            }
        };
        match pass.await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "job-outcome emails sent"),
            Err(e) => tracing::warn!(error = %e, "job-outcome email pass failed; retrying"),
        }
    }
}

/// Skips emails too old to send and deletes finished ones past [`KEEP`].
pub async fn tidy(db: &DatabaseConnection) -> Result<(), DbErr> {
    repo::skip_stale_notifications(db, Utc::now() - STALE_AFTER).await?;
    purge(db).await
}

/// Deletes finished emails past [`KEEP`].
async fn purge(db: &DatabaseConnection) -> Result<(), DbErr> {
    repo::purge_notifications_before(db, Utc::now() - KEEP).await?;
    Ok(())
}

/// Claims and sends the due emails, one at a time; returns how many were sent. An email that
/// cannot even be composed (the database failed) is put off like a refused one.
pub async fn send_due(db: &DatabaseConnection, mail: &MailSettings) -> Result<usize, DbErr> {
    repo::skip_stale_notifications(db, Utc::now() - STALE_AFTER).await?;
    let mut sent = 0;
    while let Some(n) = repo::claim_due_notifications(db, 1, LEASE)
        .await?
        .into_iter()
        .next()
    {
        let outcome = match compose(db, mail, &n).await {
            Ok(Compose::Send(email)) => mail
                .send(&email.to, Some(&email.sender), &email.subject, email.body)
                .await
                .map_err(|e| e.to_string()),
            Ok(Compose::Skip(why)) => {
                repo::notification_not_sent(db, &n, why, None, Some(repo::NOTIFICATION_SKIPPED))
                    .await?;
                continue;
            }
            Err(e) => Err(format!("composing: {e}")),
        };
        match outcome {
            Ok(()) => {
                if repo::notification_sent(db, &n).await? {
                    sent += 1;
                }
            }
            Err(e) => {
                tracing::warn!(notification_id = %n.id, error = %e, "job-outcome email not sent");
                let retry_at =
                    (n.attempts + 1 < MAX_ATTEMPTS).then(|| Utc::now() + backoff(n.attempts));
                repo::notification_not_sent(db, &n, &e, retry_at, None).await?;
            }
        }
    }
    Ok(sent)
}

/// 1, 2, 4 … minutes after the `attempts`-th failure, at most 64.
fn backoff(attempts: i32) -> Duration {
    Duration::minutes(1i64 << attempts.clamp(0, 6))
}

struct Email {
    to: String,
    sender: String,
    subject: String,
    body: String,
}

enum Compose {
    Send(Email),
    /// Nothing to send any more, and why.
    Skip(&'static str),
}

/// The email `n` stands for, read as things are now.
async fn compose(
    db: &DatabaseConnection,
    mail: &MailSettings,
    n: &notification::Model,
) -> Result<Compose, DbErr> {
    let Some(u) = user::Entity::find_by_id(n.user_id.as_str()).one(db).await? else {
        return Ok(Compose::Skip("the user is gone"));
    };
    if !repo::wants_job_email(u.notifications.as_ref(), &n.event) {
        return Ok(Compose::Skip("the user turned this notification off"));
    }
    if repo::notifications_sent_since(db, &u.id, Utc::now() - Duration::days(1)).await? >= DAILY_CAP
    {
        return Ok(Compose::Skip(
            "the user's daily cap of job emails is reached",
        ));
    }
    if !repo::member_recipients(db, &n.account_id)
        .await?
        .iter()
        .any(|m| m.id == u.id)
    {
        return Ok(Compose::Skip("the user no longer reaches the account"));
    }
    let (Some(j), Some(acct)) = (
        job::Entity::find_by_id(n.job_id.as_str()).one(db).await?,
        account::Entity::find_by_id(n.account_id.as_str())
            .one(db)
            .await?,
    ) else {
        return Ok(Compose::Skip("the job or its account is gone"));
    };
    let source_name = source::Entity::find_by_id(j.source_id.as_str())
        .one(db)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| j.source_id.clone());
    let brand = branding::effective(db, &acct)
        .await
        .map_err(|e| DbErr::Custom(e.message().to_owned()))?;
    let domain = branding::verified_domain(&brand);
    let kind = match j.kind_str() {
        "sync" => "Sync",
        _ => "Backup",
    };
    let failed = n.event == repo::JOB_FAILED;
    let outcome = if failed { "failed" } else { "succeeded" };
    let when = j
        .finished_at
        .map(|t| local_time(t, &u.time_zone))
        .unwrap_or_default();
    let mut body = format!(
        "Hello {name},\n\n\
         The {kind_lower} of \"{source_name}\" in {account} {outcome}{when}.\n\n",
        name = u.name,
        kind_lower = kind.to_lowercase(),
        account = brand.display_name,
        when = if when.is_empty() {
            String::new()
        } else {
            format!(" at {when}")
        },
    );
    if let Some(error) = j.error.as_deref().filter(|_| failed) {
        body.push_str(&format!("What went wrong: {error}\n\n"));
    }
    body.push_str(&format!(
        "Records: {records}, bytes: {bytes}\nJob: {job}\n{link}\n\n\
         You get this email because {which} are on in your notification settings:\n{settings}\n",
        records = j.records.max(0),
        bytes = j.bytes.max(0),
        job = j.id,
        link = mail.page_for(domain, &format!("jobs/{}", j.id)),
        which = if failed {
            "failed backups"
        } else {
            "successful backups"
        },
        settings = mail.page_for(domain, "settings"),
    ));
    Ok(Compose::Send(Email {
        to: u.email,
        sender: brand.display_name.clone(),
        subject: format!("{kind} {outcome}: {source_name} ({})", brand.display_name),
        body,
    }))
}

/// `t` in the IANA time zone `zone` (UTC when unknown), e.g. `2026-12-07 11:30 CET`.
fn local_time(t: DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_recipients_zone() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_time(t, "Europe/Berlin"), "2026-12-07 11:30 CET");
        assert_eq!(local_time(t, "UTC"), "2026-12-07 10:30 UTC");
        assert_eq!(local_time(t, "Mars/Olympus"), "2026-12-07 10:30 UTC");
    }

    #[test]
    fn the_outbox_reads_preferences_as_the_settings_store_them() {
        let defaults = serde_json::to_value(crate::me::NotificationPreferences::default()).unwrap();
        for stored in [None, Some(&defaults)] {
            assert!(repo::wants_job_email(stored, repo::JOB_FAILED));
            assert!(!repo::wants_job_email(stored, repo::JOB_SUCCEEDED));
            assert!(!repo::wants_job_email(stored, repo::JOB_NEEDS_REAUTH));
        }
        let flipped = serde_json::json!({"job_failed": false, "job_succeeded": true});
        assert!(!repo::wants_job_email(Some(&flipped), repo::JOB_FAILED));
        assert!(repo::wants_job_email(Some(&flipped), repo::JOB_SUCCEEDED));
    }

    #[test]
    fn retries_back_off_to_about_an_hour() {
        assert_eq!(backoff(0), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(8));
        assert_eq!(backoff(20), Duration::minutes(64));
    }
}
