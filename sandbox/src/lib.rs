//! Faithful local fakes of the SaaS platform APIs ListBackup reads, served over
//! real HTTP for tests, benchmarks and the CLI's `--demo` mode.
//!
//! A [`Sandbox`] holds every platform fake ([`stripe`], [`mailchimp`], [`activecampaign`],
//! [`zendesk`], [`hubspot`], [`keap`], [`gohighlevel`], [`dropbox`], [`googledrive`],
//! [`slack`]) and serves them
//! from one address. Records are generated deterministically and lazily from a
//! seed, so ten million records cost no memory and every run sees the same
//! bytes. Shared, platform-neutral parts live in their own modules: the server
//! and control endpoints, fault injection ([`FaultPlan`]), request counters
//! ([`Stats`]) and the generation helpers; a new platform adds its folder under
//! `src/<platform>/` and one `nest` in the server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sandbox::{FaultPlan, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::new(SandboxConfig::new(42).with_records("stripe.customers", 10_000)?)?;
//! let running = sandbox.serve("127.0.0.1:0".parse()?).await?;
//! sandbox.set_faults(FaultPlan { rate_limit_every: Some(3), ..FaultPlan::default() });
//! // GET {base_url}/v1/customers with `Authorization: Bearer sk_test_sandbox`
//! println!("{}", running.base_url());
//! running.shutdown().await;
//! # Ok(()) }
//! ```

pub mod activecampaign;
mod config;
mod control;
pub mod dropbox;
mod error;
mod faults;
mod generate;
pub mod gohighlevel;
pub mod googledrive;
pub mod hubspot;
pub mod keap;
pub mod mailchimp;
pub mod oauth;
mod server;
pub mod slack;
mod stats;
pub mod stripe;
pub mod zendesk;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::SandboxConfig;
pub use error::SandboxError;
pub use faults::FaultPlan;
pub use server::RunningSandbox;
pub use stats::Stats;

use activecampaign::ActiveCampaignFake;
use dropbox::DropboxFake;
use faults::FaultGate;
use gohighlevel::GoHighLevelFake;
use googledrive::GoogleDriveFake;
use hubspot::HubSpotFake;
use keap::KeapFake;
use mailchimp::MailchimpFake;
use slack::SlackFake;
use stats::StatsCounters;
use stripe::StripeFake;
use zendesk::ZendeskFake;

/// Every platform fake plus the fault plan and counters; cheap to clone and share.
#[derive(Clone, Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: SandboxConfig,
    stripe: Arc<StripeFake>,
    mailchimp: Arc<MailchimpFake>,
    zendesk: Arc<ZendeskFake>,
    keap: Arc<KeapFake>,
    gohighlevel: Arc<GoHighLevelFake>,
    dropbox: Arc<DropboxFake>,
    googledrive: Arc<GoogleDriveFake>,
    oauth: Arc<oauth::OAuthAuthority>,
    activecampaign: Arc<ActiveCampaignFake>,
    hubspot: Arc<HubSpotFake>,
    slack: Arc<SlackFake>,
    faults: FaultGate,
    stats: StatsCounters,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        config.validate()?;
        let stripe = StripeFake::new(config.seed, config.stripe_api_key.clone(), |stream| {
            config.records_for(&stream.spec())
        });
        let mailchimp = MailchimpFake::new(config.seed, |stream| {
            config.records_for(&format!("mailchimp.{stream}"))
        });
        let activecampaign =
            ActiveCampaignFake::new(config.seed, |stream| config.records_for(&stream.spec()));
        let zendesk = ZendeskFake::new(config.seed, |spec| config.records_for(spec));
        let hubspot =
            HubSpotFake::new(config.seed, config.hubspot_access_token.clone(), |stream| {
                config.records_for(&stream.spec())
            });
        let oauth = Arc::new(oauth::OAuthAuthority::default());
        let keap = KeapFake::new(config.seed, Arc::clone(&oauth), |stream| {
            config.records_for(&stream.spec())
        });
        let gohighlevel =
            GoHighLevelFake::new(config.seed, |stream| config.records_for(&stream.spec()));
        let dropbox = DropboxFake::new(
            config.seed,
            Arc::clone(&oauth),
            config.records_for("dropbox.files"),
        );
        let googledrive = GoogleDriveFake::new(config.seed, Arc::clone(&oauth), |stream| {
            config.records_for(&format!("googledrive.{stream}"))
        });
        let slack = SlackFake::new(config.seed, Arc::clone(&oauth), |stream| {
            config.records_for(&format!("slack.{stream}"))
        });
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                stripe: Arc::new(stripe),
                mailchimp: Arc::new(mailchimp),
                zendesk: Arc::new(zendesk),
                oauth,
                activecampaign: Arc::new(activecampaign),
                hubspot: Arc::new(hubspot),
                keap: Arc::new(keap),
                gohighlevel: Arc::new(gohighlevel),
                dropbox: Arc::new(dropbox),
                googledrive: Arc::new(googledrive),
                slack: Arc::new(slack),
                faults: FaultGate::default(),
                stats: StatsCounters::default(),
            }),
        })
    }

    /// Binds `addr` (port 0 picks a free port) and serves in a tokio task until the
    /// returned handle is shut down or dropped. One sandbox may serve on several addresses.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<RunningSandbox> {
        server::serve(self.clone(), addr).await
    }

    /// The configuration the sandbox started from (counts may have grown since).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    pub fn stripe(&self) -> &StripeFake {
        &self.shared.stripe
    }

    pub fn mailchimp(&self) -> &MailchimpFake {
        &self.shared.mailchimp
    }

    pub fn zendesk(&self) -> &ZendeskFake {
        &self.shared.zendesk
    }

    /// The Keap fake; its bearer tokens come from [`Sandbox::oauth`].
    pub fn keap(&self) -> &KeapFake {
        &self.shared.keap
    }

    /// The GoHighLevel (LeadConnector v2) fake; its tokens come from [`Sandbox::oauth`].
    pub fn gohighlevel(&self) -> &GoHighLevelFake {
        &self.shared.gohighlevel
    }

    /// The Dropbox fake (API v2, under `/2`); its tokens come from [`Sandbox::oauth`].
    pub fn dropbox(&self) -> &DropboxFake {
        &self.shared.dropbox
    }

    /// The Google Drive fake, served under `/drive/v3`; its tokens come from [`Sandbox::oauth`].
    pub fn googledrive(&self) -> &GoogleDriveFake {
        &self.shared.googledrive
    }

    /// The Slack Web API fake, served under `/slack`; its tokens come from [`Sandbox::oauth`]
    /// (rotating installs) or are its own bot token (installs without rotation).
    pub fn slack(&self) -> &SlackFake {
        &self.shared.slack
    }

    /// The authorization server every OAuth platform's fake trusts.
    pub fn oauth(&self) -> &oauth::OAuthAuthority {
        &self.shared.oauth
    }

    /// The ActiveCampaign fake, served under `/api/3`.
    pub fn activecampaign(&self) -> &ActiveCampaignFake {
        &self.shared.activecampaign
    }

    pub fn hubspot(&self) -> &HubSpotFake {
        &self.shared.hubspot
    }

    /// Replaces the fault plan; it applies from the next platform request, which
    /// counts as request 1 for the plan's "every Nth" rules.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.shared.faults.set(plan);
    }

    /// The fault plan in force.
    pub fn faults(&self) -> FaultPlan {
        self.shared.faults.plan()
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Platform requests received and not answered yet (e.g. held by `delay_ms`).
    pub fn requests_in_flight(&self) -> u64 {
        self.shared.stats.in_flight()
    }

    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    fn stripe_arc(&self) -> Arc<StripeFake> {
        Arc::clone(&self.shared.stripe)
    }

    fn mailchimp_arc(&self) -> Arc<MailchimpFake> {
        Arc::clone(&self.shared.mailchimp)
    }

    fn activecampaign_arc(&self) -> Arc<ActiveCampaignFake> {
        Arc::clone(&self.shared.activecampaign)
    }

    fn zendesk_arc(&self) -> Arc<ZendeskFake> {
        Arc::clone(&self.shared.zendesk)
    }

    fn hubspot_arc(&self) -> Arc<HubSpotFake> {
        Arc::clone(&self.shared.hubspot)
    }

    fn keap_arc(&self) -> Arc<KeapFake> {
        Arc::clone(&self.shared.keap)
    }

    fn gohighlevel_arc(&self) -> Arc<GoHighLevelFake> {
        Arc::clone(&self.shared.gohighlevel)
    }

    fn dropbox_arc(&self) -> Arc<DropboxFake> {
        Arc::clone(&self.shared.dropbox)
    }

    fn googledrive_arc(&self) -> Arc<GoogleDriveFake> {
        Arc::clone(&self.shared.googledrive)
    }

    fn slack_arc(&self) -> Arc<SlackFake> {
        Arc::clone(&self.shared.slack)
    }

    fn fault_gate(&self) -> &FaultGate {
        &self.shared.faults
    }

    fn stats_counters(&self) -> &StatsCounters {
        &self.shared.stats
    }
}
