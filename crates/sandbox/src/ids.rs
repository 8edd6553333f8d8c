//! Ids with nothing readable in them, as the real services hand out: 32 hex digits, made
//! deterministically from what they name, so a scenario replays with the same ids.

/// One step of SplitMix64: every bit of `x` stirs every bit of the result.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 32 hex digits from `seed`.
pub(crate) fn hex128(seed: u64) -> String {
    let high = splitmix64(seed);
    let low = splitmix64(high ^ seed.rotate_left(32));
    format!("{high:016x}{low:016x}")
}

/// 32 hex digits standing for `parts` (an execution's node attempt, a record): the same parts
/// give the same id, and no part can be read back from it.
pub(crate) fn opaque(parts: &[&str]) -> String {
    // FNV-1a over the parts, each ended by a byte no id holds, then stirred.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hex128(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_stable_and_distinct() {
        let id = opaque(&["exec-1", "migrate", "2"]);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, opaque(&["exec-1", "migrate", "2"]));
        assert_ne!(id, opaque(&["exec-1", "migrate", "3"]));
        assert_ne!(opaque(&["ab", "c"]), opaque(&["a", "bc"]));
        assert!(!id.contains("migrate"));
        assert_ne!(hex128(1), hex128(2));
    }
}
