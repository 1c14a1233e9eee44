//! A test-only gate on writes: a PutObject / UploadPart whose key contains a pattern is stored
//! and logged, then its answer is held until the gate is released. The writer still sees the
//! write in flight although it has landed, so a test can kill the writer exactly there: the
//! object stored, the writer never told.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Holds the answers to matching writes of a recording endpoint; see [`super::PutLog::gate`].
#[derive(Clone, Debug)]
pub struct PutGate(Arc<watch::Sender<GateState>>);

#[derive(Clone, Debug, Default)]
struct GateState {
    /// Writes whose key contains this are held; `None` lets everything through.
    pattern: Option<String>,
    /// Matching writes waiting at the gate now.
    held: usize,
}

impl GateState {
    fn holds(&self, key: &str) -> bool {
        self.pattern.as_deref().is_some_and(|p| key.contains(p))
    }
}

impl Default for PutGate {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(GateState::default())))
    }
}

impl PutGate {
    /// From now on, holds the answer to every write whose key contains `pattern`.
    pub fn hold(&self, pattern: &str) {
        self.0.send_modify(|s| s.pattern = Some(pattern.to_owned()));
    }

    /// Lets the held answers, and every later one, through.
    pub fn release(&self) {
        self.0.send_modify(|s| s.pattern = None);
    }

    /// How many writes are waiting at the gate.
    pub fn held(&self) -> usize {
        self.0.borrow().held
    }

    /// Waits until at least `n` writes are held; false if `patience` ran out first.
    pub async fn wait_held(&self, n: usize, patience: Duration) -> bool {
        let mut rx = self.0.subscribe();
        let reached = rx.wait_for(|s| s.held >= n);
        matches!(tokio::time::timeout(patience, reached).await, Ok(Ok(_)))
    }

    /// Called with the key of a stored write before it is answered: waits while the gate
    /// holds it.
    pub(super) async fn pass(&self, key: &str) {
        let mut matched = false;
        self.0.send_if_modified(|s| {
            matched = s.holds(key);
            s.held += usize::from(matched);
            matched
        });
        if !matched {
            return;
        }
        // Counted until answered, or until the request is abandoned (its connection closed).
        let _held = Held(self);
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|s| !s.holds(key)).await;
    }
}

struct Held<'a>(&'a PutGate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.0.send_modify(|s| s.held -= 1);
    }
}
