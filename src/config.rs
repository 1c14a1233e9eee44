//! Configuration from the environment. A bad or missing value stops start-up with one line that
//! names the variable; secrets are never echoed.

use std::{net::SocketAddr, path::Path, time::Duration};
use storage::{
    keys::MasterKey,
    object_store::{LockMode, ObjectLock, S3Config},
};
use temporal::{TemporalSettings, TlsFiles};

/// A configuration problem, always naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing { var: name, hint })
}

fn parsed<T: std::str::FromStr>(
    name: &'static str,
    default: T,
    what: &str,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            var: name,
            reason: format!("expected {what}"),
        }),
    }
}

/// The database URL.
pub fn database_url(default: Option<String>) -> Result<String, ConfigError> {
    let url = match (var("LISTBACKUP_DATABASE_URL"), default) {
        (Some(v), _) => v,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(ConfigError::Missing {
                var: "LISTBACKUP_DATABASE_URL",
                hint: "set it to postgres://user@host/db or sqlite://path/listbackup.db?mode=rwc",
            });
        }
    };
    if !(url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("sqlite:"))
    {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_DATABASE_URL",
            reason: "must start with postgres://, postgresql:// or sqlite:".into(),
        });
    }
    Ok(url)
}

/// How to reach Temporal.
pub fn temporal(default_addr: Option<String>) -> Result<TemporalSettings, ConfigError> {
    let address = var("LISTBACKUP_TEMPORAL_ADDR")
        .or(default_addr)
        .unwrap_or_else(|| "127.0.0.1:7233".into());
    let tls = match (
        var("LISTBACKUP_TEMPORAL_TLS_CA"),
        var("LISTBACKUP_TEMPORAL_TLS_CERT"),
        var("LISTBACKUP_TEMPORAL_TLS_KEY"),
    ) {
        (None, None, None) if var("LISTBACKUP_TEMPORAL_TLS").as_deref() != Some("true") => None,
        (_, Some(_), None) => {
            return Err(ConfigError::Missing {
                var: "LISTBACKUP_TEMPORAL_TLS_KEY",
                hint: "mTLS needs both a client certificate and its key",
            });
        }
        (_, None, Some(_)) => {
            return Err(ConfigError::Missing {
                var: "LISTBACKUP_TEMPORAL_TLS_CERT",
                hint: "mTLS needs both a client certificate and its key",
            });
        }
        (ca_cert, client_cert, client_key) => Some(TlsFiles {
            ca_cert,
            client_cert,
            client_key,
        }),
    };
    let settings = TemporalSettings {
        address,
        namespace: var("LISTBACKUP_TEMPORAL_NAMESPACE").unwrap_or_else(|| "default".into()),
        api_key: var("LISTBACKUP_TEMPORAL_API_KEY"),
        tls,
    };
    settings.url().map_err(|e| ConfigError::Invalid {
        var: "LISTBACKUP_TEMPORAL_ADDR",
        reason: e.to_string(),
    })?;
    Ok(settings)
}

/// The Temporal Web UI's base URL, for links in jobs.
pub fn temporal_ui(default: &str) -> String {
    var("LISTBACKUP_TEMPORAL_UI").unwrap_or_else(|| default.to_owned())
}

/// The object store. `embedded` supplies the dev defaults (endpoint and credentials).
pub fn s3(embedded: Option<S3Config>) -> Result<S3Config, ConfigError> {
    let endpoint = var("LISTBACKUP_S3_ENDPOINT");
    if let (None, Some(dev)) = (&endpoint, &embedded) {
        let mut cfg = dev.clone();
        if let Some(bucket) = var("LISTBACKUP_S3_BUCKET") {
            cfg.bucket = bucket;
        }
        return Ok(cfg);
    }
    if let Some(e) = &endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_S3_ENDPOINT",
            reason: "must be an http(s) URL".into(),
        });
    }
    let bucket = required(
        "LISTBACKUP_S3_BUCKET",
        "name the bucket snapshots are stored in",
    )?;
    if !(3..=63).contains(&bucket.len()) {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_S3_BUCKET",
            reason: "bucket names have 3 to 63 characters".into(),
        });
    }
    Ok(S3Config {
        force_path_style: parsed(
            "LISTBACKUP_S3_PATH_STYLE",
            endpoint.is_some(),
            "true or false",
        )?,
        endpoint,
        region: var("LISTBACKUP_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        bucket,
        access_key_id: required(
            "LISTBACKUP_S3_ACCESS_KEY_ID",
            "the access key id for the bucket",
        )?,
        secret_access_key: required(
            "LISTBACKUP_S3_SECRET_ACCESS_KEY",
            "the secret access key for the bucket",
        )?,
        object_lock: object_lock()?,
    })
}

/// The longest retention S3 accepts is far beyond this; a century is a typo's guard.
const MAX_LOCK_PERIOD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `LISTBACKUP_S3_OBJECT_LOCK_MODE` (governance or compliance) and
/// `LISTBACKUP_S3_OBJECT_LOCK_PERIOD` (how long each object stays retained after its write), both
/// or neither.
fn object_lock() -> Result<Option<ObjectLock>, ConfigError> {
    const MODE: &str = "LISTBACKUP_S3_OBJECT_LOCK_MODE";
    const PERIOD: &str = "LISTBACKUP_S3_OBJECT_LOCK_PERIOD";
    let Some(mode) = var(MODE) else {
        if var(PERIOD).is_some() {
            return Err(ConfigError::Missing {
                var: MODE,
                hint: "a lock period needs a mode: governance or compliance",
            });
        }
        return Ok(None);
    };
    let mode: LockMode = mode.parse().map_err(|_| ConfigError::Invalid {
        var: MODE,
        reason: "expected governance or compliance".into(),
    })?;
    let period = required(
        PERIOD,
        "how long each object stays retained, e.g. 30days or 1year",
    )?;
    let period = humantime::parse_duration(&period).map_err(|e| ConfigError::Invalid {
        var: PERIOD,
        reason: format!("expected a duration such as 30days or 12h: {e}"),
    })?;
    if period < Duration::from_secs(1) || period > MAX_LOCK_PERIOD {
        return Err(ConfigError::Invalid {
            var: PERIOD,
            reason: "expected a duration from 1s to 100 years".into(),
        });
    }
    Ok(Some(ObjectLock { mode, period }))
}

/// The master key that seals account keys and connection credentials, opening values sealed
/// under the keys listed in `LISTBACKUP_MASTER_KEY_PREVIOUS` too (during a key rotation).
pub fn master_key(dev_file: Option<&Path>) -> Result<MasterKey, ConfigError> {
    const PREVIOUS: &str = "LISTBACKUP_MASTER_KEY_PREVIOUS";
    let key = current_master_key(dev_file)?;
    match var(PREVIOUS) {
        None => Ok(key),
        Some(previous) => key
            .with_previous(&previous)
            .map_err(|_| ConfigError::Invalid {
                var: PREVIOUS,
                reason: "expected age identities (AGE-SECRET-KEY-1…) separated by commas".into(),
            }),
    }
}

fn current_master_key(dev_file: Option<&Path>) -> Result<MasterKey, ConfigError> {
    const VAR: &str = "LISTBACKUP_MASTER_KEY";
    if let Some(text) = var(VAR) {
        return MasterKey::parse(&text).map_err(|_| ConfigError::Invalid {
            var: VAR,
            reason: "expected an age identity (AGE-SECRET-KEY-1…)".into(),
        });
    }
    let Some(path) = dev_file else {
        return Err(ConfigError::Missing {
            var: VAR,
            hint: "generate one with `listbackup keygen` and keep it safe",
        });
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
            var: VAR,
            reason: format!("reading {}: {e}", path.display()),
        })?;
        return MasterKey::parse(&text).map_err(|_| ConfigError::Invalid {
            var: VAR,
            reason: format!("{} is not an age identity", path.display()),
        });
    }
    let key = MasterKey::generate();
    write_secret(path, &key.to_secret_string()).map_err(|e| ConfigError::Invalid {
        var: VAR,
        reason: format!("writing {}: {e}", path.display()),
    })?;
    Ok(key)
}

/// How the API signs access tokens and reads client addresses.
///
/// Access tokens (JWT, HS256) are signed with `LISTBACKUP_JWT_SECRET` (at least 32 bytes) when it
/// is set; otherwise with a secret derived one-way from the master key, so every replica sharing
/// the master key accepts every replica's tokens and nothing more needs configuring. Changing
/// either signs everyone out within 15 minutes (their access tokens stop verifying; refresh
/// tokens keep working). `LISTBACKUP_CLIENT_IP_HEADER` names the header a trusted proxy puts
/// the client's address in (e.g. `X-Forwarded-For`), for the sign-in limits.
/// `LISTBACKUP_METRICS_TOKEN`, when set, is the bearer token `GET /metrics` asks for.
pub fn auth(master: &MasterKey) -> Result<api::AuthSettings, ConfigError> {
    const SECRET: &str = "LISTBACKUP_JWT_SECRET";
    const HEADER: &str = "LISTBACKUP_CLIENT_IP_HEADER";
    let settings = match var(SECRET) {
        Some(secret) if secret.len() < api::tokens::MIN_SECRET_LEN => {
            return Err(ConfigError::Invalid {
                var: SECRET,
                reason: format!(
                    "must be at least {} bytes (e.g. `openssl rand -hex 32`)",
                    api::tokens::MIN_SECRET_LEN
                ),
            });
        }
        Some(secret) => api::AuthSettings::new(secret.as_bytes()),
        None => api::AuthSettings::from_master_key(master),
    };
    let settings = settings.with_api_rate_limit(api_rate_limit()?);
    let settings = match mail()? {
        Some(mail) => settings.with_mail(mail),
        None => settings,
    };
    let settings = match var("LISTBACKUP_METRICS_TOKEN") {
        Some(token) => settings.with_metrics_token(token),
        None => settings,
    };
    match var(HEADER) {
        None => Ok(settings),
        Some(name) => poem::http::HeaderName::try_from(name.as_str())
            .map(|h| settings.with_client_address_header(h))
            .map_err(|_| ConfigError::Invalid {
                var: HEADER,
                reason: "expected an HTTP header name".into(),
            }),
    }
}

/// Email for password resets and invitations: `LISTBACKUP_SMTP_URL` (`smtp://user:pass@host:587?tls=required`,
/// `smtps://user:pass@host:465`, or `smtp://host:25` for a local relay) sending as
/// `LISTBACKUP_MAIL_FROM` (`ListBackup <no-reply@example.com>`), with links into the
/// application at `LISTBACKUP_APP_URL` (default `LISTBACKUP_PUBLIC_URL`). Unset: no email.
pub fn mail() -> Result<Option<api::MailSettings>, ConfigError> {
    const URL: &str = "LISTBACKUP_SMTP_URL";
    let Some(url) = var(URL) else {
        return Ok(None);
    };
    let from = required(
        "LISTBACKUP_MAIL_FROM",
        "the sender of emails, e.g. `ListBackup <no-reply@example.com>`",
    )?;
    let app_url = var("LISTBACKUP_APP_URL")
        .or_else(|| var("LISTBACKUP_PUBLIC_URL"))
        .ok_or(ConfigError::Missing {
            var: "LISTBACKUP_APP_URL",
            hint: "where links in emails point, e.g. https://backup.example.com",
        })?;
    api::MailSettings::new(&url, &from, &app_url)
        .map(Some)
        .map_err(|e| ConfigError::Invalid {
            var: URL,
            reason: e.to_string(),
        })
}

/// Each credential's request budget on the authenticated endpoints:
/// `LISTBACKUP_API_RATE_LIMIT` requests per second (default 50), in bursts of up to
/// `LISTBACKUP_API_RATE_BURST` (default 500).
pub fn api_rate_limit() -> Result<api::ApiRateLimit, ConfigError> {
    let defaults = api::ApiRateLimit::default();
    let per_second: u32 = parsed(
        "LISTBACKUP_API_RATE_LIMIT",
        defaults.per_second.get(),
        "a whole number of requests per second, at least 1",
    )?;
    let burst: u32 = parsed(
        "LISTBACKUP_API_RATE_BURST",
        defaults.burst.get(),
        "a whole number of requests, at least 1",
    )?;
    for (var, value) in [
        ("LISTBACKUP_API_RATE_LIMIT", per_second),
        ("LISTBACKUP_API_RATE_BURST", burst),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                var,
                reason: "must be at least 1".into(),
            });
        }
    }
    Ok(api::ApiRateLimit::new(per_second, burst))
}

/// Writes a file only its owner can read.
pub fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

/// The API's listen address.
pub fn api_addr(default: SocketAddr) -> Result<SocketAddr, ConfigError> {
    parsed(
        "LISTBACKUP_API_ADDR",
        default,
        "host:port, e.g. 127.0.0.1:8080",
    )
}

/// What the API needs for connections: its public address (`LISTBACKUP_PUBLIC_URL`, default
/// `http://{listen address}`), whose `/v1/oauth/callback` is the redirect URI to register with
/// each platform's OAuth app, and the private-network policy for its calls to platforms.
/// OAuth apps come from `LISTBACKUP_OAUTH_<PLATFORM>_CLIENT_ID` / `_CLIENT_SECRET`, read where
/// they are used (by the API and the workers alike).
pub fn connections(
    listen: SocketAddr,
    allow_private_default: bool,
) -> Result<api::ConnectionSettings, ConfigError> {
    let public_url = var("LISTBACKUP_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}"));
    let settings = api::ConnectionSettings::new(public_url)
        .with_http(platform_http(allow_private_default)?)
        .with_webhook_allowed_hosts(webhook_allowed_hosts());
    Ok(match dns_resolver()? {
        Some(addr) => settings.with_dns_resolver(addr),
        None => settings,
    })
}

/// The DNS server custom domains' TXT records are looked up with (`LISTBACKUP_DNS_RESOLVER`,
/// `ip:port`); `None` for the system's resolvers.
pub fn dns_resolver() -> Result<Option<SocketAddr>, ConfigError> {
    const VAR: &str = "LISTBACKUP_DNS_RESOLVER";
    var(VAR)
        .map(|addr| {
            addr.parse().map_err(|_| ConfigError::Invalid {
                var: VAR,
                reason: format!("`{addr}` is not ip:port, e.g. 10.0.0.2:53"),
            })
        })
        .transpose()
}

/// Host names webhook URLs may use even when they are private (`LISTBACKUP_WEBHOOK_ALLOWED_HOSTS`,
/// comma-separated): receivers inside the operator's own network.
pub fn webhook_allowed_hosts() -> Vec<String> {
    var("LISTBACKUP_WEBHOOK_ALLOWED_HOSTS")
        .map(|v| connectors::webhook::WebhookPolicy::parse_hosts(&v))
        .unwrap_or_default()
}

/// Which webhook URLs notifications may be sent to: public https URLs; loopback and private
/// addresses (and plain http) only where private networks are allowed
/// (`LISTBACKUP_ALLOW_PRIVATE_NETWORKS`) or for [`webhook_allowed_hosts`].
pub fn webhook_policy(
    allow_private_default: bool,
) -> Result<connectors::webhook::WebhookPolicy, ConfigError> {
    Ok(connectors::webhook::WebhookPolicy::new(
        allow_private_networks(allow_private_default)?,
        webhook_allowed_hosts(),
    ))
}

/// The HTTP client for platform requests, API and workers alike: the retry settings
/// ([`platform_retry`]), the private-network policy and `LISTBACKUP_PLATFORM_TIMEOUT_SECS`, how
/// long one try of a request may take (default 120); a try that runs out is retried like a
/// network failure.
pub fn platform_http(
    allow_private_default: bool,
) -> Result<connectors::http::HttpClient, ConfigError> {
    let default = connectors::http::DEFAULT_TIMEOUT.as_secs();
    let secs: u64 = parsed(
        "LISTBACKUP_PLATFORM_TIMEOUT_SECS",
        default,
        "a whole number of seconds",
    )?;
    if secs == 0 || secs > 3600 {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_PLATFORM_TIMEOUT_SECS",
            reason: "must be between 1 and 3600".into(),
        });
    }
    Ok(connectors::http::HttpClient::new(platform_retry()?)
        .with_timeout(Duration::from_secs(secs))
        .allowing_private_networks(allow_private_networks(allow_private_default)?))
}

/// Whether connection base URLs may point at loopback or private networks (sandboxes, tests).
pub fn allow_private_networks(default: bool) -> Result<bool, ConfigError> {
    parsed(
        "LISTBACKUP_ALLOW_PRIVATE_NETWORKS",
        default,
        "true or false",
    )
}

/// Extraction tuning, and how many jobs of one account run at once
/// (`LISTBACKUP_ACCOUNT_MAX_JOBS`, default 4).
pub fn extract_settings() -> Result<activities::ExtractSettings, ConfigError> {
    let defaults = activities::ExtractSettings::default();
    let part_mb: u64 = parsed(
        "LISTBACKUP_PART_SIZE_MB",
        defaults.part_target_bytes / (1024 * 1024),
        "a whole number of MiB",
    )?;
    let chunk: u64 = parsed(
        "LISTBACKUP_EXTRACT_CHUNK_SECS",
        defaults.chunk_duration.as_secs(),
        "a whole number of seconds",
    )?;
    let account_max_jobs: u32 = parsed(
        "LISTBACKUP_ACCOUNT_MAX_JOBS",
        defaults.account_max_jobs,
        "a whole number of jobs",
    )?;
    if account_max_jobs == 0 {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_ACCOUNT_MAX_JOBS",
            reason: "must be at least 1".into(),
        });
    }
    if part_mb == 0 || part_mb > 1024 {
        return Err(ConfigError::Invalid {
            var: "LISTBACKUP_PART_SIZE_MB",
            reason: "must be between 1 and 1024".into(),
        });
    }
    Ok(activities::ExtractSettings {
        part_target_bytes: part_mb * 1024 * 1024,
        chunk_duration: Duration::from_secs(chunk.max(1)),
        account_max_jobs,
        ..defaults
    })
}

/// How the workers' platform client retries: a `Retry-After` up to
/// `LISTBACKUP_PLATFORM_MAX_RETRY_AFTER_SECS` (default 120) is waited out in-process; a longer
/// one (a daily quota) makes the run sleep on a durable timer until the quota resets.
pub fn platform_retry() -> Result<connectors::http::RetrySettings, ConfigError> {
    let defaults = connectors::http::RetrySettings::default();
    let secs: u64 = parsed(
        "LISTBACKUP_PLATFORM_MAX_RETRY_AFTER_SECS",
        defaults.max_retry_after.as_secs(),
        "a whole number of seconds",
    )?;
    Ok(connectors::http::RetrySettings {
        max_retry_after: Duration::from_secs(secs),
        ..defaults
    })
}
