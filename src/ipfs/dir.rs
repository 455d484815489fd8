//! Finds a name in a UnixFS directory, plain or HAMT-sharded, one block at a time: the
//! caller fetches the block `Lookup` asks for and hands it back, so the same walk runs
//! over a gateway in the browser and over blocks in memory in tests.

use super::block::text;
use super::unixfs::{Kind, Node};
use cid::Cid;

/// murmur3-x64-64, the one hash UnixFS HAMTs use.
const MURMUR3_X64_64: u64 = 0x22;
/// A HAMT deeper than this would need more bits than the 64-bit hash has.
const MAX_DEPTH: usize = 64;

pub enum Step {
    /// Fetch this block and pass it to `Lookup::step`.
    Fetch(Cid),
    Found(Cid),
    /// The directory has no such entry.
    Missing,
}

/// Looking up one name under one directory.
pub struct Lookup {
    name: String,
    at: Cid,
    /// Bits of the name's hash used by the shards above.
    bits_used: u32,
    depth: usize,
}

/// The CID at fault and why.
pub type Invalid = (String, String);

impl Lookup {
    pub fn new(dir: Cid, name: &str) -> Lookup {
        Lookup { name: name.into(), at: dir, bits_used: 0, depth: 0 }
    }

    /// The block to fetch first.
    pub fn start(&self) -> Step {
        Step::Fetch(self.at)
    }

    /// Takes the verified block last asked for.
    pub fn step(&mut self, bytes: &[u8]) -> Result<Step, Invalid> {
        let at = text(&self.at);
        let bad = |why: String| (at.clone(), why);
        let node = Node::read(&self.at, bytes).map_err(bad)?;
        match node.data.kind {
            Kind::Directory => {
                let hit = node.links.iter().find(|l| l.name.as_deref() == Some(self.name.as_str()));
                Ok(hit.map_or(Step::Missing, |l| Step::Found(l.cid)))
            }
            Kind::HamtShard => self.shard(&node).map_err(bad),
            k if self.depth == 0 => Err(bad(format!("it is {}, not a directory", k.name()))),
            k => Err(bad(format!("a HAMT shard links to {}", k.name()))),
        }
    }

    fn shard(&mut self, node: &Node) -> Result<Step, String> {
        let d = &node.data;
        if d.hash_type != Some(MURMUR3_X64_64) {
            return Err(format!("its HAMT hash {:?} is not murmur3-x64-64 (0x22)", d.hash_type));
        }
        let fanout = d.fanout.unwrap_or(0);
        if !fanout.is_power_of_two() || !(2..=1024).contains(&fanout) {
            return Err(format!("its HAMT fanout {fanout} is not a power of two up to 1024"));
        }
        let bits = fanout.trailing_zeros();
        // Link names start with the slot in upper-case hex, as wide as fanout - 1 is.
        let width = format!("{:X}", fanout - 1).len();
        // The bitfield is a big-endian integer with one bit per slot; each set bit has
        // exactly one link, in slot order.
        let set = |slot: u64| {
            let (byte, bit) = ((slot / 8) as usize, slot % 8);
            d.data.len() > byte && d.data[d.data.len() - 1 - byte] & (1 << bit) != 0
        };
        if d.data.len() as u64 > fanout.div_ceil(8) {
            return Err(format!("its HAMT bitfield is {} bytes, more than {fanout} slots need", d.data.len()));
        }
        let popcount: u32 = d.data.iter().map(|b| b.count_ones()).sum();
        if popcount as usize != node.links.len() {
            let n = node.links.len();
            return Err(format!("its HAMT bitfield marks {popcount} slots but it has {n} links (a corrupt bitfield)"));
        }
        let mut last = None;
        let mut slots = Vec::with_capacity(node.links.len());
        for l in &node.links {
            let name = l.name.as_deref().unwrap_or_default();
            let slot = name.get(..width).and_then(|p| u64::from_str_radix(p, 16).ok()).filter(|&s| s < fanout);
            let slot = slot.ok_or_else(|| format!("its HAMT link '{name}' does not start with a slot"))?;
            if !set(slot) || last.is_some_and(|p| p >= slot) {
                return Err(format!(
                    "its HAMT link '{name}' is in a slot the bitfield does not mark (a corrupt bitfield)"
                ));
            }
            last = Some(slot);
            slots.push((slot, &name[width..], l.cid));
        }
        if self.depth >= MAX_DEPTH || self.bits_used + bits > 64 {
            return Err("the HAMT is deeper than its 64-bit hash allows".into());
        }
        let hash = murmur3::murmur3_x64_128(&mut self.name.as_bytes(), 0).unwrap_or_default() as u64;
        let slot = (hash << self.bits_used) >> (64 - bits);
        self.bits_used += bits;
        self.depth += 1;
        match slots.iter().find(|(s, _, _)| *s == slot) {
            None => Ok(Step::Missing),
            // A link that is only the slot is a sub-shard.
            Some((_, "", cid)) => {
                self.at = *cid;
                Ok(Step::Fetch(*cid))
            }
            Some((_, rest, cid)) if *rest == self.name => Ok(Step::Found(*cid)),
            Some(_) => Ok(Step::Missing),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ipfs::block::{cid_of, DAG_PB, RAW};
    use crate::ipfs::unixfs::Data;
    use ipld_dagpb::{PbLink, PbNode};
    use std::collections::HashMap;

    /// Runs a lookup over blocks held in memory.
    pub fn find(blocks: &HashMap<Cid, Vec<u8>>, dir: Cid, name: &str) -> Result<Option<Cid>, Invalid> {
        let mut l = Lookup::new(dir, name);
        let mut step = l.start();
        loop {
            step = match step {
                Step::Fetch(c) => l.step(&blocks[&c])?,
                Step::Found(c) => return Ok(Some(c)),
                Step::Missing => return Ok(None),
            }
        }
    }

    fn link(cid: Cid, name: &str) -> PbLink {
        PbLink { cid, name: Some(name.into()), size: Some(1) }
    }

    fn put(blocks: &mut HashMap<Cid, Vec<u8>>, links: Vec<PbLink>, data: Data) -> Cid {
        let b = PbNode { links, data: Some(data.encode().into()) }.into_bytes();
        let c = cid_of(DAG_PB, &b);
        blocks.insert(c, b);
        c
    }

    fn slot(name: &str) -> u64 {
        (murmur3::murmur3_x64_128(&mut name.as_bytes(), 0).unwrap() as u64) >> 56
    }

    #[test]
    fn finds_names_in_plain_and_sharded_directories() {
        let mut blocks = HashMap::new();
        let file = cid_of(RAW, b"{}");
        blocks.insert(file, b"{}".to_vec());
        let plain = put(&mut blocks, vec![link(file, "config.json")], Data::new(Kind::Directory));
        assert_eq!(find(&blocks, plain, "config.json").unwrap(), Some(file));
        assert_eq!(find(&blocks, plain, "model.safetensors").unwrap(), None);
        // A one-level shard of fanout 256 holding "config.json" in its slot.
        let s = slot("config.json");
        let mut bitfield = vec![0u8; 32];
        bitfield[31 - (s / 8) as usize] |= 1 << (s % 8);
        let shard =
            Data { data: bitfield.clone(), hash_type: Some(0x22), fanout: Some(256), ..Data::new(Kind::HamtShard) };
        let name = format!("{s:02X}config.json");
        let hamt = put(&mut blocks, vec![link(file, &name)], shard.clone());
        assert_eq!(find(&blocks, hamt, "config.json").unwrap(), Some(file));
        assert_eq!(find(&blocks, hamt, "tokenizer.json").unwrap(), None);
        // The same shard with its bit moved: the bitfield no longer matches the link.
        let mut corrupt = shard.clone();
        corrupt.data[31 - (s / 8) as usize] ^= 1 << (s % 8);
        corrupt.data[0] |= if s >= 248 { 1 } else { 0x80 };
        let bad = put(&mut blocks, vec![link(file, &name)], corrupt);
        assert!(find(&blocks, bad, "config.json").unwrap_err().1.contains("corrupt bitfield"));
        // A file where a directory is needed.
        let e = find(&blocks, file, "config.json").unwrap_err();
        assert!(e.1.contains("it is raw data, not a directory"), "{e:?}");
    }
}
