//! A real DNS server for the custom-domain tests: `dns_server.py` (dnslib, installed by
//! `scripts/setup` into `.tools/dns`) answering TXT records from a file the test rewrites.

use crate::smtp::{free_port, wait_listening};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

pub struct DnsServer {
    child: Child,
    pub addr: std::net::SocketAddr,
    records: PathBuf,
    _dir: tempfile::TempDir,
}

impl DnsServer {
    pub async fn start() -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records.json");
        std::fs::write(&records, "{}").unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("LISTBACKUP_DNS_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("../.tools/dns/bin/python"));
        let child = Command::new(&python)
            .arg(root.join("tests/rest/dns_server.py"))
            .arg(port.to_string())
            .arg(&records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} does not start ({e}): run ./scripts/setup",
                    python.display()
                )
            });
        wait_listening(port, "the DNS server").await;
        Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            records,
            _dir: dir,
        }
    }

    /// Serves exactly these TXT records from now on.
    pub fn set_txt(&self, records: &[(&str, &str)]) {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in records {
            map.entry(name.to_lowercase())
                .or_default()
                .push((*value).to_owned());
        }
        let tmp = self.records.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string(&map).unwrap()).unwrap();
        std::fs::rename(&tmp, &self.records).unwrap();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
