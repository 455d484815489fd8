//! A UnixFS directory read through IPFS trustless gateways: directories block by block
//! (`application/vnd.ipld.raw`), files as CARs of their DAG (`dag-scope=entity`, from a
//! byte offset with `entity-bytes`), every block verified before its bytes are used.
//! Gateways are tried in turn: one that fails (dead, 404, stalled, a CAR cut short) is
//! not asked again during the load and the read goes on from the bytes already verified;
//! one that sends a block that does not verify is reported and never trusted again in
//! the load. Only when every gateway has failed does the load fail.

use super::control::Control;
use super::fetch::{failed, open_with, report, Download};
use super::ipfs_file::{verify_fast, IpfsFile};
use super::sink::JsSink;
use crate::error::{Error, Result};
use crate::ipfs::block::{inline, text};
use crate::ipfs::dir::{Lookup, Step};
use crate::ipfs::{Cid, MAX_BLOCK};
use crate::weights::AlignedBuf;
use std::cell::RefCell;
use wasm_bindgen::JsValue;

const RAW: &str = "application/vnd.ipld.raw";

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
pub(super) struct Gateways {
    pub(super) urls: Vec<String>,
    failed: RefCell<Vec<bool>>,
    /// Why each failure happened, for the error when none is left.
    errors: RefCell<Vec<Error>>,
}

impl Gateways {
    pub(super) fn next(&self) -> Option<usize> {
        self.failed.borrow().iter().position(|f| !f)
    }

    /// The error when no gateway is left: an integrity failure if any gateway sent bad
    /// bytes (the caller must know the content was tampered with), else the last.
    pub(super) fn exhausted(&self, what: &str) -> Error {
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
    pub(super) gateways: Gateways,
    /// The directory under `root` at `path`, once resolved.
    dir: RefCell<Option<Cid>>,
    progress: Option<&'a js_sys::Function>,
    pub(super) control: &'a Control,
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
    pub(super) fn fail(&self, i: usize, file: &str, e: Error) {
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
        IpfsFile::new(self, cid, name, from)
    }

    /// The whole file `name`, or `None` for an optional file the directory lacks.
    pub async fn read(&self, name: &str, optional: bool) -> Result<Option<AlignedBuf>> {
        let mut buf = AlignedBuf::default();
        Ok(self.read_into(name, optional, &mut buf).await?.then_some(buf))
    }

    /// The file `name` into `sink`; `false` for an optional file the directory lacks.
    pub async fn read_into(&self, name: &str, optional: bool, sink: &mut dyn JsSink) -> Result<bool> {
        self.control.check()?;
        let Some(cid) = self.find(name).await? else {
            return if optional { Ok(false) } else { Err(self.missing(name)) };
        };
        let mut f = self.file(cid, name, 0);
        let mut sized = false;
        report(self.progress, name, 0, None);
        while let Some(piece) = f.next().await? {
            if let (false, Some(total)) = (sized, f.size()) {
                sink.sized(total)?;
                sized = true;
            }
            sink.put(&piece)?;
            report(self.progress, name, sink.received(), f.size());
        }
        Ok(true)
    }

    /// The error for a required file the directory does not have.
    pub fn missing(&self, name: &str) -> Error {
        failed(&self.url(name), format!("the directory has no '{name}'"))
    }
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
