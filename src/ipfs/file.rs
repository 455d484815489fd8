//! Reads a UnixFS file from its blocks as they arrive, in the depth-first order a
//! trustless gateway sends them (or any order: blocks that come early wait, up to a
//! bound), emitting its bytes in order from a start offset. Each node's sizes are
//! checked against its children's, so a gateway cannot shift or pad a file whose blocks
//! all verify.

use super::block::text;
use super::block::Block;
use super::unixfs::{Kind, Node};
use cid::Cid;
use std::collections::HashMap;

/// Blocks that arrived before their turn are kept up to this many bytes; past that, the
/// block wanted is taken to be missing (a gateway asked for depth-first order that
/// skipped one).
const MAX_EARLY: usize = 8 << 20;

/// A block still to come, with where its bytes start in the file and how many it holds
/// (unknown for the root).
struct Want {
    cid: Cid,
    start: u64,
    len: Option<u64>,
}

pub struct FileReader {
    /// The blocks still wanted, the next on top.
    stack: Vec<Want>,
    /// The offset from which bytes are emitted (a resumed read skips what it has).
    from: u64,
    /// The file's size, once its root has arrived.
    size: Option<u64>,
    early: HashMap<Cid, Vec<u8>>,
    early_bytes: usize,
}

/// Why feeding a block failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// The blocks do not make a file: the CID at fault and the reason.
    Invalid(String, String),
    /// The block wanted next has not come while too many later ones have: the sender
    /// dropped it (or sends out of order).
    Missing(String),
}

impl FileReader {
    /// Reads the file `root` from byte `from` on.
    pub fn new(root: Cid, from: u64) -> FileReader {
        FileReader {
            stack: vec![Want { cid: root, start: 0, len: None }],
            from,
            size: None,
            early: HashMap::new(),
            early_bytes: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.stack.is_empty()
    }

    /// The block wanted next.
    pub fn next_cid(&self) -> Option<&Cid> {
        self.stack.last().map(|w| &w.cid)
    }

    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Takes a verified block; the file's bytes it (and any early blocks it unlocks)
    /// completes go to `out` in order. A block nobody wants (a duplicate) is dropped.
    pub fn feed(&mut self, block: Block, out: &mut dyn FnMut(&[u8])) -> Result<(), Fed> {
        let wanted = self.stack.last().is_some_and(|w| w.cid == block.cid);
        if !wanted {
            // Kept even when not yet known to be wanted: its parent may still be coming.
            if !self.early.contains_key(&block.cid) {
                self.early_bytes += block.bytes.len();
                if self.early_bytes > MAX_EARLY {
                    return Err(Fed::Missing(self.next_cid().map(text).unwrap_or_default()));
                }
                self.early.insert(block.cid, block.bytes);
            }
            return Ok(());
        }
        let mut bytes = block.bytes;
        loop {
            let Some(want) = self.stack.pop() else { return Ok(()) };
            self.take(want, &bytes, out)?;
            match self.stack.last().and_then(|w| self.early.remove(&w.cid)) {
                Some(b) => {
                    self.early_bytes -= b.len();
                    bytes = b;
                }
                None => return Ok(()),
            }
        }
    }

    fn take(&mut self, want: Want, bytes: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), Fed> {
        let bad = |why: String| Fed::Invalid(text(&want.cid), why);
        let node = Node::read(&want.cid, bytes).map_err(bad)?;
        if !matches!(node.data.kind, Kind::File | Kind::Raw) {
            return Err(bad(format!("it is {}, not a file", node.data.kind.name())));
        }
        if node.data.blocksizes.len() != node.links.len() {
            let (b, l) = (node.data.blocksizes.len(), node.links.len());
            return Err(bad(format!("it lists {b} block sizes for {l} links")));
        }
        let inline = node.data.data.len() as u64;
        let len = node.data.blocksizes.iter().try_fold(inline, |a, &b| a.checked_add(b));
        let len = len.ok_or_else(|| bad("its block sizes overflow".into()))?;
        if let Some(fs) = node.data.filesize.filter(|&fs| fs != len) {
            return Err(bad(format!("its filesize {fs} is not the {len} bytes its blocks hold")));
        }
        if let Some(l) = want.len.filter(|&l| l != len) {
            return Err(bad(format!("it holds {len} bytes where its parent says {l}")));
        }
        if self.size.is_none() {
            self.size = Some(len);
        }
        // Its own bytes first, then its children's in order.
        let skip = self.from.saturating_sub(want.start).min(inline) as usize;
        if skip < node.data.data.len() {
            out(&node.data.data[skip..]);
        }
        let mut start = want.start + inline;
        let mut children = Vec::new();
        for (link, &size) in node.links.iter().zip(&node.data.blocksizes) {
            // A child wholly before `from` is not fetched again (nor sent by a gateway
            // asked for `entity-bytes=from:*`).
            if start + size > self.from && size > 0 {
                children.push(Want { cid: link.cid, start, len: Some(size) });
            }
            start += size;
        }
        self.stack.extend(children.into_iter().rev());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::block::{cid_of, DAG_PB, RAW};
    use crate::ipfs::unixfs::Data;
    use ipld_dagpb::{PbLink, PbNode};

    /// A two-level file: a dag-pb root over three raw leaves.
    fn file(leaves: &[&[u8]], lie: Option<u64>) -> (Cid, Vec<Block>) {
        let blocks: Vec<Block> = leaves.iter().map(|l| Block { cid: cid_of(RAW, l), bytes: l.to_vec() }).collect();
        let sizes: Vec<u64> = leaves.iter().map(|l| l.len() as u64).collect();
        let total = sizes.iter().sum::<u64>();
        let data = Data { filesize: Some(lie.unwrap_or(total)), blocksizes: sizes.clone(), ..Data::new(Kind::File) };
        let links = blocks
            .iter()
            .zip(&sizes)
            .map(|(b, &s)| PbLink { cid: b.cid, name: Some(String::new()), size: Some(s) })
            .collect();
        let root = PbNode { links, data: Some(data.encode().into()) }.into_bytes();
        let rc = cid_of(DAG_PB, &root);
        let mut all = vec![Block { cid: rc, bytes: root }];
        all.extend(blocks);
        (rc, all)
    }

    fn read(root: Cid, from: u64, blocks: impl IntoIterator<Item = Block>) -> Result<(Vec<u8>, bool), Fed> {
        let mut r = FileReader::new(root, from);
        let mut got = Vec::new();
        for b in blocks {
            r.feed(b, &mut |p| got.extend_from_slice(p))?;
        }
        Ok((got, r.done()))
    }

    #[test]
    fn reads_in_order_out_of_order_and_from_an_offset() {
        let (root, blocks) = file(&[b"hello ", b"big ", b"world"], None);
        assert_eq!(read(root, 0, blocks.clone()).unwrap(), (b"hello big world".to_vec(), true));
        let mut shuffled = blocks.clone();
        shuffled.reverse();
        assert_eq!(read(root, 0, shuffled).unwrap(), (b"hello big world".to_vec(), true));
        // From byte 8: the first leaf is neither wanted nor needed.
        let resumed = vec![blocks[0].clone(), blocks[2].clone(), blocks[3].clone()];
        assert_eq!(read(root, 8, resumed).unwrap(), (b"g world".to_vec(), true));
        // A missing leaf leaves the read unfinished.
        assert_eq!(read(root, 0, blocks[..3].to_vec()).unwrap(), (b"hello big ".to_vec(), false));
    }

    #[test]
    fn a_block_that_never_comes_is_missing_once_later_ones_pile_up() {
        let leaves: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 1 << 20]).collect();
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let (root, blocks) = file(&refs, None);
        // The root, then every leaf but the first: the reader keeps 8 MiB of them waiting.
        let mut late = vec![blocks[0].clone()];
        late.extend(blocks[2..].iter().cloned());
        let e = read(root, 0, late).unwrap_err();
        assert_eq!(e, Fed::Missing(text(&blocks[1].cid)));
    }

    #[test]
    fn sizes_that_disagree_are_refused() {
        let (root, blocks) = file(&[b"ab", b"cd"], Some(5));
        assert!(matches!(read(root, 0, blocks), Err(Fed::Invalid(_, why)) if why.contains("filesize 5")));
        // A directory where a file is needed.
        let dir = PbNode { links: vec![], data: Some(Data::new(Kind::Directory).encode().into()) }.into_bytes();
        let dc = cid_of(DAG_PB, &dir);
        let e = read(dc, 0, [Block { cid: dc, bytes: dir }]).unwrap_err();
        assert!(matches!(&e, Fed::Invalid(_, why) if why.contains("a directory, not a file")), "{e:?}");
    }
}
