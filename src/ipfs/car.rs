//! CARv1, the archive a trustless gateway answers with: read as a stream, each block
//! verified against its CID as soon as it is whole; and written, for `exportCar`.
//!
//! A CAR is a varint-prefixed dag-cbor header `{ roots, version: 1 }`, then sections of
//! varint length, CID, block bytes.

use super::block::text;
use super::block::{verify, Block, MAX_BLOCK};
use cid::Cid;

/// A header longer than this is not a gateway's (one root CID is under 100 bytes).
const MAX_HEADER: u64 = 64 << 10;

/// What goes wrong reading a CAR: its framing (`Malformed`), or a block that does not
/// verify (`Integrity`, naming the CID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarError {
    Malformed(String),
    Integrity { cid: String, reason: String },
}

/// Reads a CAR pushed to it piece by piece.
#[derive(Default)]
pub struct CarReader {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start.
    at: usize,
    header_read: bool,
}

/// A varint at the start of `b`: its value and length, `None` while incomplete.
fn varint(b: &[u8]) -> Result<Option<(u64, usize)>, CarError> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        return Err(CarError::Malformed("a section length is not a varint".into()));
    }
    Ok(None)
}

impl CarReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.space(bytes.len()).copy_from_slice(bytes);
    }

    /// Room for `n` more bytes, for the caller to fill in place (a piece of a response
    /// body copied straight in, rather than through a buffer of its own).
    pub fn space(&mut self, n: usize) -> &mut [u8] {
        // Read bytes go once they are half the buffer, or when growing would copy them
        // anyway: the buffer stays near one section plus a piece, not twice that.
        let grows = self.buf.len() + n > self.buf.capacity();
        if self.at > 0 && (self.at >= self.buf.len() / 2 || grows) {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        &mut self.buf[start..]
    }

    /// The next whole block, verified; `None` until more bytes arrive.
    pub fn next_block(&mut self) -> Result<Option<Block>, CarError> {
        let Some(b) = self.next_section()? else { return Ok(None) };
        verify(&b.cid, &b.bytes).map_err(|reason| CarError::Integrity { cid: text(&b.cid), reason })?;
        Ok(Some(b))
    }

    /// The next whole block NOT yet verified (the caller verifies it before any use, as
    /// the browser does with its own SHA-256); `None` until more bytes arrive.
    pub fn next_section(&mut self) -> Result<Option<Block>, CarError> {
        loop {
            let rest = &self.buf[self.at..];
            let Some((len, n)) = varint(rest)? else { return Ok(None) };
            let limit = if self.header_read { (MAX_BLOCK + 128) as u64 } else { MAX_HEADER };
            if len > limit {
                return Err(CarError::Malformed(if self.header_read {
                    format!("a block section of {len} bytes is over the {MAX_BLOCK} bytes a block may hold")
                } else {
                    format!("the header of {len} bytes is over the {limit} accepted")
                }));
            }
            let len = len as usize;
            if rest.len() < n + len {
                return Ok(None);
            }
            let section = &rest[n..n + len];
            self.at += n + len;
            if !self.header_read {
                // The header names the roots; the reader checks blocks against the CIDs it
                // asked for, so it needs only the version.
                check_header(section)?;
                self.header_read = true;
                continue;
            }
            let mut cursor = std::io::Cursor::new(section);
            let cid = Cid::read_bytes(&mut cursor).map_err(|e| CarError::Malformed(format!("a section's CID: {e}")))?;
            let bytes = section[cursor.position() as usize..].to_vec();
            return Ok(Some(Block { cid, bytes }));
        }
    }

    /// Bytes received and not yet read as a whole section.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.at
    }
}

/// The dag-cbor header must be a map holding `version: 1` (CARv2 starts with a pragma
/// whose version is 2).
fn check_header(h: &[u8]) -> Result<(), CarError> {
    // "version" as a CBOR text key, then the unsigned integer 1.
    let key = b"\x67version";
    let at = h.windows(key.len()).position(|w| w == key);
    match at.and_then(|i| h.get(i + key.len())) {
        Some(0x01) => Ok(()),
        Some(v) if *v <= 0x17 => Err(CarError::Malformed(format!("CAR version {v}, not 1"))),
        _ => Err(CarError::Malformed("the header has no version".into())),
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The header of a CARv1 with one root: dag-cbor `{ "roots": [root], "version": 1 }`
/// (keys in dag-cbor's order, shorter first), length-prefixed.
pub fn header(root: &Cid) -> Vec<u8> {
    let cid = root.to_bytes();
    let mut h = vec![0xa2, 0x65];
    h.extend_from_slice(b"roots");
    h.push(0x81);
    // Tag 42, then a byte string: a 0x00 prefix and the CID's bytes.
    h.extend_from_slice(&[0xd8, 0x2a]);
    let n = cid.len() + 1;
    if n < 24 {
        h.push(0x40 | n as u8);
    } else {
        h.extend_from_slice(&[0x58, n as u8]);
    }
    h.push(0x00);
    h.extend_from_slice(&cid);
    h.push(0x67);
    h.extend_from_slice(b"version");
    h.push(0x01);
    let mut out = Vec::with_capacity(h.len() + 2);
    put_varint(&mut out, h.len() as u64);
    out.extend_from_slice(&h);
    out
}

/// One block's section: length, CID, bytes.
pub fn section(cid: &Cid, bytes: &[u8]) -> Vec<u8> {
    let c = cid.to_bytes();
    let mut out = Vec::with_capacity(c.len() + bytes.len() + 10);
    put_varint(&mut out, (c.len() + bytes.len()) as u64);
    out.extend_from_slice(&c);
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::block::{cid_of, RAW};

    fn car(blocks: &[(&Cid, &[u8])]) -> Vec<u8> {
        let mut out = header(blocks[0].0);
        for (c, b) in blocks {
            out.extend(section(c, b));
        }
        out
    }

    #[test]
    fn reads_what_it_writes_in_any_pieces_and_refuses_a_flipped_byte() {
        let (a, b) = (vec![7u8; 3000], b"second".to_vec());
        let (ca, cb) = (cid_of(RAW, &a), cid_of(RAW, &b));
        let bytes = car(&[(&ca, &a), (&cb, &b)]);
        for piece in [1, 7, 4096] {
            let mut r = CarReader::default();
            let mut got = Vec::new();
            for p in bytes.chunks(piece) {
                r.push(p);
                while let Some(blk) = r.next_block().unwrap() {
                    got.push(blk);
                }
            }
            assert_eq!(got, vec![Block { cid: ca, bytes: a.clone() }, Block { cid: cb, bytes: b.clone() }]);
            assert_eq!(r.pending(), 0);
        }
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut r = CarReader::default();
        r.push(&bad);
        assert!(r.next_block().unwrap().is_some());
        assert!(matches!(r.next_block(), Err(CarError::Integrity { cid, .. }) if cid == cb.to_string()));
    }

    #[test]
    fn refuses_bad_framing() {
        let cid = cid_of(RAW, b"x");
        // CARv2's pragma has version 2.
        let mut v2 = header(&cid);
        let n = v2.len();
        v2[n - 1] = 0x02;
        let mut r = CarReader::default();
        r.push(&v2);
        assert_eq!(r.next_block(), Err(CarError::Malformed("CAR version 2, not 1".into())));
        let mut r = CarReader::default();
        r.push(&[0xff; 12]);
        assert!(matches!(r.next_block(), Err(CarError::Malformed(_))));
        // A section announcing a block over the limit is refused before it is buffered.
        let mut r = CarReader::default();
        r.push(&header(&cid));
        let mut big = Vec::new();
        put_varint(&mut big, (MAX_BLOCK + 1000) as u64);
        r.push(&big);
        assert!(matches!(r.next_block(), Err(CarError::Malformed(m)) if m.contains("over the")));
    }
}
