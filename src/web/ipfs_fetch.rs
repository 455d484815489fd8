//! A UnixFS directory read through IPFS trustless gateways: directories block by block
//! (`application/vnd.ipld.raw`), files as CARs of their DAG (`dag-scope=entity`, from a
//! byte offset with `entity-bytes`), every block verified before its bytes are used.
//! Gateways are tried in turn: one that fails (dead, 404, stalled, a CAR cut short) is
//! not asked again during the load and the read goes on from the bytes already verified;
//! one that sends a block that does not verify is reported and never trusted again in
//! the load. Only when every gateway has failed does the load fail.

use super::control::Control;
use super::fetch::{failed, open_with, report, Download};
use crate::error::{Error, Result};
use crate::ipfs::block::{inline, text, unsupported, SHA2_256};
use crate::ipfs::car::{CarError, CarReader};
use crate::ipfs::dir::{Lookup, Step};
use crate::ipfs::file::{Fed, FileReader};
use crate::ipfs::{verify, Cid, MAX_BLOCK};
use crate::weights::AlignedBuf;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};

const RAW: &str = "application/vnd.ipld.raw";
/// Depth-first with duplicates: the order a file's bytes come in, so they stream.
const CAR: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=y";

/// Reports a gateway that failed the load to `onProgress`, as `{ file, gateway, error,
/// reason }` beside the usual byte counts.
fn report_gateway(progress: Option<&js_sys::Function>, file: &str, gateway: &str, e: &Error) {
    if let Some(f) = progress {
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(&o, &k.into(), &v);
        };
        set("file", file.into());
        set("gateway", gateway.into());
        set("error", e.code().into());
        set("reason", e.to_string().into());
        let _ = f.call1(&JsValue::NULL, &o);
    }
}

/// The gateways of one load and which of them have failed it.
struct Gateways {
    urls: Vec<String>,
    failed: RefCell<Vec<bool>>,
    /// Why each failure happened, for the error when none is left.
    errors: RefCell<Vec<Error>>,
}

impl Gateways {
    fn next(&self) -> Option<usize> {
        self.failed.borrow().iter().position(|f| !f)
    }

    /// The error when no gateway is left: an integrity failure if any gateway sent bad
    /// bytes (the caller must know the content was tampered with), else the last.
    fn exhausted(&self, what: &str) -> Error {
        let errors = self.errors.borrow();
        if let Some(e) = errors.iter().find(|e| matches!(e, Error::Integrity { .. })) {
            return e.clone();
        }
        match errors.last() {
            Some(e) => e.clone(),
            None => failed(what, "no gateways to read it from (the gateways option is empty)"),
        }
    }
}

pub struct IpfsDir<'a> {
    root: Cid,
    path: &'a [String],
    gateways: Gateways,
    /// The directory under `root` at `path`, once resolved.
    dir: RefCell<Option<Cid>>,
    progress: Option<&'a js_sys::Function>,
    control: &'a Control,
}

impl<'a> IpfsDir<'a> {
    pub fn new(
        root: Cid,
        path: &'a [String],
        gateways: &[String],
        progress: Option<&'a js_sys::Function>,
        control: &'a Control,
    ) -> Self {
        let urls: Vec<String> = gateways.iter().map(|g| g.trim_end_matches('/').to_string()).collect();
        let gateways = Gateways { failed: RefCell::new(vec![false; urls.len()]), urls, errors: RefCell::default() };
        IpfsDir { root, path, gateways, dir: RefCell::new(None), progress, control }
    }

    /// `ipfs://<root>/<path>/<name>`, how errors name a file.
    pub fn url(&self, name: &str) -> String {
        let mut u = format!("ipfs://{}/", text(&self.root));
        for p in self.path {
            u.push_str(p);
            u.push('/');
        }
        u + name
    }

    /// Takes gateway `i` out of the load for `e`, reporting it.
    fn fail(&self, i: usize, file: &str, e: Error) {
        report_gateway(self.progress, file, &self.gateways.urls[i], &e);
        self.gateways.failed.borrow_mut()[i] = true;
        self.gateways.errors.borrow_mut().push(e);
    }

    /// One block, verified, from the first gateway that has it.
    async fn block(&self, cid: &Cid, file: &str) -> Result<Vec<u8>> {
        if let Some(b) = inline(cid) {
            return Ok(b);
        }
        while let Some(i) = self.gateways.next() {
            let gw = &self.gateways.urls[i];
            let url = format!("{gw}/ipfs/{}?format=raw", text(cid));
            let got = match open_with(&url, &[("Accept", RAW)], true, self.control).await {
                Ok(Some(d)) => read_block(d).await,
                Ok(None) => Err(failed(&url, "HTTP 404 Not Found (the gateway does not have the block)")),
                Err(e) => Err(e),
            };
            match got {
                Ok(bytes) => match verify_fast(cid, &bytes).await {
                    Ok(()) => return Ok(bytes),
                    Err(reason) => {
                        let e = Error::Integrity { cid: text(cid), gateway: gw.clone(), reason };
                        self.fail(i, file, e);
                    }
                },
                Err(e @ Error::Aborted(_)) => return Err(e),
                Err(e) => self.fail(i, file, e),
            }
        }
        Err(self.gateways.exhausted(&self.url(file)))
    }

    /// The directory the source names, its path followed from the root.
    async fn dir(&self) -> Result<Cid> {
        if let Some(d) = *self.dir.borrow() {
            return Ok(d);
        }
        let mut at = self.root;
        for (i, seg) in self.path.iter().enumerate() {
            let here = self.path[..=i].join("/");
            at = self.lookup(at, seg).await?.ok_or_else(|| {
                failed(&self.url(""), format!("the directory has no '{here}' (under {})", text(&self.root)))
            })?;
        }
        *self.dir.borrow_mut() = Some(at);
        Ok(at)
    }

    async fn lookup(&self, dir: Cid, name: &str) -> Result<Option<Cid>> {
        let mut l = Lookup::new(dir, name);
        let mut step = l.start();
        loop {
            step = match step {
                Step::Fetch(c) => {
                    let b = self.block(&c, name).await?;
                    l.step(&b).map_err(|(cid, reason)| Error::InvalidDag { cid, reason })?
                }
                Step::Found(c) => return Ok(Some(c)),
                Step::Missing => return Ok(None),
            }
        }
    }

    /// The CID of the file `name` in the directory (`1_Pooling/config.json` in a
    /// subdirectory); `None` when it has none.
    pub async fn find(&self, name: &str) -> Result<Option<Cid>> {
        let mut at = self.dir().await?;
        for seg in name.split('/') {
            match self.lookup(at, seg).await? {
                Some(c) => at = c,
                None => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// The file `name`'s bytes from `from` on, as they are verified.
    pub fn file(&'a self, cid: Cid, name: &'a str, from: u64) -> IpfsFile<'a> {
        IpfsFile { dir: self, cid, name, pos: from, reader: FileReader::new(cid, from), car: None, size: None }
    }

    /// The whole file `name`, or `None` for an optional file the directory lacks.
    pub async fn read(&self, name: &str, optional: bool) -> Result<Option<AlignedBuf>> {
        self.control.check()?;
        let Some(cid) = self.find(name).await? else {
            return if optional { Ok(None) } else { Err(self.missing(name)) };
        };
        let mut f = self.file(cid, name, 0);
        let mut buf = AlignedBuf::default();
        report(self.progress, name, 0, None);
        while let Some(piece) = f.next().await? {
            if buf.is_empty() {
                if let Some(total) = f.size() {
                    buf = AlignedBuf::with_capacity(total)?;
                }
            }
            buf.extend_from_slice(&piece)?;
            report(self.progress, name, buf.len() as u64, f.size());
        }
        Ok(Some(buf))
    }

    /// The error for a required file the directory does not have.
    pub fn missing(&self, name: &str) -> Error {
        failed(&self.url(name), format!("the directory has no '{name}'"))
    }
}

/// `verify`, with the platform's SHA-256 (WebCrypto's `crypto.subtle.digest`) where it
/// has one: several times faster than hashing in wasm, so checking every block costs a
/// load little. Elsewhere (an insecure context, say) the wasm hash.
async fn verify_fast(cid: &Cid, bytes: &[u8]) -> std::result::Result<(), String> {
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

/// A raw block's body, at most one byte over the limit (so `verify` can say it is over).
async fn read_block(mut d: Download) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(d.total.unwrap_or(0).min(MAX_BLOCK as u64) as usize);
    while let Some(piece) = d.next().await? {
        let take = (piece.length() as usize).min(MAX_BLOCK + 1 - out.len());
        let at = out.len();
        out.resize(at + take, 0);
        piece.subarray(0, take as u32).copy_to(&mut out[at..]);
        if out.len() > MAX_BLOCK {
            break;
        }
    }
    Ok(out)
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
    car: Option<(usize, String, Download, CarReader)>,
    size: Option<u64>,
}

impl IpfsFile<'_> {
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
            let Some((i, url, d, car)) = &mut self.car else {
                let Some(i) = dir.gateways.next() else {
                    return Err(dir.gateways.exhausted(&dir.url(self.name)));
                };
                let range = if self.pos > 0 { format!("&entity-bytes={}:*", self.pos) } else { String::new() };
                let url =
                    format!("{}/ipfs/{}?format=car&dag-scope=entity{range}", dir.gateways.urls[i], text(&self.cid));
                match open_with(&url, &[("Accept", CAR)], true, dir.control).await {
                    Ok(Some(d)) => {
                        self.reader = FileReader::new(self.cid, self.pos);
                        self.car = Some((i, url, d, CarReader::default()));
                    }
                    Ok(None) => dir.fail(i, self.name, failed(&url, "HTTP 404 Not Found")),
                    Err(e @ Error::Aborted(_)) => return Err(e),
                    Err(e) => dir.fail(i, self.name, e),
                }
                continue;
            };
            let (i, gw) = (*i, dir.gateways.urls[*i].clone());
            let piece = match d.next().await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    let missing = self.reader.next_cid().map(text).unwrap_or_default();
                    let why = format!("the CAR ended at byte {} of the file, before block {missing}", self.pos);
                    let e = failed(url, why);
                    self.car = None;
                    dir.fail(i, self.name, e);
                    continue;
                }
                Err(e @ Error::Aborted(_)) => return Err(e),
                Err(e) => {
                    self.car = None;
                    dir.fail(i, self.name, e);
                    continue;
                }
            };
            car.push(&piece.to_vec());
            let mut out = Vec::new();
            let mut broken = None;
            loop {
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
                            break;
                        }
                    },
                    Ok(None) => break,
                    Err(CarError::Integrity { cid, reason }) => {
                        broken = Some(Error::Integrity { cid, gateway: gw.clone(), reason });
                        break;
                    }
                    Err(CarError::Malformed(reason)) => {
                        let cid = text(&self.cid);
                        broken = Some(Error::Integrity { cid, gateway: gw.clone(), reason });
                        break;
                    }
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
