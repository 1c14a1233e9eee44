//! Email: password resets, invitations, client grants and job outcomes, over SMTP (`lettre`).
//!
//! Configured with an SMTP URL (`smtp://user:pass@host:587?tls=required`, `smtps://…:465`, or
//! plain `smtp://host:25` for a local relay), the sender, and the address of the application the
//! links in messages open (`{app_url}/reset-password?token=…`). The application reads the token
//! from the link and posts it to the API. Without SMTP, password resets are logged and not sent,
//! and invitations are refused (503 `email_unavailable`).

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use std::fmt;

/// How the API sends email.
#[derive(Clone)]
pub struct MailSettings {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    app_url: String,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("from", &self.from.to_string())
            .field("app_url", &self.app_url)
            .finish_non_exhaustive()
    }
}

/// A message that could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(String);

impl MailSettings {
    /// Sends through `smtp_url` as `from` (`Name <address>` or an address); links open
    /// `app_url`. Errors name the setting that is wrong.
    pub fn new(smtp_url: &str, from: &str, app_url: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| MailError(format!("the SMTP URL is not usable: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailError(format!("the sender `{from}` is not an email address: {e}")))?;
        let app_url = url::Url::parse(app_url)
            .map_err(|e| MailError(format!("the application URL `{app_url}` is not a URL: {e}")))?;
        Ok(Self {
            transport,
            from,
            app_url: app_url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// A link into the application: `{app_url}/{page}?token={token}`.
    pub(crate) fn link(&self, page: &str, token: &str) -> String {
        self.page_for(None, &format!("{page}?token={token}"))
    }

    /// The same link at an account's verified custom domain (`https://{domain}/…`) when it has
    /// one.
    pub(crate) fn link_for(&self, domain: Option<&str>, page: &str, token: &str) -> String {
        self.page_for(domain, &format!("{page}?token={token}"))
    }

    /// A page of the application (`{app_url}/{path}`), at an account's verified custom domain
    /// when it has one.
    pub(crate) fn page_for(&self, domain: Option<&str>, path: &str) -> String {
        match domain {
            Some(d) => format!("https://{d}/{path}"),
            None => format!("{}/{path}", self.app_url),
        }
    }

    /// Sends a plain-text message to `to`, from `sender_name` when given (an account's display
    /// name) at the configured address.
    pub(crate) async fn send(
        &self,
        to: &str,
        sender_name: Option<&str>,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        let to = to
            .parse::<Mailbox>()
            .map_err(|e| MailError(format!("`{to}` is not an email address: {e}")))?;
        let from = match sender_name {
            Some(name) => Mailbox::new(Some(name.to_owned()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError(format!("building the message: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError(format!("sending: {e}")))?;
        Ok(())
    }
}
