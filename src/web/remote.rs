//! Where a load's files come from: a base URL over HTTP(S), or a UnixFS directory by CID
//! read through trustless gateways (`ipfs_fetch`).

use super::control::Control;
use super::ipfs_fetch::IpfsDir;
use crate::ipfs::Cid;
use crate::source::{ModelSource, DEFAULT_HUB};

pub enum Remote {
    /// Files at `{base}{name}`; `base` ends in `/`.
    Http {
        base: String,
    },
    Ipfs {
        root: Cid,
        path: Vec<String>,
        gateways: Vec<String>,
    },
}

impl Remote {
    /// The remote of `source`, with the hub `hub` for `hf:` sources and `gateways` for
    /// CIDs.
    pub fn new(source: ModelSource, hub: &str, gateways: &[String]) -> Remote {
        match source {
            ModelSource::Ipfs { cid, path } => Remote::Ipfs { root: cid, path, gateways: gateways.to_vec() },
            s => Remote::Http { base: s.key(hub) },
        }
    }

    /// The weight store's key for the model (`ModelSource::key`).
    pub fn key(&self) -> String {
        match self {
            Remote::Http { base } => base.clone(),
            Remote::Ipfs { root, path, .. } => ModelSource::Ipfs { cid: *root, path: path.clone() }.key(DEFAULT_HUB),
        }
    }

    /// The directory reader of an IPFS remote (one per load: it remembers which gateways
    /// failed it).
    pub fn ipfs<'a>(&'a self, progress: Option<&'a js_sys::Function>, control: &'a Control) -> Option<IpfsDir<'a>> {
        match self {
            Remote::Ipfs { root, path, gateways } => Some(IpfsDir::new(*root, path, gateways, progress, control)),
            Remote::Http { .. } => None,
        }
    }
}
