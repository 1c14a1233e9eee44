//! History traps: edits and thread replies that arrive after the parent was backed up,
//! changes made while a run is under way, and a conversation the bot leaves mid-run.

use crate::*;

#[tokio::test]
async fn edits_and_late_replies_are_caught_by_the_next_sync() {
    let env = env(&[("channels", 2), ("messages", 30), ("threads", 3)]).await;
    let c = env.bot(json!({}));
    let (_, messages_cursor) = read_all(c.as_ref(), "messages", None).await.unwrap();
    let (_, threads_cursor) = read_all(c.as_ref(), "threads", None).await.unwrap();

    let slack = env.sandbox.slack();
    let channel = slack.readable_channel_ids()[0].clone();
    let old = slack.message_ts(&channel)[1].clone();
    assert!(slack.edit(&channel, &old));
    let parent = slack.thread_ts(&channel)[0].clone();
    let reply = slack.reply(&channel, &parent).unwrap();

    let (messages, _) = read_all(c.as_ref(), "messages", messages_cursor)
        .await
        .unwrap();
    assert_eq!(
        unique(messages),
        [message_id(&channel, &old), message_id(&channel, &parent)].into(),
        "the edited message, and the parent with its new reply count"
    );
    let (threads, _) = read_all(c.as_ref(), "threads", threads_cursor)
        .await
        .unwrap();
    assert_eq!(
        unique(threads),
        [message_id(&channel, &reply)].into(),
        "only the new reply, not the thread's earlier ones"
    );
}

#[tokio::test]
async fn without_a_lookback_a_sync_sees_only_new_messages() {
    let env = env(&[("channels", 2), ("messages", 30), ("threads", 3)]).await;
    let c = env.bot(json!({"lookback_days": 0}));
    let (_, cursor) = read_all(c.as_ref(), "messages", None).await.unwrap();
    let slack = env.sandbox.slack();
    let channel = slack.readable_channel_ids()[1].clone();
    let old = slack.message_ts(&channel)[1].clone();
    assert!(slack.edit(&channel, &old));
    let posted = slack.post(&channel);
    let (messages, _) = read_all(c.as_ref(), "messages", cursor).await.unwrap();
    assert_eq!(
        unique(messages),
        [message_id(&channel, &posted)].into(),
        "the edit of a message before the cursor is outside the (empty) window"
    );
}

#[tokio::test]
async fn changes_made_during_a_run_are_caught_by_the_next_sync() {
    let env = env(&[("channels", 2), ("messages", 30), ("threads", 0)]).await;
    let c = env.bot(json!({}));
    let slack = env.sandbox.slack();
    let channel = slack.readable_channel_ids()[0].clone();
    let oldest = slack.message_ts(&channel)[0].clone();

    // The first history page of the channel is read; then users post and edit.
    let request = first("messages");
    let page = c.read_page(&request).await.unwrap();
    assert_eq!(page.records.len(), 10);
    let posted = slack.post(&channel);
    assert!(slack.edit(&channel, &oldest));
    let mut next = after(&request, &page);
    let mut cursor = page.cursor.clone();
    let mut ids: Vec<String> = page.records.iter().map(|r| r.id.clone()).collect();
    while let Some(request) = next {
        let page = c.read_page(&request).await.unwrap();
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        cursor = page.cursor.clone();
        next = after(&request, &page);
    }
    let ids = unique(ids);
    assert!(
        !ids.contains(&message_id(&channel, &posted)),
        "posted after its page"
    );
    assert!(
        ids.contains(&message_id(&channel, &oldest)),
        "read after its edit"
    );

    let (synced, _) = read_all(c.as_ref(), "messages", cursor).await.unwrap();
    let synced = unique(synced);
    assert!(
        synced.contains(&message_id(&channel, &posted)),
        "the message posted mid-run is in the sync: {synced:?}"
    );
    assert!(
        synced.is_subset(&[message_id(&channel, &posted), message_id(&channel, &oldest)].into()),
        "nothing else: {synced:?}"
    );
}

#[tokio::test]
async fn a_conversation_the_bot_leaves_mid_run_is_skipped_and_the_run_goes_on() {
    let env = env(&[("channels", 3), ("messages", 25), ("threads", 4)]).await;
    let c = env.bot(json!({}));
    let slack = env.sandbox.slack();
    let readable = slack.readable_channel_ids();
    // Channel 0 is public (`not_in_channel` once the bot leaves), channel 2 private
    // (`channel_not_found`).
    let (public, private) = (readable[0].clone(), readable[2].clone());
    let expected = dataset_ids(&env.sandbox, "messages");

    let request = first("messages");
    let page = c.read_page(&request).await.unwrap();
    let first_page: BTreeSet<String> = page.records.iter().map(|r| r.id.clone()).collect();
    assert!(first_page.iter().all(|id| id.starts_with(&public)));
    slack.remove_bot(&public);
    slack.remove_bot(&private);
    let mut ids: Vec<String> = first_page.iter().cloned().collect();
    let mut next = after(&request, &page);
    while let Some(request) = next {
        let page = c.read_page(&request).await.expect("the run goes on");
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        next = after(&request, &page);
    }
    let kept: BTreeSet<String> = expected
        .iter()
        .filter(|id| !id.starts_with(&public) && !id.starts_with(&private))
        .cloned()
        .chain(first_page)
        .collect();
    assert_eq!(
        unique(ids),
        kept,
        "what was read of the channel, and every other one"
    );

    // The threads walk skips them too: public ones are listed as `is_member: false`, private
    // ones no longer listed.
    let (threads, _) = read_all(c.as_ref(), "threads", None).await.unwrap();
    assert!(
        threads
            .iter()
            .all(|id| !id.starts_with(&public) && !id.starts_with(&private))
    );
    assert!(!threads.is_empty());
}

#[tokio::test]
async fn a_thread_is_resumed_mid_replies_from_its_page_token() {
    let env = env(&[("channels", 1), ("messages", 12), ("threads", 2)]).await;
    let slack = env.sandbox.slack();
    let channel = slack.readable_channel_ids()[0].clone();
    let parent = slack.thread_ts(&channel)[0].clone();
    for _ in 0..5 {
        slack.reply(&channel, &parent).unwrap();
    }
    let mut request = first("threads");
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        // A fresh connector per page: everything it needs is in the page token and cursor.
        let fresh = env.bot(json!({"page_size": 2}));
        let page = fresh.read_page(&request).await.unwrap();
        pages += 1;
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        match after(&request, &page) {
            Some(next) => request = next,
            None => break,
        }
    }
    assert_eq!(unique(ids), dataset_ids(&env.sandbox, "threads"));
    assert!(pages > 4, "the replies spanned several pages ({pages})");
}
