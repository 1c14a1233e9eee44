//! `files/download` on the content host: the arguments travel in the `Dropbox-API-Arg`
//! header (ASCII only), the contents stream back, and what arrives is checked against the
//! listed `content_hash` and size before the stream ends, so a corrupted or truncated
//! transfer is an error rather than a stored file.

use super::client::{DropboxConnector, error};
use super::content_hash::ContentHasher;
use super::models::EntryHead;
use crate::{ConnectorError, ErrorKind, FileBody, FileRef};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use std::{
    fmt::Write,
    pin::Pin,
    task::{Context, Poll},
};

pub(super) async fn download(
    c: &DropboxConnector,
    file: &FileRef,
) -> Result<FileBody, ConnectorError> {
    let url = format!("{}/2/files/download", c.config.content_url);
    let arg = header_arg(&json!({ "path": file.locator }));
    // No body and no `Content-Type`: Dropbox refuses `application/json` on content routes.
    let response = c
        .send(|client| client.post(&url).header("Dropbox-API-Arg", &arg))
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
        return Err(error(
            ErrorKind::Decode,
            format!(
                "Dropbox served another version of {} (content_hash {served}, listed {listed})",
                file.name
            ),
        ));
    }
    Ok(Box::pin(Verified {
        inner: response.bytes_stream().boxed(),
        hasher: ContentHasher::new(),
        expected_hash: file.fingerprint.clone().or(served),
        expected_size: file.size,
        received: 0,
        name: file.name.clone(),
        finished: false,
    }))
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
}

impl Verified {
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
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                self.hasher.update(&chunk);
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
    use super::header_arg;
    use serde_json::{Value, json};

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
}
