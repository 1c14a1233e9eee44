//! A real SMTP server for the email tests: aiosmtpd (installed by `scripts/setup` into
//! `.tools/smtpd`) storing every message it receives in a Maildir, which the tests read.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: tempfile::TempDir,
}

/// A message as received: its headers and its decoded text body.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub body: String,
}

fn exe() -> PathBuf {
    std::env::var_os("LISTBACKUP_SMTPD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // From the `api` crate's tests or the workspace root's (which include this file).
            let here = Path::new(env!("CARGO_MANIFEST_DIR"));
            ["../.tools", ".tools"]
                .iter()
                .map(|tools| here.join(tools).join("smtpd/bin/aiosmtpd"))
                .find(|p| p.exists())
                .unwrap_or_else(|| here.join("../.tools/smtpd/bin/aiosmtpd"))
        })
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until a server accepts TCP connections on `port` (20 s at most).
pub async fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl SmtpServer {
    pub async fn start() -> Self {
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let exe = exe();
        let child = Command::new(&exe)
            .args([
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} does not start ({e}): run ./scripts/setup",
                    exe.display()
                )
            });
        wait_listening(port, "aiosmtpd").await;
        Self {
            child,
            port,
            maildir,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits for a message to `to` carrying a `page` link whose token is not in `seen` (Maildir
    /// names do not keep the order messages arrived in); returns that token.
    pub async fn wait_for_new_token(&self, to: &str, page: &str, seen: &[String]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let fresh = self
                .messages()
                .into_iter()
                .filter(|m| m.to.contains(to))
                .map(|m| token_in(&m.body, page))
                .find(|t| !seen.contains(t));
            if let Some(token) = fresh {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "no new {page} message to {to}: {:?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every message received so far, in no particular order.
    pub fn messages(&self) -> Vec<Received> {
        let dir = self.maildir.path().join("mail/new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|raw| parse(&raw))
            .collect()
    }

    /// Waits for the first message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Received {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| m.to.contains(to) && m.subject.contains(subject))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no message to {to} about {subject:?}: {:?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(raw: &str) -> Received {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    // Unfold continued header lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let quoted_printable =
        header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable");
    let body = if quoted_printable {
        decode_quoted_printable(body)
    } else {
        body.to_owned()
    };
    Received {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        body,
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the first link in `body` that opens `page`.
pub fn token_in(body: &str, page: &str) -> String {
    let marker = format!("/{page}?token=");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {page} link in: {body}"))
        + marker.len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}
