//! `ModelSource`: one parser for every form a model source takes, so that a malformed
//! one fails at once (`invalid_argument` naming it) instead of as a 404 later.

use crate::error::{Error, Result};
use crate::ipfs::block::text;
use crate::ipfs::{parse_cid, Cid};

/// The Hugging Face hub that `hf:` sources resolve against unless `hubUrl` says otherwise.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A base URL (absolute or relative to the page): each file is `{base}{name}`.
    Url(String),
    /// A hub repository at a revision: each file is
    /// `{hub}/{repo}/resolve/{revision}/{name}`, as the hub and its mirrors serve them.
    Hf { repo: String, revision: String },
    /// A UnixFS directory by CID (`ipfs://<cid>[/path]`, `/ipfs/<cid>[/path]` or a bare
    /// CID), with the path below it, segment by segment.
    Ipfs { cid: Cid, path: Vec<String> },
}

/// Characters a hub repository's owner or name may hold (the hub's own rule: letters,
/// digits, `-`, `_`, `.`; not starting or ending with `-` or `.`, no `--` or `..`).
fn hub_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 96
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
        && !s.contains("--")
        && !s.contains("..")
}

/// A revision: a branch, tag or commit (`main`, `v1.0`, `refs/pr/3`, a hex sha).
fn revision(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !s.split('/').any(|p| p.is_empty() || p == "." || p == "..")
}

impl ModelSource {
    /// Parses a source as `load` takes it; `op` names the call in errors.
    pub fn parse(op: &'static str, s: &str) -> Result<Self> {
        let bad = |why: &str| Error::arg(op, format!("'{s}' is not a model source: {why}"));
        let ipfs = s.strip_prefix("ipfs://").or_else(|| s.strip_prefix("/ipfs/"));
        // A bare CID has no '/', ':' or '.', which every relative URL to a model has.
        let bare = (!s.contains(['/', ':', '.']) && (s.starts_with("Qm") || s.starts_with("baf"))).then_some(s);
        if let Some(rest) = ipfs.or(bare) {
            let mut parts = rest.split('/');
            let cid = parse_cid(parts.next().unwrap_or_default()).map_err(|why| bad(&why))?;
            let path: Vec<String> = parts.filter(|p| !p.is_empty()).map(String::from).collect();
            if path.iter().any(|p| p == "." || p == ".." || p.contains(['?', '#', '%'])) {
                return Err(bad("a path below the CID may not hold '.', '..', '?', '#' or '%'"));
            }
            return Ok(ModelSource::Ipfs { cid, path });
        }
        let Some(rest) = s.strip_prefix("hf:") else {
            if s.trim().is_empty() {
                return Err(bad("it is empty"));
            }
            return Ok(ModelSource::Url(s.to_string()));
        };
        let (repo, rev) = match rest.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (rest, "main"),
        };
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || !parts.iter().all(|p| hub_name(p)) {
            return Err(bad(
                "hf: sources are hf:<owner>/<name>[@<revision>], each name letters, digits, '-', '_' or '.'",
            ));
        }
        if !revision(rev) {
            return Err(bad("the revision after '@' must be a branch, tag or commit"));
        }
        Ok(ModelSource::Hf { repo: repo.to_string(), revision: rev.to_string() })
    }

    /// The base URL the model's files are under (ending in `/` for a hub source); `hub`
    /// is the hub's URL (`DEFAULT_HUB` unless the load names another).
    pub fn base_url(&self, hub: &str) -> String {
        match self {
            ModelSource::Url(u) => u.clone(),
            ModelSource::Ipfs { .. } => self.key(hub),
            // A revision's slashes are one path segment on the hub (`refs%2Fpr%2F3`).
            ModelSource::Hf { repo, revision } => {
                format!("{}/{repo}/resolve/{}/", hub.trim_end_matches('/'), revision.replace('/', "%2F"))
            }
        }
    }
}

impl ModelSource {
    /// The key the weight store keeps the model under: its base URL with one trailing
    /// `/`, or `ipfs://<CIDv1>/<path>/` (one key for every spelling of the CID).
    pub fn key(&self, hub: &str) -> String {
        match self {
            ModelSource::Ipfs { cid, path } => {
                // v0 CIDs are dag-pb sha2-256, which v1 always expresses.
                let v1 = cid.into_v1().unwrap_or(*cid);
                let mut k = format!("ipfs://{}/", text(&v1));
                for p in path {
                    k.push_str(p);
                    k.push('/');
                }
                k
            }
            _ => normalize_base(&self.base_url(hub)),
        }
    }
}

/// `base` with exactly one trailing `/`, the form model sources are keyed by.
pub fn normalize_base(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

/// The trustless gateways CID sources are read through unless `gateways` says otherwise.
pub const DEFAULT_GATEWAYS: &[&str] = &["https://trustless-gateway.link", "https://ipfs.io"];

/// Checks the `gateways` option: at least one absolute http(s) URL, each without a path
/// beyond `/` (requests go to `{gateway}/ipfs/{cid}`).
pub fn check_gateways(op: &'static str, gateways: Vec<String>) -> Result<Vec<String>> {
    if gateways.is_empty() {
        return Err(Error::arg(op, "option gateways must list at least one gateway URL"));
    }
    for g in &gateways {
        if check_hub(op, g).is_err() || g.contains(['?', '#']) {
            return Err(Error::arg(op, format!("gateway '{g}' is not an absolute http(s) URL")));
        }
    }
    Ok(gateways)
}

/// Checks a hub URL (`hubUrl`): an absolute http(s) URL.
pub fn check_hub(op: &'static str, hub: &str) -> Result<()> {
    let ok = ["https://", "http://"].iter().any(|p| hub.strip_prefix(p).is_some_and(|h| !h.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(Error::arg(op, format!("hubUrl '{hub}' is not an absolute http(s) URL")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_sources_resolve_to_the_hub_layout() {
        let s = ModelSource::parse("load", "hf:sentence-transformers/all-MiniLM-L6-v2").unwrap();
        assert_eq!(
            s.base_url(DEFAULT_HUB),
            "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"
        );
        let s = ModelSource::parse("load", "hf:Xenova/dinov2-small@refs/pr/3").unwrap();
        assert_eq!(
            s.base_url("http://127.0.0.1:9/hub/"),
            "http://127.0.0.1:9/hub/Xenova/dinov2-small/resolve/refs%2Fpr%2F3/"
        );
        let s = ModelSource::parse("load", "hf:openai/whisper-tiny.en@5a1c2b0").unwrap();
        assert_eq!(s, ModelSource::Hf { repo: "openai/whisper-tiny.en".into(), revision: "5a1c2b0".into() });
        assert_eq!(ModelSource::parse("load", "/models/x/").unwrap().base_url(DEFAULT_HUB), "/models/x/");
        for bad in [
            "",
            "hf:",
            "hf:name-only",
            "hf:a/b/c",
            "hf:a//b",
            "hf:-a/b",
            "hf:a/b.",
            "hf:a--b/c",
            "hf:a/b@",
            "hf:a/b@x/../y",
            "hf:a/b@x y",
            "hf:a b/c",
            "hf:a/b?x=1",
            "hf:../b",
        ] {
            let e = ModelSource::parse("load", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_argument", "{bad}");
            assert!(e.to_string().contains(&format!("'{bad}'")), "{bad}: {e}");
        }
        assert!(check_hub("load", "http://127.0.0.1:8787/hub").is_ok());
        let v1 = "bafybeicztcuzmdq6klgr4x52h54i5tyyvbj66dpq5ysjedmkazyzib2jhi";
        for s in [format!("ipfs://{v1}"), format!("/ipfs/{v1}/"), v1.to_string()] {
            let src = ModelSource::parse("load", &s).unwrap();
            assert_eq!(src.key(DEFAULT_HUB), format!("ipfs://{v1}/"), "{s}");
        }
        let v0 =
            ModelSource::parse("load", "ipfs://QmWNMKrwnKMF4ohA3KA4oRZzK7w4T8Eu4VLjBtaPb6wRrX/models/minilm/").unwrap();
        assert_eq!(
            v0.key(DEFAULT_HUB),
            // As multiformats' `CID.parse(v0).toV1()` gives it.
            "ipfs://bafybeidxjuafyxz7xkusdhievbleowino2u52u27r4lg6sd3n4vh5qvgta/models/minilm/"
        );
        for bad in [
            "ipfs://",
            "ipfs://bafyoops",
            "/ipfs/Qm123/x",
            "bafybeicztcuzmdq6klgr4x52h54i5tyyvbj66dpq5ysjedmkazyzib2jh",
            "ipfs://bafybeicztcuzmdq6klgr4x52h54i5tyyvbj66dpq5ysjedmkazyzib2jhi/../x",
            // dag-cbor: a CID, but not UnixFS.
            "ipfs://bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje",
        ] {
            let e = ModelSource::parse("load", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_argument", "{bad}");
            assert!(e.to_string().contains(&format!("'{bad}'")), "{bad}: {e}");
        }
        for bad in ["", "huggingface.co", "ftp://x", "https://"] {
            assert_eq!(check_hub("load", bad).unwrap_err().code(), "invalid_argument", "{bad}");
        }
    }
}
