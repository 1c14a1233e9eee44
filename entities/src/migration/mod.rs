//! Schema migrations, written with the portable schema builder so they run on Postgres and SQLite.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_one_active_job_per_source;
mod m0003_job_retries;
mod m0004_blobs;
mod m0005_needs_reauth_is_active;
mod m0006_sign_in;
mod m0007_connections_oauth;
mod m0008_sources_groups_idempotency;
mod m0009_schedules_activity;
mod m0010_rate_budgets;
mod m0011_webhooks;
mod m0012_verifications;
mod m0013_retention;
mod m0014_part_indexes;
mod m0015_exports;
mod m0016_user_security;
mod m0017_teams;
mod m0018_branding;
mod m0019_client_portal;
mod m0020_notifications;
mod m0021_access_version;
mod m0022_job_list_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_one_active_job_per_source::Migration),
            Box::new(m0003_job_retries::Migration),
            Box::new(m0004_blobs::Migration),
            Box::new(m0005_needs_reauth_is_active::Migration),
            Box::new(m0006_sign_in::Migration),
            Box::new(m0007_connections_oauth::Migration),
            Box::new(m0008_sources_groups_idempotency::Migration),
            Box::new(m0009_schedules_activity::Migration),
            Box::new(m0010_rate_budgets::Migration),
            Box::new(m0011_webhooks::Migration),
            Box::new(m0012_verifications::Migration),
            Box::new(m0013_retention::Migration),
            Box::new(m0014_part_indexes::Migration),
            Box::new(m0015_exports::Migration),
            Box::new(m0016_user_security::Migration),
            Box::new(m0017_teams::Migration),
            Box::new(m0018_branding::Migration),
            Box::new(m0019_client_portal::Migration),
            Box::new(m0020_notifications::Migration),
            Box::new(m0021_access_version::Migration),
            Box::new(m0022_job_list_indexes::Migration),
        ]
    }
}
