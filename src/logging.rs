//! Logs through `tracing`: human-readable by default, JSON lines with `LISTBACKUP_LOG_FORMAT=json`.
//! The filter comes from `LISTBACKUP_LOG` (EnvFilter syntax), default `info`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init() -> Result<(), String> {
    let filter = std::env::var("LISTBACKUP_LOG").unwrap_or_else(|_| "info".into());
    let filter =
        EnvFilter::try_new(&filter).map_err(|e| format!("LISTBACKUP_LOG is invalid: {e}"))?;
    let json = match std::env::var("LISTBACKUP_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") | Err(_) => false,
        Ok(other) => {
            return Err(format!(
                "LISTBACKUP_LOG_FORMAT is invalid: `{other}` (use text or json)"
            ));
        }
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    result.map_err(|e| e.to_string())
}
