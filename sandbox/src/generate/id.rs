//! Object ids that encode their record index, so a cursor resolves in O(1).
//!
//! An id is `prefix + tag + body`, all base62 after the prefix
//! (`cus_` + 5 + 11 characters, like Stripe's 14-24). The body is the index run
//! through a 4-round Feistel network keyed by `(seed, stream)`: a bijection, so
//! it decodes exactly, yet consecutive indices look unrelated. The tag is a keyed
//! checksum of the index, so an id minted by another seed or stream (or typed by
//! hand) is rejected instead of silently naming some other record.

use super::{index_hash, mix64};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TAG_LEN: usize = 5;
/// 62^11 > 2^64, so every index fits.
const BODY_LEN: usize = 11;
const TAG_MODULUS: u64 = 62u64.pow(TAG_LEN as u32);
const ROUNDS: u64 = 4;
/// Keeps the tag independent of the Feistel round keys derived from the same key.
const TAG_SALT: u64 = 0x7a67_5f63_6865_636b;

/// Encodes and decodes the ids of one stream of one sandbox seed.
#[derive(Clone, Debug)]
pub(crate) struct IdCodec {
    prefix: &'static str,
    key: u64,
}

impl IdCodec {
    /// `prefix` includes the separator, e.g. `"cus_"`; `key` comes from `namespace_key`.
    pub(crate) fn new(prefix: &'static str, key: u64) -> Self {
        Self { prefix, key }
    }

    pub(crate) fn encode(&self, index: u64) -> String {
        let mut id = String::with_capacity(self.prefix.len() + TAG_LEN + BODY_LEN);
        id.push_str(self.prefix);
        push_base62(&mut id, self.tag(index), TAG_LEN);
        push_base62(&mut id, self.scramble(index), BODY_LEN);
        id
    }

    /// The index an id encodes, or `None` for anything this codec did not mint.
    pub(crate) fn decode(&self, id: &str) -> Option<u64> {
        let rest = id.strip_prefix(self.prefix)?;
        // ASCII first, so the byte-length check and `split_at` cannot cut a character.
        if !rest.is_ascii() || rest.len() != TAG_LEN + BODY_LEN {
            return None;
        }
        let (tag, body) = rest.split_at(TAG_LEN);
        let index = self.unscramble(parse_base62(body)?);
        (parse_base62(tag)? == self.tag(index)).then_some(index)
    }

    fn tag(&self, index: u64) -> u64 {
        index_hash(self.key ^ TAG_SALT, index) % TAG_MODULUS
    }

    fn round(&self, round: u64, half: u32) -> u32 {
        let mixed = mix64(self.key ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(half));
        (mixed >> 32) as u32
    }

    fn scramble(&self, index: u64) -> u64 {
        let (mut left, mut right) = ((index >> 32) as u32, index as u32);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right));
        }
        (u64::from(left) << 32) | u64::from(right)
    }

    fn unscramble(&self, scrambled: u64) -> u64 {
        let (mut left, mut right) = ((scrambled >> 32) as u32, scrambled as u32);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left), left);
        }
        (u64::from(left) << 32) | u64::from(right)
    }
}

/// Appends `value` as exactly `width` base62 digits, most significant first.
fn push_base62(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; BODY_LEN];
    for slot in digits[..width].iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    debug_assert_eq!(value, 0, "value does not fit in {width} base62 digits");
    out.extend(digits[..width].iter().map(|&digit| char::from(digit)));
}

/// Parses base62 digits; `None` on a foreign character or a value past `u64::MAX`.
fn parse_base62(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |value, byte| {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'A'..=b'Z' => byte - b'A' + 10,
            b'a'..=b'z' => byte - b'a' + 36,
            _ => return None,
        };
        value.checked_mul(62)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::namespace_key;

    fn codec(seed: u64, stream: &str) -> IdCodec {
        IdCodec::new("cus_", namespace_key(seed, stream))
    }

    #[test]
    fn round_trips_small_large_and_extreme_indices() {
        let codec = codec(42, "stripe.customers");
        for index in (0..2_000).chain([9_999_999, u64::from(u32::MAX) + 1, u64::MAX - 1, u64::MAX])
        {
            let id = codec.encode(index);
            assert_eq!(id.len(), 4 + TAG_LEN + BODY_LEN, "{id}");
            assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            assert_eq!(codec.decode(&id), Some(index), "{id}");
        }
    }

    #[test]
    fn neighbouring_ids_look_unrelated() {
        let codec = codec(42, "stripe.customers");
        let (a, b) = (codec.encode(1000), codec.encode(1001));
        let shared = a.bytes().zip(b.bytes()).filter(|(x, y)| x == y).count();
        // Only the prefix and perhaps a coincidental digit or two are shared.
        assert!(shared < 4 + 4, "{a} vs {b}");
    }

    #[test]
    fn ids_of_another_seed_or_stream_are_rejected() {
        let ours = codec(42, "stripe.customers");
        let other_seed = codec(43, "stripe.customers");
        let other_stream = codec(42, "stripe.products");
        for index in 0..500 {
            assert_eq!(ours.decode(&other_seed.encode(index)), None);
            assert_eq!(ours.decode(&other_stream.encode(index)), None);
        }
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let codec = codec(42, "stripe.customers");
        let valid = codec.encode(7);
        let mut cases = vec![
            String::new(),
            "cus_".into(),
            "cus".into(),
            "prod_abc".into(),
            "cus_0000000000000000".into(),
            "cus_zzzzzzzzzzzzzzzz".into(), // body past u64::MAX
            "cus_!!!!!!!!!!!!!!!!".into(),
            "cus_ééééééé++".into(), // 16 bytes of non-ASCII
            "cus_€€€€€1234".into(),
            format!("{valid}0"),
            valid[..valid.len() - 1].to_string(),
            valid.to_uppercase(),
            format!(" {valid}"),
        ];
        // Every single-character corruption of a valid id.
        for position in 4..valid.len() {
            let mut bytes = valid.clone().into_bytes();
            bytes[position] = if bytes[position] == b'x' { b'y' } else { b'x' };
            cases.push(String::from_utf8(bytes).unwrap());
        }
        for case in &cases {
            assert_eq!(codec.decode(case), None, "{case:?}");
        }
    }

    #[test]
    fn base62_parsing_guards_overflow() {
        assert_eq!(parse_base62("0"), Some(0));
        assert_eq!(parse_base62("z"), Some(61));
        assert_eq!(parse_base62("LygHa16AHYF"), Some(u64::MAX));
        assert_eq!(parse_base62("LygHa16AHYG"), None);
    }
}
