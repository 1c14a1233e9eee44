//! The `listbackup` binary's building blocks: configuration, the API server, the worker (with
//! its webhook dispatcher), the all-in-one dev stack and the offline restore. `main.rs` is only the command line over these,
//! and the end-to-end tests start the same pieces.

pub mod bench;
pub mod config;
pub mod demo;
pub mod dev;
pub mod logging;
pub mod restore;
pub mod rotate;
pub mod server;
pub mod webhooks;
pub mod worker;
