//! The change log behind `changes.getStartPageToken` and `changes.list`.
//!
//! Every mutation appends an entry with the next sequence number; a page token is the sequence
//! number to read from, as a decimal string (Drive's tokens are opaque decimal strings too).
//! Listing from a token returns each file's **latest** change once (Drive coalesces), in the
//! order of those latest changes. A token past the end is malformed (400); a token older than
//! the history kept (see [`Log::expire`]) is gone (404).

use std::collections::HashMap;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    File(u64),
    /// A shared drive itself (renamed, restricted): `changeType: "drive"`.
    Drive(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) subject: Subject,
    /// Unix seconds.
    pub(crate) time: i64,
}

/// Why a page token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    Malformed,
    Expired,
}

#[derive(Debug)]
pub(crate) struct Log {
    /// The oldest token still answered.
    first: u64,
    /// The sequence number the next change gets; also the current start page token.
    next: u64,
    entries: Vec<Entry>,
}

impl Log {
    pub(crate) fn new(start: u64) -> Self {
        Self {
            first: start,
            next: start,
            entries: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, subject: Subject, time: i64) -> u64 {
        let seq = self.next;
        self.entries.push(Entry { seq, subject, time });
        self.next += 1;
        seq
    }

    /// The token that lists every change made from now on.
    pub(crate) fn start_token(&self) -> u64 {
        self.next
    }

    /// Forgets the history: every token handed out so far answers 404 from now on.
    pub(crate) fn expire(&mut self) {
        self.first = self.next;
        self.entries.clear();
    }

    /// Each subject's latest change at or after `token`, oldest first.
    pub(crate) fn since(&self, token: &str) -> Result<Vec<Entry>, TokenError> {
        let token = token
            .trim()
            .parse::<u64>()
            .map_err(|_| TokenError::Malformed)?;
        if token > self.next || token == 0 {
            return Err(TokenError::Malformed);
        }
        if token < self.first {
            return Err(TokenError::Expired);
        }
        let mut latest: HashMap<Subject, Entry> = HashMap::new();
        for entry in self.entries.iter().filter(|e| e.seq >= token) {
            latest.insert(entry.subject, *entry);
        }
        let mut entries: Vec<Entry> = latest.into_values().collect();
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_coalesce_per_subject_and_tokens_expire() {
        let mut log = Log::new(100);
        let token = log.start_token();
        log.record(Subject::File(1), 10);
        log.record(Subject::File(2), 11);
        log.record(Subject::File(1), 12);
        log.record(Subject::Drive(0), 13);
        let got = log.since(&token.to_string()).unwrap();
        let subjects: Vec<Subject> = got.iter().map(|e| e.subject).collect();
        assert_eq!(
            subjects,
            [Subject::File(2), Subject::File(1), Subject::Drive(0)]
        );
        assert_eq!(got[1].time, 12);
        assert!(
            log.since(&log.start_token().to_string())
                .unwrap()
                .is_empty()
        );
        assert_eq!(log.since("abc"), Err(TokenError::Malformed));
        assert_eq!(log.since("999"), Err(TokenError::Malformed));
        log.expire();
        assert_eq!(log.since(&token.to_string()), Err(TokenError::Expired));
        assert!(log.since(&log.start_token().to_string()).is_ok());
    }
}
