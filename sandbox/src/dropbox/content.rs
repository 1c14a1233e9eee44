//! File contents: generated from the seed, never stored, and hashed the way Dropbox hashes them.

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::generate;

/// Dropbox's `content_hash` block: 4 MiB.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Which bytes a file revision holds: a pure function of these, so any revision can be served
/// again without keeping its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContentKey {
    /// The sandbox's key for Dropbox contents (from the seed).
    pub(crate) namespace: u64,
    /// The file the contents belong to (its creation number).
    pub(crate) file: u64,
    /// Edits so far: 0 for the contents the file was created with.
    pub(crate) version: u64,
}

impl ContentKey {
    /// The bytes: mostly text of a few bytes to 4 KB; file 1 starts empty and every 25th file
    /// (4, 29, …) is about 100 KB, so transfers span many chunks.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut rng = generate::record_rng(
            self.namespace ^ generate::mix64(self.version.wrapping_add(1)),
            self.file,
        );
        let size = match (self.file, self.version) {
            (1, 0) => 0,
            (f, _) if f % 25 == 4 => 96 * 1024 + rng.gen_range(0..8192),
            _ => rng.gen_range(1..=4096),
        };
        let header = format!(
            "ListBackup sandbox file {} version {}\n",
            self.file, self.version
        );
        let mut bytes = Vec::with_capacity(size);
        bytes.extend(header.bytes().take(size));
        let mut noise = vec![0u8; size - bytes.len()];
        rng.fill_bytes(&mut noise);
        // Printable text with line breaks, like the documents people keep.
        bytes.extend(noise.into_iter().map(|b| match b % 64 {
            0 => b'\n',
            _ => b' ' + b % 95,
        }));
        bytes
    }
}

/// Dropbox's `content_hash`: SHA-256 over the concatenated SHA-256 digests of every 4 MiB
/// block, as lower-case hex. An empty file has no blocks, so its hash is SHA-256 of nothing.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut overall = Sha256::new();
    for block in bytes.chunks(BLOCK_SIZE) {
        overall.update(Sha256::digest(block));
    }
    overall
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(file: u64, version: u64) -> ContentKey {
        ContentKey {
            namespace: generate::namespace_key(3, "dropbox.contents"),
            file,
            version,
        }
    }

    #[test]
    fn contents_are_deterministic_and_change_with_each_edit() {
        assert_eq!(key(7, 0).bytes(), key(7, 0).bytes());
        assert_ne!(key(7, 0).bytes(), key(7, 1).bytes());
        assert!(key(1, 0).bytes().is_empty());
        assert!(key(4, 0).bytes().len() >= 96 * 1024);
        assert!((1..=4096).contains(&key(8, 0).bytes().len()));
    }

    #[test]
    fn the_hash_is_over_block_digests_not_the_bytes() {
        let empty = content_hash(b"");
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // One block: SHA-256 of the block's digest, not of the bytes themselves.
        let small = content_hash(b"abc");
        let direct: String = Sha256::digest(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(small, direct);
        // Two blocks and a bit: the boundary is exactly 4 MiB.
        let big = vec![7u8; BLOCK_SIZE * 2 + 1];
        let mut manual = Sha256::new();
        manual.update(Sha256::digest(&big[..BLOCK_SIZE]));
        manual.update(Sha256::digest(&big[BLOCK_SIZE..BLOCK_SIZE * 2]));
        manual.update(Sha256::digest(&big[BLOCK_SIZE * 2..]));
        let expected: String = manual
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(content_hash(&big), expected);
    }
}
