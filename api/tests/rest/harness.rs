//! Starts the API for one test and speaks to it.

use api::{AppState, AuthSettings, ConnectionSettings, SignInLimits, TemporalAccess};
use entities::sea_orm::DatabaseConnection;
use poem::{Server, listener::TcpAcceptor};
use serde_json::{Value, json};
use std::sync::Arc;
use storage::{
    embedded::EmbeddedS3,
    keys::MasterKey,
    object_store::{ObjectStore, S3Config},
};
use temporal::dev_server::EphemeralServer;
use tokio::sync::oneshot;

pub struct App {
    pub base: String,
    pub db: DatabaseConnection,
    /// Seals connection credentials the way the API opens them.
    pub master: Arc<MasterKey>,
    temporal: Option<EphemeralServer>,
    /// The platforms' fakes, started for this test's OAuth flows and connection tests.
    pub sandbox: sandbox::Sandbox,
    pub sandbox_server: Option<sandbox::RunningSandbox>,
    /// The object store the app reads snapshots from: an embedded S3 endpoint for apps started
    /// with [`App::spawn_with_objects`], an address nothing listens on otherwise.
    pub store: ObjectStore,
    s3: Option<(EmbeddedS3, tempfile::TempDir)>,
    /// The Postgres database to drop afterwards, or the SQLite file's folder.
    pg_name: Option<String>,
    _sqlite_dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    http: reqwest::Client,
}

/// A response: status, JSON body (`Null` when empty), headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Asserts an error envelope with this status and code; returns the body.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert!(
            self.body["error"]["request_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("req_")),
            "{}",
            self.body
        );
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(1),
            "an error carries nothing but the envelope: {}",
            self.body
        );
        &self.body
    }

    /// Asserts the status; returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }

    pub fn field(&self) -> &Value {
        &self.body["error"]["details"]["field"]
    }
}

/// A registered user with a token pair and the account created for them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password: String,
    pub account_id: String,
    pub access: String,
    pub refresh: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl App {
    pub async fn spawn() -> Self {
        Self::spawn_with(|auth| auth).await
    }

    /// Starts the API with sign-in and connection settings adjusted (e.g. a DNS resolver).
    pub async fn spawn_with_settings(
        configure: impl FnOnce(AuthSettings) -> AuthSettings,
        configure_connections: impl FnOnce(ConnectionSettings) -> ConnectionSettings,
    ) -> Self {
        let (pg_name, url) = entities::testing::create_database("lbapi")
            .await
            .expect("a test database on Postgres (LISTBACKUP_TEST_POSTGRES)");
        Self::start(
            configure,
            configure_connections,
            url,
            Some(pg_name),
            None,
            None,
            false,
        )
        .await
    }

    /// Starts the API with sign-in settings adjusted by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(AuthSettings) -> AuthSettings) -> Self {
        let (pg_name, url) = entities::testing::create_database("lbapi")
            .await
            .expect("a test database on Postgres (LISTBACKUP_TEST_POSTGRES)");
        Self::start(configure, |c| c, url, Some(pg_name), None, None, false).await
    }

    /// Starts the API with a Temporal dev server of its own (no worker: started jobs stay
    /// queued), for what needs workflows to start.
    pub async fn spawn_with_temporal() -> Self {
        let exe = temporal::dev_server::find_exe(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        )
        .expect("the `temporal` CLI is missing: run ./scripts/setup");
        let server = temporal::dev_server::start(&temporal::dev_server::DevServerOptions {
            exe,
            port: None,
            ui_port: None,
            db_file: None,
        })
        .await
        .expect("a Temporal dev server");
        let (pg_name, url) = entities::testing::create_database("lbapi")
            .await
            .expect("a test database on Postgres (LISTBACKUP_TEST_POSTGRES)");
        let mut app = Self::start(
            Self::generous,
            |c| c,
            url,
            Some(pg_name),
            None,
            Some(&server),
            false,
        )
        .await;
        app.temporal = Some(server);
        app
    }

    /// Starts the API with a real object store: an embedded S3 endpoint (SigV4 checked) over a
    /// temporary folder, as `listbackup dev` runs it.
    pub async fn spawn_with_objects() -> Self {
        Self::spawn_with_objects_and(Self::generous).await
    }

    /// Like [`App::spawn_with_objects`], with sign-in settings adjusted (e.g. email).
    pub async fn spawn_with_objects_and(
        configure: impl FnOnce(AuthSettings) -> AuthSettings,
    ) -> Self {
        let (pg_name, url) = entities::testing::create_database("lbapi")
            .await
            .expect("a test database on Postgres (LISTBACKUP_TEST_POSTGRES)");
        Self::start(configure, |c| c, url, Some(pg_name), None, None, true).await
    }

    /// Starts the API over a SQLite file, as `listbackup dev` runs it.
    pub async fn spawn_on_sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("api.db").display());
        Self::start(Self::generous, |c| c, url, None, Some(dir), None, false).await
    }

    async fn start(
        configure: impl FnOnce(AuthSettings) -> AuthSettings,
        configure_connections: impl FnOnce(ConnectionSettings) -> ConnectionSettings,
        url: String,
        pg_name: Option<String>,
        sqlite_dir: Option<tempfile::TempDir>,
        temporal_server: Option<&EphemeralServer>,
        objects: bool,
    ) -> Self {
        let db = entities::connect_and_migrate(&url).await.expect("migrate");
        let master = Arc::new(MasterKey::generate());
        let client = match temporal_server {
            Some(server) => {
                let settings = temporal::TemporalSettings::local(server.target.clone());
                let client =
                    temporal::connect_with_retry(&settings, std::time::Duration::from_secs(30))
                        .await
                        .expect("the test's Temporal dev server answers");
                temporal::ensure_search_attributes(&client, "default")
                    .await
                    .expect("search attributes");
                client
            }
            None => temporal::unreachable_client("default")
                .await
                .expect("client"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = sandbox::Sandbox::new(sandbox::SandboxConfig::new(7)).expect("sandbox");
        let running = sandbox
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .expect("sandbox listens");
        let sandbox_base = running.base_url();
        // Every OAuth platform's app points at the sandbox's authorization server.
        let mut connections = ConnectionSettings::new(&base)
            .with_http(connectors::http::HttpClient::default().allowing_private_networks(true));
        for p in connectors::platforms() {
            if p.auth == connectors::AuthKind::OAuth2 {
                connections =
                    connections.with_oauth_app(p.id, sandbox_oauth_app(&sandbox_base, p.id));
            }
        }
        let connections = configure_connections(connections);
        let (store, s3) = if objects {
            let dir = tempfile::tempdir().unwrap();
            let s3 = EmbeddedS3::start(
                &dir.path().join("objects"),
                "127.0.0.1:0".parse().unwrap(),
                "test-key",
                "test-secret-key",
            )
            .await
            .expect("embedded s3");
            let store = ObjectStore::new(&S3Config::local(
                s3.endpoint(),
                "listbackup",
                "test-key",
                "test-secret-key",
            ));
            store.ensure_bucket().await.expect("bucket");
            (store, Some((s3, dir)))
        } else {
            // Never contacted by these resources.
            (
                ObjectStore::new(&S3Config::local("http://127.0.0.1:9", "unused", "k", "s")),
                None,
            )
        };
        let state = AppState {
            db: db.clone(),
            store: store.clone(),
            temporal: TemporalAccess {
                client,
                namespace: "default".into(),
                ui_base: "http://127.0.0.1:8233".into(),
            },
            auth: configure(AuthSettings::from_master_key(&master)),
            master: master.clone(),
            connections,
            key_holder: None,
        };
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    api::app(state),
                    async move {
                        let _ = stopped.await;
                    },
                    None,
                )
                .await;
        });
        Self {
            base,
            db,
            master,
            temporal: None,
            sandbox,
            sandbox_server: Some(running),
            store,
            s3,
            pg_name,
            _sqlite_dir: sqlite_dir,
            stop: Some(stop),
            server: Some(server),
            // Redirects are answers to look at, not to follow.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The default limits, but with room for the many sign-ins a test makes from one address.
    pub fn generous(auth: AuthSettings) -> AuthSettings {
        let limits = SignInLimits {
            per_address: api::Limit::new(10_000, std::time::Duration::from_millis(1)),
            ..SignInLimits::default()
        };
        auth.with_limits(limits)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(mut server) = self.temporal.take() {
            let _ = server.shutdown().await;
        }
        if let Some(sandbox) = self.sandbox_server.take() {
            sandbox.shutdown().await;
        }
        if let Some((s3, _dir)) = self.s3.take() {
            s3.shutdown().await;
        }
        match self.pg_name.take() {
            Some(name) => {
                let _ = entities::testing::drop_database(self.db.clone(), &name).await;
            }
            None => {
                let _ = self.db.clone().close().await;
            }
        }
    }

    /// Sends a request; `token` as `Authorization: Bearer`, `body` as JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("the API answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// A GET whose body is not JSON: status, headers and the raw bytes.
    pub async fn get_raw(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        self.get_raw_with(path, token, &[]).await
    }

    /// [`App::get_raw`] with extra request headers.
    pub async fn get_raw_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("the API answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }

    pub async fn login(&self, email: impl AsRef<str>, password: impl AsRef<str>) -> Reply {
        let body = json!({"email": email.as_ref(), "password": password.as_ref()});
        self.call("POST", "/v1/auth/login", None, Some(body)).await
    }

    pub async fn refresh(&self, refresh_token: impl AsRef<str>) -> Reply {
        let body = json!({"refresh_token": refresh_token.as_ref()});
        self.call("POST", "/v1/auth/refresh", None, Some(body))
            .await
    }

    pub async fn logout(&self, refresh_token: impl AsRef<str>) -> Reply {
        let body = json!({"refresh_token": refresh_token.as_ref()});
        self.call("POST", "/v1/auth/logout", None, Some(body)).await
    }

    /// A client of the app's Temporal dev server (apps from [`App::spawn_with_temporal`]).
    pub async fn temporal_client(&self) -> temporal::Client {
        let server = self.temporal.as_ref().expect("an app with Temporal");
        let settings = temporal::TemporalSettings::local(server.target.clone());
        temporal::connect_with_retry(&settings, std::time::Duration::from_secs(30))
            .await
            .unwrap()
    }

    /// True when `account_id`'s activity log has `action` on `target` by `actor`.
    pub async fn logged(&self, account_id: &str, actor: &str, action: &str, target: &str) -> bool {
        let entry = (actor.to_owned(), action.to_owned(), target.to_owned());
        self.activity(account_id).await.contains(&entry)
    }

    /// Registers `email` and returns the user with their tokens and account.
    pub async fn register(&self, email: &str) -> User {
        let name = email.split('@').next().unwrap_or(email);
        let r = self
            .call(
                "POST",
                "/v1/auth/register",
                None,
                Some(json!({"email": email, "password": PASSWORD, "name": name})),
            )
            .await;
        let body = r.ok(201);
        User {
            id: body["user"]["id"].as_str().unwrap().into(),
            email: email.into(),
            password: PASSWORD.into(),
            account_id: body["account"]["id"].as_str().unwrap().into(),
            access: body["tokens"]["access_token"].as_str().unwrap().into(),
            refresh: body["tokens"]["refresh_token"].as_str().unwrap().into(),
        }
    }

    /// Registers `email` and makes them a member of `account_id` with `role` (as `by`).
    pub async fn member(&self, by: &User, account_id: &str, email: &str, role: &str) -> User {
        let user = self.register(email).await;
        self.call(
            "POST",
            &format!("/v1/accounts/{account_id}/members"),
            Some(&by.access),
            Some(json!({"email": email, "role": role})),
        )
        .await
        .ok(201);
        user
    }

    /// Creates an API key of `account_id` (as `by`); returns `(key id, secret)`.
    pub async fn api_key(
        &self,
        by: &str,
        account_id: &str,
        name: &str,
        role: &str,
    ) -> (String, String) {
        let r = self
            .call(
                "POST",
                &format!("/v1/accounts/{account_id}/api-keys"),
                Some(by),
                Some(json!({"name": name, "role": role})),
            )
            .await;
        let body = r.ok(201);
        (
            body["id"].as_str().unwrap().into(),
            body["secret"].as_str().unwrap().into(),
        )
    }

    /// Creates a sub-account of `parent` (as `by`); returns its id.
    pub async fn sub_account(&self, by: &str, parent: &str, name: &str) -> String {
        let r = self
            .call(
                "POST",
                &format!("/v1/accounts/{parent}/sub-accounts"),
                Some(by),
                Some(json!({"name": name})),
            )
            .await;
        r.ok(201)["id"].as_str().unwrap().into()
    }

    /// A connection of `account_id` to `platform`, made in the database (with `credentials`
    /// sealed like the API seals them) and `config`; returns its id.
    pub async fn connection(
        &self,
        account_id: &str,
        platform: &str,
        credentials: Value,
        config: Value,
    ) -> String {
        let sealed = self.master.seal_string(&credentials.to_string()).unwrap();
        entities::repo::create_connection(
            &self.db,
            account_id,
            platform,
            &format!("{platform} {}", entities::new_id()),
            sealed,
            config,
        )
        .await
        .unwrap()
        .id
    }

    /// Creates a source over `connection_id` in `account_id` through the API (as `by`); returns
    /// its id.
    pub async fn source(
        &self,
        by: &str,
        account_id: &str,
        connection_id: &str,
        name: &str,
    ) -> String {
        let r = self
            .post(
                &format!("/v1/accounts/{account_id}/sources"),
                by,
                json!({"connection_id": connection_id, "name": name}),
            )
            .await;
        r.ok(201)["id"].as_str().unwrap().into()
    }

    /// The activity log of `account_id`, oldest first: `(actor, action, target_id)`.
    pub async fn activity(&self, account_id: &str) -> Vec<(String, String, String)> {
        use entities::{
            activity_log,
            sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder},
        };
        activity_log::Entity::find()
            .filter(activity_log::Column::AccountId.eq(account_id))
            .order_by_asc(activity_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.actor, l.action, l.target_id))
            .collect()
    }
}

/// The `oauth_app` setting that points `platform` at the sandbox's authorization server.
pub fn sandbox_oauth_app(base: &str, platform: &str) -> Value {
    json!({
        "client_id": sandbox::oauth::CLIENT_ID,
        "client_secret": sandbox::oauth::CLIENT_SECRET,
        "authorize_url": format!("{base}/oauth/{platform}/authorize"),
        "token_url": format!("{base}/oauth/{platform}/token"),
    })
}
