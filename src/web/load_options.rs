//! `LoadOptions`: the options every `load` (and `prefetch`) takes, read once from the JS
//! object, plus the model family's own (`F`, read by `FamilyOptions`): plain values
//! through serde-wasm-bindgen, JS objects (a callback, a signal, a store) as handles. An
//! unknown option, or one of the wrong type, is `invalid_argument` naming it.

use super::control::{signal_field, Control, DEFAULT_STALL_MS};
use super::options::check_known;
use super::remote::Remote;
use crate::backend::BackendKind;
use crate::error::{Error, Result};
use crate::models::{EmbedderOptions, Form, ImageOptions, Pooling, SpeechOptions, Truncation, WeightDtype};
use crate::source::{check_gateways, check_hub, ModelSource, DEFAULT_GATEWAYS, DEFAULT_HUB};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

/// Every option name every load knows, for the unknown-option check (serde-wasm-bindgen
/// reads only the fields a struct names, so `deny_unknown_fields` would never fire).
const KNOWN: &[&str] = &[
    "backend",
    "shaderVariant",
    "cache",
    "stallTimeoutMs",
    "onProgress",
    "store",
    "signal",
    "session",
    "hubUrl",
    "gateways",
];

/// The common options that are plain values.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Plain {
    backend: Option<String>,
    shader_variant: Option<String>,
    cache: Option<bool>,
    stall_timeout_ms: Option<f64>,
    hub_url: Option<String>,
    gateways: Option<Vec<String>>,
}

/// A model family's own load options: their names and how they are read.
pub trait FamilyOptions: Sized {
    const KNOWN: &'static [&'static str];
    fn from_js(op: &'static str, obj: &JsValue) -> Result<Self>;
    /// The form the model's weights are held in (`dtype`), for a family that has one.
    fn dtype(&self) -> Option<&WeightDtype> {
        None
    }
}

/// Plain fields of `obj` into `T`, naming the option of a wrong type.
fn plain_fields<T: DeserializeOwned>(op: &'static str, obj: &JsValue) -> Result<T> {
    serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(obj.clone())).map_err(|e| {
        let inner = e.inner().to_string();
        Error::arg(op, format!("option {}: {inner}", e.path()))
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TextPlain {
    pooling: Option<String>,
    normalize: Option<bool>,
    truncation: Option<String>,
    dtype: Option<DtypeOption>,
}

/// `dtype: 'q8'`, or `{ default: 'q4', keep: ['embeddings'] }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum DtypeOption {
    Name(String),
    Spec { default: String, keep: Option<Vec<String>> },
}

impl DtypeOption {
    fn parse(self) -> Result<WeightDtype> {
        Ok(match self {
            DtypeOption::Name(n) => WeightDtype::new(Form::parse(&n)?),
            DtypeOption::Spec { default, keep } => {
                WeightDtype { default: Form::parse(&default)?, keep: keep.unwrap_or_default() }
            }
        })
    }
}

impl FamilyOptions for EmbedderOptions {
    const KNOWN: &'static [&'static str] = &["pooling", "normalize", "truncation", "dtype"];
    fn dtype(&self) -> Option<&WeightDtype> {
        Some(&self.dtype)
    }
    fn from_js(op: &'static str, obj: &JsValue) -> Result<Self> {
        let p: TextPlain = plain_fields(op, obj)?;
        Ok(EmbedderOptions {
            pooling: p.pooling.as_deref().map(Pooling::parse).transpose()?,
            normalize: p.normalize,
            truncation: p.truncation.as_deref().map(Truncation::parse).transpose()?.unwrap_or_default(),
            dtype: p.dtype.map(DtypeOption::parse).transpose()?.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
struct ImagePlain {
    size: Option<f64>,
    dtype: Option<DtypeOption>,
}

impl FamilyOptions for ImageOptions {
    const KNOWN: &'static [&'static str] = &["size", "dtype"];
    fn dtype(&self) -> Option<&WeightDtype> {
        Some(&self.dtype)
    }
    fn from_js(op: &'static str, obj: &JsValue) -> Result<Self> {
        let p: ImagePlain = plain_fields(op, obj)?;
        let dtype = p.dtype.map(DtypeOption::parse).transpose()?.unwrap_or_default();
        let size = match p.size {
            None => None,
            Some(n) if n.fract() == 0.0 && (1.0..=4096.0).contains(&n) => Some(n as usize),
            Some(n) => {
                return Err(Error::arg(op, format!("option size {n} is not a whole number of pixels in 1..=4096")))
            }
        };
        Ok(ImageOptions { size, dtype })
    }
}

#[derive(Deserialize, Default)]
struct SpeechPlain {
    dtype: Option<DtypeOption>,
}

impl FamilyOptions for SpeechOptions {
    const KNOWN: &'static [&'static str] = &["dtype"];
    fn dtype(&self) -> Option<&WeightDtype> {
        Some(&self.dtype)
    }
    fn from_js(op: &'static str, obj: &JsValue) -> Result<Self> {
        let p: SpeechPlain = plain_fields(op, obj)?;
        Ok(SpeechOptions { dtype: p.dtype.map(DtypeOption::parse).transpose()?.unwrap_or_default() })
    }
}

/// No family options (`prefetch`'s own are read apart).
impl FamilyOptions for () {
    const KNOWN: &'static [&'static str] = &[];
    fn from_js(_: &'static str, _: &JsValue) -> Result<Self> {
        Ok(())
    }
}

/// Where a load's files are kept.
pub enum StoreChoice {
    /// `cache: false`: straight from the network.
    None,
    /// The default store (`ipfs-accelerate`), or none where IndexedDB does not exist.
    Default,
    /// A store named by `store` (a name, or an opened `WeightStore`'s name).
    Named(String),
}

pub struct LoadOptions<F> {
    /// `None` for "auto" (the JS facade resolves it with `recommend()` first).
    pub backend: Option<BackendKind>,
    /// A forced WebGPU shader variant ("tiled", "subgroup", "f16").
    pub shader_variant: Option<String>,
    /// The model family's own options.
    pub family: F,
    pub store: StoreChoice,
    pub progress: Option<js_sys::Function>,
    /// The caller's `signal` and the download stall limit.
    pub control: Control,
    /// The session the model joins: the one named, else the page's.
    pub session: crate::runtime::Session,
    /// The Hugging Face hub `hf:` sources resolve against.
    pub hub_url: String,
    /// The trustless gateways IPFS sources are read through, in order of preference.
    pub gateways: Vec<String>,
}

impl<F: FamilyOptions> LoadOptions<F> {
    /// Where the model `source` names is (`load`'s first argument: a URL,
    /// `hf:owner/name@revision` on the hub `hubUrl`, or a CID read through `gateways`).
    pub fn remote(&self, op: &'static str, source: &JsValue) -> Result<Remote> {
        let s = source.as_string().ok_or_else(|| Error::arg(op, "baseUrl must be a string"))?;
        Ok(Remote::new(ModelSource::parse(op, &s)?, &self.hub_url, &self.gateways))
    }

    /// Reads `opts` (an object, or `undefined`/`null` for the defaults) for `op`; `extra`
    /// names options the caller reads itself.
    pub fn from_js(op: &'static str, opts: &JsValue, extra: &[&str]) -> Result<Self> {
        if !(opts.is_undefined() || opts.is_null() || opts.is_object()) {
            return Err(Error::arg(op, "options must be an object"));
        }
        let obj = if opts.is_object() { opts.clone() } else { js_sys::Object::new().into() };
        let obj: &js_sys::Object = obj.unchecked_ref();
        let known: Vec<&str> = KNOWN.iter().chain(F::KNOWN).chain(extra).copied().collect();
        check_known(op, obj, &known)?;
        let plain: Plain = plain_fields(op, &JsValue::from(obj.clone()))?;
        let get = |key: &str| js_sys::Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED);
        let absent = |v: &JsValue| v.is_undefined() || v.is_null();

        let progress = match get("onProgress") {
            v if absent(&v) => None,
            v => Some(v.dyn_into().map_err(|_| Error::arg(op, "option onProgress must be a function"))?),
        };
        let signal = signal_field(op, obj)?;
        let stall = match plain.stall_timeout_ms {
            None => Some(DEFAULT_STALL_MS),
            Some(ms) if ms == 0.0 || ms == f64::INFINITY => None,
            Some(ms) if ms > 0.0 && ms.is_finite() => Some(ms),
            Some(_) => {
                return Err(Error::arg(
                    op,
                    "option stallTimeoutMs must be a positive number of milliseconds, 0 or Infinity",
                ))
            }
        };
        let store = match (plain.cache.unwrap_or(true), get("store")) {
            (false, _) => StoreChoice::None,
            (true, s) if absent(&s) => StoreChoice::Default,
            (true, s) => {
                let name = s
                    .as_string()
                    .or_else(|| js_sys::Reflect::get(&s, &"name".into()).ok().and_then(|n| n.as_string()))
                    .ok_or_else(|| Error::arg(op, "option store must be a WeightStore or a store name"))?;
                StoreChoice::Named(name)
            }
        };
        let family = F::from_js(op, &JsValue::from(obj.clone()))?;
        let hub_url = plain.hub_url.unwrap_or_else(|| DEFAULT_HUB.to_string());
        check_hub(op, &hub_url)?;
        // The load's own, else its session's, else the SDK's.
        let gateways = match plain.gateways {
            Some(g) => check_gateways(op, g)?,
            None => super::session::gateways_of(&get("session"))
                .unwrap_or_else(|| DEFAULT_GATEWAYS.iter().map(|g| g.to_string()).collect()),
        };
        Ok(LoadOptions {
            hub_url,
            gateways,
            backend: BackendKind::parse(op, plain.backend.as_deref().unwrap_or("auto"))?,
            shader_variant: plain.shader_variant,
            family,
            store,
            progress,
            control: Control::new(op, signal, stall),
            session: super::session::session_of(op, &get("session"))?,
        })
    }
}
