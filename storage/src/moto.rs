//! `moto_server` (PyPI `moto[server]`, installed by `scripts/setup` into `.tools/moto`) as a
//! child process: an S3 implementation independent of ours that has versioning and Object
//! Lock, which the embedded endpoint does not. Used by tests; killed on drop.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running `moto_server`.
pub struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    /// The executable: `LISTBACKUP_MOTO_BIN`, else `.tools/moto/bin/moto_server` in the
    /// workspace.
    pub fn exe() -> PathBuf {
        std::env::var_os("LISTBACKUP_MOTO_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/moto/bin/moto_server")
            })
    }

    /// Starts it on a free loopback port and waits until it accepts connections.
    pub async fn start() -> std::io::Result<Self> {
        let exe = Self::exe();
        if !exe.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is missing: run ./scripts/setup", exe.display()),
            ));
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "moto_server did not start listening within 60 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
