//! UnixFS's `Data` message, the part of a dag-pb node that says what it is (file,
//! directory, HAMT shard) and how many bytes each child holds; and a dag-pb node read
//! with it.

use super::block::{DAG_PB, RAW};
use cid::Cid;
use ipld_dagpb::{PbLink, PbNode};
use quick_protobuf::{BytesReader, Writer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw,
    Directory,
    File,
    Metadata,
    Symlink,
    HamtShard,
}

impl Kind {
    fn from_code(c: u64) -> Option<Kind> {
        Some(match c {
            0 => Kind::Raw,
            1 => Kind::Directory,
            2 => Kind::File,
            3 => Kind::Metadata,
            4 => Kind::Symlink,
            5 => Kind::HamtShard,
            _ => return None,
        })
    }

    fn code(self) -> u64 {
        self as u64
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw data",
            Kind::Directory => "a directory",
            Kind::File => "a file",
            Kind::Metadata => "metadata",
            Kind::Symlink => "a symlink",
            Kind::HamtShard => "a HAMT-sharded directory",
        }
    }
}

/// The fields of `Data` the SDK reads and writes (mode and mtime are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub kind: Kind,
    pub data: Vec<u8>,
    pub filesize: Option<u64>,
    pub blocksizes: Vec<u64>,
    pub hash_type: Option<u64>,
    pub fanout: Option<u64>,
}

impl Data {
    pub fn new(kind: Kind) -> Data {
        Data { kind, data: Vec::new(), filesize: None, blocksizes: Vec::new(), hash_type: None, fanout: None }
    }

    pub fn decode(bytes: &[u8]) -> Result<Data, String> {
        let bad = |e: quick_protobuf::Error| format!("its UnixFS data does not parse: {e}");
        let mut r = BytesReader::from_bytes(bytes);
        let mut kind = None;
        let mut d = Data::new(Kind::Raw);
        while !r.is_eof() {
            let tag = r.next_tag(bytes).map_err(bad)?;
            match tag {
                8 => {
                    let c = r.read_uint64(bytes).map_err(bad)?;
                    kind = Some(Kind::from_code(c).ok_or_else(|| format!("UnixFS type {c} is unknown"))?);
                }
                18 => d.data = r.read_bytes(bytes).map_err(bad)?.to_vec(),
                24 => d.filesize = Some(r.read_uint64(bytes).map_err(bad)?),
                32 => d.blocksizes.push(r.read_uint64(bytes).map_err(bad)?),
                // Packed, as some writers encode a repeated field.
                34 => d.blocksizes.extend(r.read_packed(bytes, |r, b| r.read_uint64(b)).map_err(bad)?),
                40 => d.hash_type = Some(r.read_uint64(bytes).map_err(bad)?),
                48 => d.fanout = Some(r.read_uint64(bytes).map_err(bad)?),
                t => r.read_unknown(bytes, t).map_err(bad)?,
            }
        }
        d.kind = kind.ok_or("its UnixFS data has no Type")?;
        Ok(d)
    }

    /// Encoded as the JS and Go importers do: fields in order, an empty `Data` left out,
    /// `blocksizes` unpacked.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        // Writing into a Vec cannot fail.
        let _ = w.write_with_tag(8, |w| w.write_uint64(self.kind.code()));
        if !self.data.is_empty() {
            let _ = w.write_with_tag(18, |w| w.write_bytes(&self.data));
        }
        if let Some(s) = self.filesize {
            let _ = w.write_with_tag(24, |w| w.write_uint64(s));
        }
        for &s in &self.blocksizes {
            let _ = w.write_with_tag(32, |w| w.write_uint64(s));
        }
        if let Some(h) = self.hash_type {
            let _ = w.write_with_tag(40, |w| w.write_uint64(h));
        }
        if let Some(f) = self.fanout {
            let _ = w.write_with_tag(48, |w| w.write_uint64(f));
        }
        out
    }
}

/// A block read as UnixFS: a raw block is file bytes with no links.
pub struct Node {
    pub data: Data,
    pub links: Vec<PbLink>,
}

impl Node {
    /// Reads a verified block named by `cid`; the reason when it is not UnixFS.
    pub fn read(cid: &Cid, bytes: &[u8]) -> Result<Node, String> {
        match cid.codec() {
            RAW => Ok(Node { data: Data { data: bytes.to_vec(), ..Data::new(Kind::Raw) }, links: Vec::new() }),
            DAG_PB => {
                let pb = PbNode::from_bytes(bytes.to_vec().into()).map_err(|e| format!("it is not dag-pb: {e}"))?;
                let data = Data::decode(pb.data.as_deref().unwrap_or_default())?;
                Ok(Node { data, links: pb.links })
            }
            c => Err(format!("codec 0x{c:x} is not UnixFS")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_and_reads_packed_sizes() {
        let d = Data { blocksizes: vec![1 << 20, 300], filesize: Some((1 << 20) + 300), ..Data::new(Kind::File) };
        let bytes = d.encode();
        // Type 2, filesize, then each blocksize under its own tag.
        assert_eq!(&bytes[..2], &[0x08, 0x02]);
        assert_eq!(Data::decode(&bytes), Ok(d.clone()));
        let packed = [0x08, 0x02, 0x18, 0xac, 0x02, 0x22, 0x03, 0x80, 0x02, 0x2c];
        let p = Data::decode(&packed).unwrap();
        assert_eq!((p.filesize, p.blocksizes), (Some(300), vec![256, 44]));
        // The empty directory's data is `08 01`.
        assert_eq!(Data::new(Kind::Directory).encode(), vec![0x08, 0x01]);
        assert!(Data::decode(&[0x08, 0x09]).unwrap_err().contains("type 9"));
        assert!(Data::decode(&[0x12, 0x00]).unwrap_err().contains("no Type"));
        assert!(Data::decode(&[0x12, 0x05, 0x01]).is_err());
    }
}
