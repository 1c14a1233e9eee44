//! Errors in 200 answers, per-method tier limits, `Retry-After`, and the limits of apps
//! distributed outside the Marketplace.

use crate::*;
use connectors::ErrorKind;
use std::time::Instant;

#[tokio::test]
async fn temporary_errors_in_200_answers_are_retried_and_others_fail_at_once() {
    let env = env(&[("members", 25)]).await;
    let c = env.bot(json!({}));
    let slack = env.sandbox.slack();

    slack.fail_next("users.list", "internal_error", 1);
    slack.fail_next("users.list", "fatal_error", 1);
    let (ids, _) = read_all(c.as_ref(), "members", None)
        .await
        .expect("retried");
    assert_eq!(unique(ids), dataset_ids(&env.sandbox, "members"));
    let stats = env.sandbox.stats();
    assert_eq!(
        stats.requests,
        3 + 2,
        "three pages and two retries: {stats:?}"
    );
    assert_eq!(stats.ok, stats.requests, "every answer was a 200");

    env.sandbox.reset_stats();
    slack.fail_next("users.list", "missing_scope", 1);
    let err = c.read_page(&first("members")).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Forbidden, "{err}");
    assert!(
        err.message.contains("channels:history"),
        "names the scope: {err}"
    );
    assert_eq!(env.sandbox.stats().requests, 1, "not retried");

    slack.fail_next("conversations.list", "invalid_cursor", 1);
    let err = c.read_page(&first("channels")).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{err}");
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn each_method_is_paced_to_its_tier_and_never_throttled() {
    let env = env(&[("members", 60), ("channels", 3), ("messages", 40)]).await;
    // Slack's per-minute budgets, per second: Tier 2 (users.list) 20/s, Tier 3 (history) 50/s.
    env.sandbox
        .slack()
        .set_rate_window(Some(Duration::from_secs(1)));
    let c = env.bot(json!({"requests_per_second": null, "tier_window_secs": 1, "page_size": 5}));
    let started = Instant::now();
    let (members, _) = read_all(c.as_ref(), "members", None).await.unwrap();
    let members_took = started.elapsed();
    let (messages, _) = read_all(c.as_ref(), "messages", None).await.unwrap();
    assert_eq!(unique(members), dataset_ids(&env.sandbox, "members"));
    assert_eq!(unique(messages), dataset_ids(&env.sandbox, "messages"));
    let stats = env.sandbox.stats();
    assert_eq!(
        stats.rate_limited, 0,
        "Slack never had to throttle: {stats:?}"
    );
    // 12 pages of members at 20 a second, evenly spaced.
    assert!(
        members_took >= Duration::from_secs_f64(11.0 / 20.0 * 0.9),
        "users.list was paced ({members_took:?})"
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let env = env(&[("channels", 2), ("messages", 40)]).await;
    let slack = env.sandbox.slack();
    // History at one request per second, and a connector that does not pace at all.
    slack.set_rate_window(Some(Duration::from_secs(1)));
    slack.set_non_marketplace(true);
    let c = env.bot(json!({"requests_per_second": 1000}));
    let (ids, _) = read_all(c.as_ref(), "messages", None)
        .await
        .expect("completes");
    assert_eq!(unique(ids), dataset_ids(&env.sandbox, "messages"));
    let stats = env.sandbox.stats();
    assert!(stats.rate_limited > 0, "Slack throttled: {stats:?}");
    // Waiting `Retry-After` (one second) refills the budget, so every 429 is followed by a
    // success; retrying sooner would meet several 429s in a row.
    assert!(
        stats.rate_limited <= stats.ok,
        "each 429 was waited out: {stats:?}"
    );
}

#[tokio::test]
async fn a_non_marketplace_app_reads_history_at_one_request_a_window_in_pages_of_15() {
    let env = env(&[("channels", 2), ("messages", 20), ("threads", 2)]).await;
    let slack = env.sandbox.slack();
    slack.set_rate_window(Some(Duration::from_secs(1)));
    slack.set_non_marketplace(true);
    let c = env.bot(json!({
        "requests_per_second": null,
        "tier_window_secs": 1,
        "non_marketplace_app": true,
        "page_size": 200,
    }));
    let (messages, _) = read_all(c.as_ref(), "messages", None).await.unwrap();
    let (threads, _) = read_all(c.as_ref(), "threads", None).await.unwrap();
    assert_eq!(unique(messages), dataset_ids(&env.sandbox, "messages"));
    assert_eq!(unique(threads), dataset_ids(&env.sandbox, "threads"));
    let stats = env.sandbox.stats();
    assert_eq!(stats.rate_limited, 0, "paced to 1 a window: {stats:?}");
    // Two conversations of 20 messages in pages of 15: two history pages each, per stream;
    // two threads each: four replies requests; and one conversations.list per stream.
    assert_eq!(stats.requests, 2 * 4 + 4 + 2, "{stats:?}");
}
