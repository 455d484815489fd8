//! Content addresses: a chunk is keyed by the hex sha-256 of its bytes, and shown to users
//! as a CIDv1 (raw codec, sha2-256 multihash, base32 multibase) as IPFS would name it.

use sha2::{Digest, Sha256};

/// Files are cut into chunks of this many bytes (the last one shorter): big enough that a
/// 90 MB model is a few dozen IndexedDB records, small enough that a broken download loses
/// little and a chunk write never needs much memory.
pub const CHUNK_SIZE: usize = 4 << 20;

pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// The CIDv1 string of a chunk, from its hex sha-256 (`None` when that is not 32 bytes of hex).
pub fn cid(sha256_hex: &str) -> Option<String> {
    let digest = data_encoding::HEXLOWER_PERMISSIVE.decode(sha256_hex.as_bytes()).ok().filter(|d| d.len() == 32)?;
    // version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 (0x20) bytes.
    let mut bytes = vec![0x01, 0x55, 0x12, 0x20];
    bytes.extend_from_slice(&digest);
    Some(format!("b{}", data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_of_known_content() {
        // `ipfs add --cid-version 1 --raw-leaves` of "hello world" gives this CID.
        let h = sha256_hex(b"hello world");
        assert_eq!(h, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
        assert_eq!(cid(&h).unwrap(), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
        assert_eq!(cid("abc"), None);
    }
}
