//! `files/download` on the content host: the arguments travel in the `Dropbox-API-Arg`
//! header (ASCII only), the contents stream back, and what arrives is checked against the
//! listed `content_hash` and size before the stream ends, so a corrupted or truncated
//! transfer is an error rather than a stored file.
//!
//! The shared client's two-minute limit covers a whole request, body included, which a large
//! file outlasts; a download instead gets [`DOWNLOAD_LIMIT`] overall and fails when no bytes
//! arrive for [`IDLE_LIMIT`].

use super::client::{DropboxConnector, error};
use super::content_hash::ContentHasher;
use super::models::EntryHead;
use crate::{ConnectorError, ErrorKind, FileBody, FileRef};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use std::{
    fmt::Write,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

/// The longest a whole download may take (a multi-gigabyte file on a slow link).
const DOWNLOAD_LIMIT: Duration = Duration::from_secs(12 * 3600);
/// The longest a download may go without receiving a byte.
const IDLE_LIMIT: Duration = Duration::from_secs(120);

pub(super) async fn download(
    c: &DropboxConnector,
    file: &FileRef,
) -> Result<FileBody, ConnectorError> {
    let url = format!("{}/2/files/download", c.config.content_url);
    let arg = header_arg(&json!({ "path": file.locator }));
    // No body and no `Content-Type`: Dropbox refuses `application/json` on content routes.
    let response = c
        .send(|client| {
            client
                .post(&url)
                .header("Dropbox-API-Arg", &arg)
                .timeout(DOWNLOAD_LIMIT)
        })
        .await?;
    let served = response
        .headers()
        .get("dropbox-api-result")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<EntryHead>(v).ok())
        .and_then(|head| head.content_hash);
    if let (Some(listed), Some(served)) = (&file.fingerprint, &served)
        && listed != served
    {
        // A fact about this one file (it changed since it was listed): the record is kept
        // without contents, and the next sync lists the new version.
        return Err(error(
            ErrorKind::InvalidRequest,
            format!(
                "Dropbox served another version of {} (content_hash {served}, listed {listed})",
                file.name
            ),
        ));
    }
    Ok(Box::pin(Verified::new(
        response.bytes_stream().boxed(),
        file.fingerprint.clone().or(served),
        file,
        IDLE_LIMIT,
    )))
}

/// `value` as JSON fit for an HTTP header: Dropbox requires every character from U+007F up
/// to be escaped as `\uXXXX` (UTF-16 units, so characters beyond the BMP take two).
pub fn header_arg(value: &Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// The response body, hashed as it passes; at its end, one error if the bytes are not the
/// ones Dropbox listed.
struct Verified {
    inner: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    hasher: ContentHasher,
    expected_hash: Option<String>,
    expected_size: Option<u64>,
    received: u64,
    name: String,
    finished: bool,
    idle_limit: Duration,
    /// Fires when nothing has arrived for `idle_limit` since the reader asked for more (a
    /// reader that takes its time between chunks does not count against the platform).
    idle: Pin<Box<tokio::time::Sleep>>,
    waiting: bool,
}

impl Verified {
    fn new(
        inner: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        expected_hash: Option<String>,
        file: &FileRef,
        idle_limit: Duration,
    ) -> Self {
        Self {
            inner,
            hasher: ContentHasher::new(),
            expected_hash,
            expected_size: file.size,
            received: 0,
            name: file.name.clone(),
            finished: false,
            idle_limit,
            idle: Box::pin(tokio::time::sleep(idle_limit)),
            waiting: false,
        }
    }

    fn verify(&mut self) -> Result<(), ConnectorError> {
        if let Some(size) = self.expected_size
            && size != self.received
        {
            return Err(error(
                ErrorKind::Network,
                format!(
                    "{}: received {} bytes, Dropbox listed {size}",
                    self.name, self.received
                ),
            ));
        }
        let hash = std::mem::take(&mut self.hasher).finish();
        match &self.expected_hash {
            Some(expected) if *expected != hash => Err(error(
                ErrorKind::Decode,
                format!(
                    "{}: the downloaded contents do not match Dropbox's content_hash \
                     ({hash} instead of {expected})",
                    self.name
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl Stream for Verified {
    type Item = Result<Bytes, ConnectorError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if !self.waiting {
            self.waiting = true;
            let deadline = tokio::time::Instant::now() + self.idle_limit;
            self.idle.as_mut().reset(deadline);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    self.finished = true;
                    let message = format!(
                        "{}: no data for {} s after {} bytes",
                        self.name,
                        self.idle_limit.as_secs(),
                        self.received
                    );
                    Poll::Ready(Some(Err(error(ErrorKind::Network, message))))
                }
            },
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                self.hasher.update(&chunk);
                self.waiting = false;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                let message = format!("{}: the download broke off: {e}", self.name);
                Poll::Ready(Some(Err(error(ErrorKind::Network, message))))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(self.verify().err().map(Err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_arguments_are_ascii_and_mean_the_same() {
        let arg = json!({"path": "/Überweisungen/Roadmap 📈 \u{7f}.txt"});
        let header = header_arg(&arg);
        assert!(header.is_ascii(), "{header}");
        assert!(!header.contains('\u{7f}'));
        assert!(header.contains("\\u00dc"), "{header}");
        assert!(header.contains("\\ud83d\\udcc8"), "{header}");
        assert_eq!(serde_json::from_str::<Value>(&header).unwrap(), arg);
        assert!(reqwest::header::HeaderValue::from_str(&header).is_ok());
    }

    #[tokio::test]
    async fn a_transfer_that_stalls_fails_instead_of_hanging() {
        let file = FileRef {
            locator: "rev:0123456789".into(),
            fingerprint: None,
            size: Some(10),
            name: "/stalled.bin".into(),
            mime_type: None,
        };
        let first = futures::stream::iter([Ok(Bytes::from_static(b"12345"))]);
        // The second chunk takes 20 ms from when it is asked for.
        let second = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Bytes::from_static(b"678"))
        });
        let inner = first
            .chain(second)
            .chain(futures::stream::pending())
            .boxed();
        let mut body = Verified::new(inner, None, &file, Duration::from_millis(50));
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"12345");
        // A reader slower than the limit is not the platform stalling.
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"678");
        let err = body.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Network);
        assert!(err.is_temporary());
        assert!(err.message.contains("after 8 bytes"), "{err}");
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn a_short_or_altered_body_is_an_error_at_its_end() {
        let file = FileRef {
            locator: "rev:0123456789".into(),
            fingerprint: None,
            size: Some(3),
            name: "/a.txt".into(),
            mime_type: None,
        };
        let mut hasher = ContentHasher::new();
        hasher.update(b"abc");
        let hash = hasher.finish();
        let body = |bytes: &'static [u8], hash: &str| {
            let inner = futures::stream::iter([Ok(Bytes::from_static(bytes))]).boxed();
            Verified::new(inner, Some(hash.to_owned()), &file, IDLE_LIMIT)
        };
        let collect = |mut body: Verified| async move {
            let mut out = Vec::new();
            while let Some(chunk) = body.next().await {
                out.extend_from_slice(&chunk?);
            }
            Ok::<_, ConnectorError>(out)
        };
        assert_eq!(collect(body(b"abc", &hash)).await.unwrap(), b"abc");
        let short = collect(body(b"ab", &hash)).await.unwrap_err();
        assert!(short.message.contains("received 2 bytes"), "{short}");
        let altered = collect(body(b"abd", &hash)).await.unwrap_err();
        assert_eq!(altered.kind, ErrorKind::Decode);
        assert!(altered.message.contains("content_hash"), "{altered}");
    }
}
