//! Rollout buckets: a context's bucketing value is hashed as
//! `{salt}/{value}` with MurmurHash3 x86_32, seed 0, and the hash scaled to
//! the sum of the weights, so a bucket depends on the salt, the value and
//! the weights only, and every replica (and every local evaluator that
//! follows `message Flag`) puts a context in the same one.

use serde_json::Value;

use crate::flags::flag::Rollout;

/// MurmurHash3 x86_32 of `data` with `seed`.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut hash = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        hash ^= k;
        hash = hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (index, byte) in tail.iter().enumerate() {
            k |= u32::from(*byte) << (8 * index);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        hash ^= k;
    }
    // Inputs beyond 4 GiB never reach here; the length wraps as C's does.
    #[allow(clippy::cast_possible_truncation)]
    let length = data.len() as u32;
    hash ^= length;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// `{salt}/{value}`, the text a context is hashed as: a string value as it
/// is, numbers and booleans in their JSON spelling.
fn bucket_input(salt: &str, value: &Value) -> String {
    use std::fmt::Write;
    let mut input = String::with_capacity(salt.len() + 24);
    input.push_str(salt);
    input.push('/');
    match value {
        Value::String(text) => input.push_str(text),
        // Writing to a String cannot fail.
        other => {
            let _ = write!(input, "{other}");
        }
    }
    input
}

/// The variant `rollout` gives the context whose bucketing value is
/// `value`, for the flag `key`.
pub fn split<'r>(rollout: &'r Rollout, key: &str, value: &Value) -> Option<&'r str> {
    let salt = if rollout.salt.is_empty() {
        key
    } else {
        &rollout.salt
    };
    let input = bucket_input(salt, value);
    let total: u64 = rollout
        .weights
        .iter()
        .map(|(_, weight)| u64::from(*weight))
        .sum();
    let bucket = (u64::from(murmur3_32(input.as_bytes(), 0)) * total) >> 32;
    let mut cumulative = 0u64;
    rollout.weights.iter().find_map(|(variant, weight)| {
        cumulative += u64::from(*weight);
        (cumulative > bucket).then_some(variant.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_published_vectors() {
        // The verification vectors of the reference implementation, as
        // collected with SMHasher's and widely republished.
        let vectors: &[(&[u8], u32, u32)] = &[
            (b"", 0, 0),
            (b"", 1, 0x514E_28B7),
            (b"", 0xffff_ffff, 0x81F1_6F39),
            (b"\xff\xff\xff\xff", 0, 0x7629_3B50),
            (b"\x21\x43\x65\x87", 0, 0xF55B_516B),
            (b"\x21\x43\x65\x87", 0x5082_EDEE, 0x2362_F9DE),
            (b"\x21\x43\x65", 0, 0x7E4A_8634),
            (b"\x21\x43", 0, 0xA0F7_B07A),
            (b"\x21", 0, 0x7266_1CF4),
            (b"\0\0\0\0", 0, 0x2362_F9DE),
            (b"\0\0\0", 0, 0x85F0_B427),
            (b"\0\0", 0, 0x30F4_C306),
            (b"\0", 0, 0x514E_28B7),
            (b"aaaa", 0x9747_b28c, 0x5A97_808A),
            (b"abc", 0, 0xB3DD_93FA),
            (b"Hello, world!", 0x9747_b28c, 0x2488_4CBA),
            (
                b"The quick brown fox jumps over the lazy dog",
                0x9747_b28c,
                0x2FA8_26CD,
            ),
        ];
        for (input, seed, expected) in vectors {
            assert_eq!(
                murmur3_32(input, *seed),
                *expected,
                "{input:?} seed {seed:#x}"
            );
        }
    }

    #[test]
    fn the_bucket_is_the_documented_hash() {
        let rollout = Rollout {
            weights: vec![("a".into(), 1), ("b".into(), 1)],
            bucket_by: String::new(),
            salt: "s".into(),
        };
        for user in ["u1", "u2", "u3", "u4"] {
            let hash = u64::from(murmur3_32(format!("s/{user}").as_bytes(), 0));
            let expected = if (hash * 2) >> 32 < 1 { "a" } else { "b" };
            assert_eq!(
                split(&rollout, "ignored", &Value::from(user)),
                Some(expected)
            );
        }
    }
}
