//! Service status endpoints that need no credentials.

use crate::harness::*;

#[tokio::test]
async fn ready_and_version_answer_without_credentials() {
    let app = App::spawn().await;
    let ready = app.call("GET", "/v1/ready", None, None).await;
    assert_eq!(ready.ok(200)["ready"], true);
    let version = app.call("GET", "/v1/version", None, None).await;
    let body = version.ok(200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["api_version"], api::API_VERSION);
    app.shutdown().await;
}
