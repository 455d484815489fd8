//! The DAG the `unixfs-v1-2025` import profile makes of a set of files, so that the
//! store can name a model by the CID any conforming importer gives the same files:
//! CIDv1, raw leaves of 1 MiB, balanced trees of up to 1024 links per node, the files
//! wrapped in one directory.

use super::block::{cid_of, DAG_PB, RAW};
use super::unixfs::{Data, Kind};
use cid::Cid;
use ipld_dagpb::{PbLink, PbNode};
use std::collections::BTreeMap;

pub const CHUNK: usize = 1 << 20;
pub const MAX_LINKS: usize = 1024;

/// A built file or node: its CID, the bytes of file it holds, and the bytes of the DAG
/// under it (a link's `Tsize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    pub cid: Cid,
    pub file_size: u64,
    pub dag_size: u64,
}

/// Builds one file's DAG, handing each block to `emit` (leaves before the nodes above
/// them).
pub fn file(bytes: &[u8], emit: &mut dyn FnMut(&Cid, &[u8])) -> Built {
    let mut level: Vec<Built> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(CHUNK).collect() }
        .into_iter()
        .map(|leaf| {
            let cid = cid_of(RAW, leaf);
            emit(&cid, leaf);
            Built { cid, file_size: leaf.len() as u64, dag_size: leaf.len() as u64 }
        })
        .collect();
    // A file of one chunk is its leaf.
    while level.len() > 1 {
        level = level.chunks(MAX_LINKS).map(|children| node(children, emit)).collect();
    }
    level[0]
}

fn node(children: &[Built], emit: &mut dyn FnMut(&Cid, &[u8])) -> Built {
    let sizes: Vec<u64> = children.iter().map(|c| c.file_size).collect();
    let file_size = sizes.iter().sum();
    let data = Data { filesize: Some(file_size), blocksizes: sizes, ..Data::new(Kind::File) };
    let links = children.iter().map(|c| PbLink { cid: c.cid, name: Some(String::new()), size: Some(c.dag_size) });
    let bytes = PbNode { links: links.collect(), data: Some(data.encode().into()) }.into_bytes();
    let cid = cid_of(DAG_PB, &bytes);
    emit(&cid, &bytes);
    let dag_size = bytes.len() as u64 + children.iter().map(|c| c.dag_size).sum::<u64>();
    Built { cid, file_size, dag_size }
}

/// The directory wrapping `entries` (name, built file or directory); its block goes to
/// `emit`.
pub fn directory(entries: &[(String, Built)], emit: &mut dyn FnMut(&Cid, &[u8])) -> Built {
    let links = entries.iter().map(|(name, b)| PbLink { cid: b.cid, name: Some(name.clone()), size: Some(b.dag_size) });
    // `into_bytes` sorts the links by name, as dag-pb requires.
    let bytes = PbNode { links: links.collect(), data: Some(Data::new(Kind::Directory).encode().into()) }.into_bytes();
    let cid = cid_of(DAG_PB, &bytes);
    emit(&cid, &bytes);
    let dag_size = bytes.len() as u64 + entries.iter().map(|(_, b)| b.dag_size).sum::<u64>();
    Built { cid, file_size: 0, dag_size }
}

/// The directory tree of files named by their paths (`1_Pooling/config.json`), each
/// subdirectory built before the directory that links it.
pub fn tree(files: &[(String, Built)], emit: &mut dyn FnMut(&Cid, &[u8])) -> Built {
    let mut here = Vec::new();
    let mut subdirs: BTreeMap<&str, Vec<(String, Built)>> = BTreeMap::new();
    for (path, b) in files {
        match path.split_once('/') {
            Some((dir, rest)) => subdirs.entry(dir).or_default().push((rest.to_string(), *b)),
            None => here.push((path.clone(), *b)),
        }
    }
    for (dir, inner) in subdirs {
        here.push((dir.to_string(), tree(&inner, emit)));
    }
    directory(&here, emit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::block::Block;
    use crate::ipfs::dir::tests::find;
    use crate::ipfs::file::FileReader;
    use std::collections::HashMap;

    #[test]
    fn what_it_builds_reads_back() {
        let mut blocks = HashMap::new();
        let mut emit = |c: &Cid, b: &[u8]| {
            blocks.insert(*c, b.to_vec());
        };
        let small = file(b"{\"a\":1}", &mut emit);
        assert_eq!(small.cid.codec(), RAW);
        let big_bytes: Vec<u8> = (0..(2 * CHUNK + 77)).map(|i| (i * 31 % 251) as u8).collect();
        let big = file(&big_bytes, &mut emit);
        assert_eq!((big.cid.codec(), big.file_size), (DAG_PB, big_bytes.len() as u64));
        let files = [("model.safetensors".into(), big), ("1_Pooling/config.json".into(), small)];
        let root = tree(&files, &mut emit).cid;
        let pooling = find(&blocks, root, "1_Pooling").unwrap().unwrap();
        assert_eq!(find(&blocks, pooling, "config.json").unwrap(), Some(small.cid));
        let at = find(&blocks, root, "model.safetensors").unwrap().unwrap();
        let mut r = FileReader::new(at, 0);
        let mut got = Vec::new();
        while let Some(c) = r.next_cid().copied() {
            r.feed(Block { cid: c, bytes: blocks[&c].clone() }, &mut |p| got.extend_from_slice(p)).unwrap();
        }
        assert_eq!(got, big_bytes);
        // "hello world" alone is one raw leaf: the CID `ipfs add --raw-leaves` gives.
        let hello = file(b"hello world", &mut |_, _| {});
        assert_eq!(hello.cid.to_string(), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    }
}
