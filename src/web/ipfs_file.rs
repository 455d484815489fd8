//! One file of an IPFS directory read through its gateways: a CAR of its DAG from one
//! gateway at a time, each block verified (with the platform's SHA-256 where there is
//! one) before its bytes are used, restarted on the next gateway from the first byte not
//! yet verified when one fails.

use super::fetch::{failed, open_with, Download};
use super::ipfs_fetch::IpfsDir;
use crate::error::{Error, Result};
use crate::ipfs::block::{text, unsupported, SHA2_256};
use crate::ipfs::car::{CarError, CarReader};
use crate::ipfs::file::{Fed, FileReader};
use crate::ipfs::{verify, Cid, MAX_BLOCK};
use wasm_bindgen::{JsCast, JsValue};

/// The most bytes of a response copied into wasm memory at once.
pub const SLICE: u32 = 256 << 10;

/// Depth-first with duplicates: the order a file's bytes come in, so they stream.
const CAR: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=y";

/// `verify`, with the platform's SHA-256 (WebCrypto's `crypto.subtle.digest`) where it
/// has one: several times faster than hashing in wasm, so checking every block costs a
/// load little. Elsewhere (an insecure context, say) the wasm hash.
pub async fn verify_fast(cid: &Cid, bytes: &[u8]) -> std::result::Result<(), String> {
    if unsupported(cid).is_some() || bytes.len() > MAX_BLOCK || cid.hash().code() != SHA2_256 {
        return verify(cid, bytes);
    }
    match platform_sha256(bytes).await {
        Some(d) if d == cid.hash().digest() => Ok(()),
        Some(_) => Err("its bytes do not hash to its CID".into()),
        None => verify(cid, bytes),
    }
}

/// SHA-256 by `crypto.subtle`, or `None` where there is none (or it fails).
async fn platform_sha256(bytes: &[u8]) -> Option<Vec<u8>> {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok().filter(|v| !v.is_undefined());
    let subtle = get(&get(&js_sys::global(), "crypto")?, "subtle")?;
    let digest: js_sys::Function = get(&subtle, "digest")?.dyn_into().ok()?;
    // A copy: wasm memory may grow (and its views go stale) while the digest runs.
    let data = js_sys::Uint8Array::from(bytes);
    let p: js_sys::Promise = digest.call2(&subtle, &"SHA-256".into(), &data).ok()?.dyn_into().ok()?;
    let buf = wasm_bindgen_futures::JsFuture::from(p).await.ok()?;
    Some(js_sys::Uint8Array::new(&buf).to_vec())
}

/// One file being read: a CAR from one gateway at a time, restarted on the next gateway
/// from the first byte not yet verified when one fails.
pub struct IpfsFile<'a> {
    dir: &'a IpfsDir<'a>,
    cid: Cid,
    name: &'a str,
    /// Bytes of the file verified and handed out (or skipped by the caller) so far.
    pos: u64,
    reader: FileReader,
    /// The CAR being read: its gateway, URL, response and reader, and the rest of the
    /// response's last piece not yet copied in.
    car: Option<(usize, String, Download, CarReader, Option<js_sys::Uint8Array>)>,
    size: Option<u64>,
}

impl<'a> IpfsFile<'a> {
    pub fn new(dir: &'a IpfsDir<'a>, cid: Cid, name: &'a str, from: u64) -> Self {
        IpfsFile { dir, cid, name, pos: from, reader: FileReader::new(cid, from), car: None, size: None }
    }

    /// The file's size, once its root block has arrived.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The next verified bytes of the file; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        let dir = self.dir;
        loop {
            if self.reader.done() {
                return Ok(None);
            }
            let Some((i, url, d, car, rest)) = &mut self.car else {
                let Some(i) = dir.gateways.next() else {
                    return Err(dir.gateways.exhausted(&dir.url(self.name)));
                };
                let range = if self.pos > 0 { format!("&entity-bytes={}:*", self.pos) } else { String::new() };
                let url =
                    format!("{}/ipfs/{}?format=car&dag-scope=entity{range}", dir.gateways.urls[i], text(&self.cid));
                match open_with(&url, &[("Accept", CAR)], true, dir.control).await {
                    Ok(Some(d)) => {
                        self.reader = FileReader::new(self.cid, self.pos);
                        self.car = Some((i, url, d, CarReader::default(), None));
                    }
                    Ok(None) => dir.fail(i, self.name, failed(&url, "HTTP 404 Not Found")),
                    Err(e @ Error::Aborted(_)) => return Err(e),
                    Err(e) => dir.fail(i, self.name, e),
                }
                continue;
            };
            let (i, gw) = (*i, dir.gateways.urls[*i].clone());
            // The sections already buffered first, one block's bytes at a time (so no more
            // than a block waits in wasm memory); a piece from the network only when no
            // whole section is left.
            let mut out = Vec::new();
            let mut broken = None;
            let mut starved = false;
            while out.is_empty() && broken.is_none() && !starved {
                let next = match car.next_section() {
                    Ok(Some(b)) => match verify_fast(&b.cid, &b.bytes).await {
                        Ok(()) => Ok(Some(b)),
                        Err(reason) => Err(CarError::Integrity { cid: text(&b.cid), reason }),
                    },
                    other => other,
                };
                match next {
                    Ok(Some(b)) => match self.reader.feed(b, &mut |p| out.extend_from_slice(p)) {
                        Ok(()) => {}
                        Err(Fed::Invalid(cid, reason)) => return Err(Error::InvalidDag { cid, reason }),
                        Err(Fed::Missing(cid)) => {
                            let why = format!("block {cid} never came (dropped, or the CAR is out of order)");
                            broken = Some(failed(url, why));
                        }
                    },
                    Ok(None) => starved = true,
                    Err(CarError::Integrity { cid, reason }) => {
                        broken = Some(Error::Integrity { cid, gateway: gw.clone(), reason });
                    }
                    Err(CarError::Malformed(reason)) => {
                        let cid = text(&self.cid);
                        broken = Some(Error::Integrity { cid, gateway: gw.clone(), reason });
                    }
                }
            }
            // (`starved`: nothing came out and nothing broke.)
            if starved && !self.reader.done() {
                let piece = match rest.take() {
                    Some(p) => Ok(Some(p)),
                    None => d.next().await,
                };
                match piece {
                    Ok(Some(piece)) => {
                        // A browser may hand over many megabytes at once: they enter wasm
                        // memory a slice at a time, as the sections are taken.
                        let n = piece.length().min(SLICE);
                        piece.subarray(0, n).copy_to(car.space(n as usize));
                        if piece.length() > n {
                            *rest = Some(piece.subarray(n, piece.length()));
                        }
                        continue;
                    }
                    Ok(None) => {
                        let missing = self.reader.next_cid().map(text).unwrap_or_default();
                        let why = format!("the CAR ended at byte {} of the file, before block {missing}", self.pos);
                        broken = Some(failed(url, why));
                    }
                    Err(e @ Error::Aborted(_)) => return Err(e),
                    Err(e) => broken = Some(e),
                }
            }
            if self.size.is_none() {
                self.size = self.reader.size();
            }
            if let Some(e) = broken {
                self.car = None;
                dir.fail(i, self.name, e);
            }
            if !out.is_empty() {
                self.pos += out.len() as u64;
                return Ok(Some(out));
            }
        }
    }
}
