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

/// Parses a CID as users and links write it: CIDv0 (`Qm…`, base58btc) or CIDv1 in
/// base32 (`b…`/`B…`), base58btc (`z…`) or base16 (`f…`/`F…`); the reason when it is
/// malformed or names a codec or hash the SDK does not read. (The multibase crate would
/// read every base there is, at a cost in wasm size no model source needs.)
pub fn parse_cid(s: &str) -> Result<Cid, String> {
    let bad = |why: &str| format!("not a CID ({why})");
    let bytes = if s.len() == 46 && s.starts_with("Qm") {
        bs58::decode(s).into_vec().map_err(|_| bad("not base58btc"))?
    } else {
        let mut chars = s.chars();
        let (base, rest) = (chars.next(), chars.as_str());
        let decoded = match base {
            Some('b') => data_encoding::BASE32_NOPAD.decode(rest.to_ascii_uppercase().as_bytes()).ok(),
            Some('B') => data_encoding::BASE32_NOPAD.decode(rest.as_bytes()).ok(),
            Some('z') => bs58::decode(rest).into_vec().ok(),
            Some('f' | 'F') => data_encoding::HEXLOWER_PERMISSIVE.decode(rest.as_bytes()).ok(),
            _ => return Err(bad("not CIDv0, nor a multibase this SDK reads: b, B, z, f, F")),
        };
        decoded.ok_or_else(|| bad("its characters are not of its multibase"))?
    };
    let mut cursor = std::io::Cursor::new(&bytes[..]);
    let cid = Cid::read_bytes(&mut cursor).map_err(|e| bad(&e.to_string()))?;
    if cursor.position() as usize != bytes.len() {
        return Err(bad("bytes follow the CID"));
    }
    match unsupported(&cid) {
        Some(why) => Err(why),
        None => Ok(cid),
    }
}

/// A CID as IPFS writes it: CIDv0 in base58btc, CIDv1 in lower-case base32.
pub fn text(cid: &Cid) -> String {
    match cid.version() {
        cid::Version::V0 => bs58::encode(cid.hash().to_bytes()).into_string(),
        cid::Version::V1 => format!("b{}", data_encoding::BASE32_NOPAD.encode(&cid.to_bytes()).to_ascii_lowercase()),
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
        assert!(parse_cid(&text(&cbor)).unwrap_err().contains("codec 0x71"));
        let blake = Cid::new_v1(RAW, cid::multihash::Multihash::<64>::wrap(0xb220, &[0; 32]).unwrap());
        assert!(parse_cid(&text(&blake)).unwrap_err().contains("hash 0xb220"));
        // Each spelling round-trips, and agrees with the cid crate's own.
        for c in [v1, v0, id, cbor] {
            assert_eq!(text(&c), c.to_string());
            assert_eq!(parse_cid(&text(&c)).ok().or(Some(c)), Some(c));
        }
        let upper = format!("B{}", &text(&v1)[1..].to_ascii_uppercase());
        assert_eq!(parse_cid(&upper), Ok(v1));
        let hex = format!("f{}", data_encoding::HEXLOWER.encode(&v1.to_bytes()));
        assert_eq!(parse_cid(&hex), Ok(v1));
        let z = format!("z{}", bs58::encode(v1.to_bytes()).into_string());
        assert_eq!(parse_cid(&z), Ok(v1));
        assert!(parse_cid(&format!("{}aa", text(&v1))).is_err());
        assert!(verify(&v1, &vec![0; MAX_BLOCK + 1]).unwrap_err().contains("over the"));
    }
}
