//! The Temporal CLI dev server (`temporal server start-dev`), started as a child process for
//! `listbackup dev` and for tests. It never downloads anything: the binary must already exist
//! (`scripts/setup` installs it into `.tools/venv/bin/temporal`).

use crate::TemporalError;
use std::path::{Path, PathBuf};
pub use temporalio_sdk_core::ephemeral_server::EphemeralServer;
use temporalio_sdk_core::ephemeral_server::{
    EphemeralExe, EphemeralServerError, TemporalDevServerConfig,
};

/// How to start the dev server.
#[derive(Debug, Clone)]
pub struct DevServerOptions {
    pub exe: PathBuf,
    /// gRPC port; `None` picks a free one.
    pub port: Option<u16>,
    /// Web UI port; `None` runs headless.
    pub ui_port: Option<u16>,
    /// SQLite file for persistent state; `None` keeps everything in memory.
    pub db_file: Option<PathBuf>,
}

/// Finds the `temporal` binary: `$LISTBACKUP_TEMPORAL_BIN`, the project's `.tools/venv`, then PATH.
pub fn find_exe(project_root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LISTBACKUP_TEMPORAL_BIN") {
        return Some(PathBuf::from(p));
    }
    let local = project_root.join(".tools/venv/bin/temporal");
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("temporal"))
            .find(|p| p.is_file())
    })
}

/// How many times a server that does not answer within the SDK's fixed 5 s is started again: on
/// a loaded machine (several test stacks starting at once on two cores) the first start can
/// take longer than that.
const START_ATTEMPTS: u32 = 3;

/// Starts the dev server; it stops with [`EphemeralServer::shutdown`] (and when dropped).
pub async fn start(options: &DevServerOptions) -> Result<EphemeralServer, TemporalError> {
    let mut attempt = 1;
    loop {
        match start_once(options).await {
            Err(EphemeralServerError::StartupTimeout { target, .. })
                if attempt < START_ATTEMPTS =>
            {
                tracing::warn!(%target, attempt, "the Temporal dev server did not answer in time; starting it again");
                attempt += 1;
            }
            result => return result.map_err(|e| TemporalError::DevServer(e.to_string())),
        }
    }
}

async fn start_once(options: &DevServerOptions) -> Result<EphemeralServer, EphemeralServerError> {
    let config = TemporalDevServerConfig::builder()
        .exe(EphemeralExe::ExistingPath(
            options.exe.to_string_lossy().into_owned(),
        ))
        .maybe_port(options.port)
        .maybe_ui_port(options.ui_port)
        .ui(options.ui_port.is_some())
        .maybe_db_filename(
            options
                .db_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
        )
        .log(("pretty".to_owned(), "error".to_owned()))
        .build();
    config
        .start_server_with_output(std::process::Stdio::null(), std::process::Stdio::null())
        .await
}
