//! Blobs: file contents (Drive, Dropbox, Slack) stored once per account and content hash.
//!
//! A file is streamed through `sha256(plaintext)` and `zstd -> age` into a temporary file, so
//! neither its plaintext nor its ciphertext is ever held in memory whole. Its key,
//! `accounts/{a}/blobs/sha256/{aa}/{sha256}.zst.age` ([`crate::layout::blob_key`]), is known only
//! once the last byte has been hashed; the caller then uploads the sealed file unless the
//! account already holds that blob. Like parts, a blob is a standard age file wrapping one zstd
//! frame: `age -d -i key.txt blob.zst.age | zstd -d > file` restores it by hand.

use std::io::{self, Seek, Write};
use std::iter;

use age::stream::StreamWriter;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::StorageError;
use crate::keys::parse_recipient;

/// Compresses, encrypts and hashes one file's contents as they arrive.
pub struct BlobWriter {
    encoder: zstd::Encoder<'static, StreamWriter<HashingFile>>,
    plaintext: Sha256,
    size: u64,
}

impl BlobWriter {
    /// Starts a blob encrypted to `recipient` (`age1...`), compressed at `zstd_level`, spooled
    /// into a temporary file.
    pub fn new(recipient: &str, zstd_level: i32) -> Result<Self, StorageError> {
        let recipient = parse_recipient(recipient)?;
        let encryptor =
            age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| StorageError::Crypto(format!("blob encryptor: {e}")))?;
        let spool = HashingFile {
            file: NamedTempFile::new()?,
            hasher: Sha256::new(),
            len: 0,
        };
        let sealed = encryptor.wrap_output(spool)?;
        let mut encoder = zstd::Encoder::new(sealed, zstd_level)?;
        encoder.include_checksum(true)?;
        Ok(Self {
            encoder,
            plaintext: Sha256::new(),
            size: 0,
        })
    }

    /// Appends the next chunk of the file.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        self.plaintext.update(chunk);
        self.encoder.write_all(chunk)?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Plaintext bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes the zstd frame and the age stream.
    pub fn finish(self) -> Result<SealedBlob, StorageError> {
        let mut spool = self.encoder.finish()?.finish()?;
        spool.file.flush()?;
        spool.file.as_file_mut().rewind()?;
        Ok(SealedBlob {
            sha256: hex::encode(self.plaintext.finalize()),
            size: self.size,
            stored_bytes: spool.len,
            stored_sha256: hex::encode(spool.hasher.finalize()),
            file: spool.file,
        })
    }
}

/// A finished blob waiting in a temporary file (deleted when this is dropped).
#[derive(Debug)]
pub struct SealedBlob {
    /// Lowercase hex sha256 of the file's contents: its identity in the blob store.
    pub sha256: String,
    /// The file's size.
    pub size: u64,
    /// The size of the sealed object.
    pub stored_bytes: u64,
    /// Lowercase hex sha256 of the sealed object, as verification re-reads it.
    pub stored_sha256: String,
    pub file: NamedTempFile,
}

/// The temporary file under the age writer, hashing the ciphertext on its way to disk.
struct HashingFile {
    file: NamedTempFile,
    hasher: Sha256,
    len: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AccountKey;
    use crate::part::{open_part, sha256_hex};
    use std::io::Read;

    fn seal(key: &AccountKey, chunks: &[&[u8]]) -> SealedBlob {
        let mut writer = BlobWriter::new(&key.recipient(), 3).expect("writer");
        for chunk in chunks {
            writer.write(chunk).expect("write");
        }
        writer.finish().expect("finish")
    }

    #[test]
    fn blob_round_trips_and_is_named_by_its_plaintext() {
        let key = AccountKey::generate();
        let contents: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let chunks: Vec<&[u8]> = contents.chunks(7_919).collect();
        let mut blob = seal(&key, &chunks);
        assert_eq!(blob.sha256, sha256_hex(&contents));
        assert_eq!(blob.size, contents.len() as u64);
        let mut sealed = Vec::new();
        blob.file.read_to_end(&mut sealed).expect("read spool");
        assert_eq!(sealed.len() as u64, blob.stored_bytes);
        assert_eq!(blob.stored_sha256, sha256_hex(&sealed));
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        assert!(open_part(key.identity(), &sealed).expect("open") == contents);
    }

    #[test]
    fn the_same_contents_in_other_chunks_is_the_same_blob() {
        let key = AccountKey::generate();
        let a = seal(&key, &[b"hello ", b"world"]);
        let b = seal(&key, &[b"hel", b"lo wor", b"ld"]);
        assert_eq!(a.sha256, b.sha256);
        let empty = seal(&key, &[]);
        assert_eq!(empty.size, 0);
        assert_eq!(empty.sha256, sha256_hex(b""));
    }
}
