//! One block and its CID: the codecs and hashes the SDK reads, the check every block
//! passes before it is used, and identity CIDs, whose bytes are the CID itself.

use cid::Cid;
use sha2::{Digest, Sha256};

/// The largest block accepted: the trustless gateway spec lets clients refuse larger
/// ones, and no import profile makes blocks near this size (1 MiB chunks at most).
pub const MAX_BLOCK: usize = 2 << 20;

pub const RAW: u64 = 0x55;
pub const DAG_PB: u64 = 0x70;
pub const SHA2_256: u64 = 0x12;
pub const IDENTITY: u64 = 0x00;

/// A verified block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub cid: Cid,
    pub bytes: Vec<u8>,
}

/// Why a CID names nothing the SDK can read (`None` when it can): UnixFS is dag-pb and
/// raw blocks, hashed with sha2-256 or inlined with identity.
pub fn unsupported(cid: &Cid) -> Option<String> {
    let codec = cid.codec();
    if codec != RAW && codec != DAG_PB {
        return Some(format!("codec 0x{codec:x} is not dag-pb (0x70) or raw (0x55)"));
    }
    let hash = cid.hash();
    match hash.code() {
        SHA2_256 if hash.size() == 32 => None,
        IDENTITY if hash.digest().len() <= MAX_BLOCK => None,
        code => Some(format!("hash 0x{code:x} of {} bytes is not sha2-256 (0x12) or identity (0x00)", hash.size())),
    }
}

/// Parses a CID as users and links write it: CIDv0 (`Qm…`) or CIDv1 in any multibase;
/// the reason when it is malformed or names a codec or hash the SDK does not read.
pub fn parse_cid(s: &str) -> Result<Cid, String> {
    let cid = Cid::try_from(s).map_err(|e| format!("not a CID ({e})"))?;
    match unsupported(&cid) {
        Some(why) => Err(why),
        None => Ok(cid),
    }
}

/// Checks `bytes` against `cid`: supported, at most `MAX_BLOCK`, and hashing to it.
/// The reason when it does not.
pub fn verify(cid: &Cid, bytes: &[u8]) -> Result<(), String> {
    if let Some(why) = unsupported(cid) {
        return Err(why);
    }
    if bytes.len() > MAX_BLOCK {
        return Err(format!("the block is {} bytes, over the {MAX_BLOCK} accepted", bytes.len()));
    }
    let hash = cid.hash();
    let ok = match hash.code() {
        SHA2_256 => Sha256::digest(bytes).as_slice() == hash.digest(),
        _ => hash.digest() == bytes,
    };
    if ok {
        Ok(())
    } else {
        Err("its bytes do not hash to its CID".into())
    }
}

/// The block an identity CID carries, which needs no fetching.
pub fn inline(cid: &Cid) -> Option<Vec<u8>> {
    (cid.hash().code() == IDENTITY).then(|| cid.hash().digest().to_vec())
}

/// The CIDv1 of `bytes` under `codec`, hashed with sha2-256.
pub fn cid_of(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    // A 32-byte digest always fits a multihash of 64 bytes.
    let mh = cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(codec, mh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_parse_and_blocks_verify() {
        // `ipfs add --cid-version 1 --raw-leaves` of "hello world".
        let v1 = parse_cid("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e").unwrap();
        assert_eq!(v1.codec(), RAW);
        assert_eq!(verify(&v1, b"hello world"), Ok(()));
        assert!(verify(&v1, b"hello world!").unwrap_err().contains("do not hash"));
        assert_eq!(cid_of(RAW, b"hello world"), v1);
        // The empty directory every IPFS implementation knows (CIDv0, dag-pb).
        let v0 = parse_cid("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn").unwrap();
        assert_eq!(v0.codec(), DAG_PB);
        assert_eq!(verify(&v0, &[0x0a, 0x02, 0x08, 0x01]), Ok(()));
        // Identity: the CID is its own block.
        let id = parse_cid("bafkqaaa").unwrap();
        assert_eq!(inline(&id), Some(vec![]));
        assert_eq!(verify(&id, b""), Ok(()));
        for bad in ["", "bafy", "Qm123", "zzzz", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5"] {
            assert!(parse_cid(bad).is_err(), "{bad}");
        }
        // dag-cbor (0x71) and blake2b-256 are well-formed CIDs the SDK does not read.
        let cbor = Cid::new_v1(0x71, *v1.hash());
        assert!(parse_cid(&cbor.to_string()).unwrap_err().contains("codec 0x71"));
        let blake = Cid::new_v1(RAW, cid::multihash::Multihash::<64>::wrap(0xb220, &[0; 32]).unwrap());
        assert!(parse_cid(&blake.to_string()).unwrap_err().contains("hash 0xb220"));
        assert!(verify(&v1, &vec![0; MAX_BLOCK + 1]).unwrap_err().contains("over the"));
    }
}
