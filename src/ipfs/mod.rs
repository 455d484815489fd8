//! IPFS: a model directory named by a CID, read from trustless gateways block by block,
//! each block verified against its CID before a byte of it is used; and the CID a set of
//! stored files would get, so a model loaded from anywhere can be shared by content.
//!
//! This is the plain-Rust core (parsing, verification, walking the DAG, building it);
//! `web::ipfs_fetch` drives it over the network.

pub mod block;
pub mod build;
pub mod car;
pub mod dir;
pub mod file;
pub mod unixfs;

pub use block::{parse_cid, verify, Block, MAX_BLOCK};
pub use cid::Cid;
