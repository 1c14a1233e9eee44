//! Dropbox's `content_hash`, computed as the bytes stream by: SHA-256 over the concatenated
//! SHA-256 digests of every 4 MiB block, in lower-case hex. The whole file is never needed
//! at once.

use sha2::{Digest, Sha256};

/// The block size of the hash: 4 MiB.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Hashes contents chunk by chunk, whatever the chunk boundaries.
#[derive(Clone, Default)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    block_len: usize,
}

impl ContentHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.block_len).min(data.len());
            self.block.update(&data[..take]);
            self.block_len += take;
            data = &data[take..];
            if self.block_len == BLOCK_SIZE {
                let digest = self.block.finalize_reset();
                self.overall.update(digest);
                self.block_len = 0;
            }
        }
    }

    /// The hash; an empty file has no blocks, so it is SHA-256 of nothing.
    pub fn finish(mut self) -> String {
        if self.block_len > 0 {
            let digest = self.block.finalize();
            self.overall.update(digest);
        }
        hex::encode(self.overall.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_does_not_change_the_hash() {
        let data: Vec<u8> = (0..BLOCK_SIZE * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut whole = ContentHasher::new();
        whole.update(&data);
        let mut pieces = ContentHasher::new();
        for chunk in data.chunks(65_537) {
            pieces.update(chunk);
        }
        assert_eq!(whole.finish(), pieces.finish());
        assert_eq!(
            ContentHasher::new().finish(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
