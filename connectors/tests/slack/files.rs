//! Files: a listing that neither skips nor repeats when files come and go mid-run, and
//! downloads whose refusal is Slack's sign-in page (HTML, with a 200).

use crate::*;
use connectors::{ErrorKind, FileRef};
use futures::StreamExt;
use sandbox::slack::TOKEN_POLICY;

async fn download(c: &dyn Connector, file: &FileRef) -> Result<Vec<u8>, ConnectorError> {
    let mut body = c.download(file).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// The first file of the listing that has contents.
async fn a_hosted_file(c: &dyn Connector) -> (String, FileRef) {
    let page = c.read_page(&first("files")).await.unwrap();
    let record = page
        .records
        .into_iter()
        .find(|r| r.file.is_some())
        .expect("a hosted file on the first page");
    (record.id, record.file.unwrap())
}

#[tokio::test]
async fn uploads_and_deletions_mid_run_neither_skip_nor_repeat_a_file() {
    let env = env(&[("files", 14)]).await;
    let c = env.bot(json!({"page_size": 4}));
    let slack = env.sandbox.slack();
    let before = dataset_ids(&env.sandbox, "files");

    let request = first("files");
    let page = c.read_page(&request).await.unwrap();
    let mut ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
    // Two files already read are deleted (shifting numbered pages forward by two) and one is
    // uploaded (shifting them back by one).
    assert!(slack.delete_file(&ids[1]) && slack.delete_file(&ids[2]));
    let channel = slack.readable_channel_ids()[0].clone();
    let uploaded = slack.upload(&channel);
    let mut next = after(&request, &page);
    while let Some(request) = next {
        let page = c.read_page(&request).await.unwrap();
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        next = after(&request, &page);
    }
    let got = unique(ids);
    assert_eq!(
        got, before,
        "every file that was there when the run began, once"
    );
    assert!(!got.contains(&uploaded), "the upload is for the next sync");
}

#[tokio::test]
async fn a_refused_download_is_unauthorized_not_a_saved_sign_in_page() {
    let env = env(&[]).await;
    let c = env.bot(json!({}));
    let (id, file) = a_hosted_file(c.as_ref()).await;
    let expected = env.sandbox.slack().file_contents(&id).unwrap();
    assert_eq!(download(c.as_ref(), &file).await.unwrap(), expected);

    env.sandbox.slack().revoke_bot_token();
    let err = download(c.as_ref(), &file).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("sign-in page"), "{err}");
}

#[tokio::test]
async fn a_download_with_an_expired_rotating_token_refreshes_once() {
    let env = env(&[]).await;
    let issued = env.sandbox.oauth().issue("slack");
    let c = env.rotating(store(token_set(&issued)));
    let (id, file) = a_hosted_file(c.as_ref()).await;
    env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
    let got = download(c.as_ref(), &file)
        .await
        .expect("refreshed and downloaded");
    assert_eq!(got, env.sandbox.slack().file_contents(&id).unwrap());
    assert_eq!(env.sandbox.oauth().refresh_count(), 1);
}

#[tokio::test]
async fn the_token_is_never_sent_to_another_host() {
    let env = env(&[]).await;
    let c = env.bot(json!({}));
    let (_, mut file) = a_hosted_file(c.as_ref()).await;
    // Another port on the same machine: another origin.
    let other = env
        .sandbox
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    file.locator = file
        .locator
        .replace(&env.running.base_url(), &other.base_url());
    env.sandbox.reset_stats();
    let err = download(c.as_ref(), &file).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "this file only: {err}");
    assert_eq!(env.sandbox.stats().requests, 0, "nothing was sent");
}

#[tokio::test]
async fn a_file_deleted_after_it_was_listed_is_refused_for_that_file_only() {
    let env = env(&[]).await;
    let c = env.bot(json!({}));
    let (id, file) = a_hosted_file(c.as_ref()).await;
    assert!(env.sandbox.slack().delete_file(&id));
    env.sandbox.reset_stats();
    let err = download(c.as_ref(), &file).await.expect_err("gone");
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{err}");
    assert_eq!(env.sandbox.stats().requests, 1, "not retried");
}
