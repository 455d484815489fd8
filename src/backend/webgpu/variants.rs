//! The shader variant table (`shaders/variants.json`, data rather than code) and the one
//! function that picks a matmul form for a browser engine and what its device granted.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct Table {
    rows: Vec<Row>,
    forms: BTreeMap<String, Form>,
    knobs: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Deserialize)]
struct Row {
    engine: String,
    requires: Vec<String>,
    variant: String,
}

/// One matmul kernel file, the device features it needs, and its override constants.
#[derive(Deserialize, Clone, Debug, PartialEq)]
pub struct Form {
    pub kernel: String,
    pub requires: Vec<String>,
    pub knobs: BTreeMap<String, f64>,
    /// "f16": constant weights are stored as f16 (the kernel's `WT`); f32 otherwise.
    #[serde(default)]
    pub weights: Option<String>,
}

impl Form {
    pub fn f16_weights(&self) -> bool {
        self.weights.as_deref() == Some("f16")
    }
}

/// A chosen matmul variant: its name in the table and its form.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: String,
    pub form: Form,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    // The file ships inside the binary; a parse failure is a build defect that the unit
    // test below catches, so an empty table (tiled matmul only) is the fallback.
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../../../shaders/variants.json")).unwrap_or_else(|_| Table {
            rows: vec![],
            forms: BTreeMap::new(),
            knobs: BTreeMap::new(),
        })
    })
}

fn granted_all(requires: &[String], granted: &[&str]) -> bool {
    requires.iter().all(|r| granted.contains(&r.as_str()))
}

/// The matmul variant for `engine` ("chromium", "firefox", "safari", "native") given the
/// granted features ("shader-f16", "subgroups"). `forced` names a variant to use instead;
/// it must exist and its features must have been granted.
pub fn select(engine: &str, granted: &[&str], forced: Option<&str>) -> Result<Variant> {
    let t = table();
    let name = match forced {
        Some(f) => f.to_string(),
        None => t
            .rows
            .iter()
            .find(|r| (r.engine == engine || r.engine == "*") && granted_all(&r.requires, granted))
            .map_or_else(|| "tiled".to_string(), |r| r.variant.clone()),
    };
    let form = t.forms.get(&name).cloned().ok_or_else(|| {
        let known: Vec<&String> = t.forms.keys().collect();
        Error::arg("webgpu", format!("unknown shader variant '{name}' (known: {known:?})"))
    })?;
    if !granted_all(&form.requires, granted) {
        return Err(Error::BackendUnavailable(format!(
            "webgpu variant '{name}' (needs {:?}; this device granted {granted:?})",
            form.requires
        )));
    }
    Ok(Variant { name, form })
}

/// Every variant this device can run: what tests iterate over.
pub fn available(granted: &[&str]) -> Vec<String> {
    table().forms.iter().filter(|(_, f)| granted_all(&f.requires, granted)).map(|(n, _)| n.clone()).collect()
}

/// The override constants of a single-form kernel family.
pub fn knobs(kernel: &str) -> Vec<(String, f64)> {
    table().knobs.get(kernel).map(|k| k.iter().map(|(n, v)| (n.clone(), *v)).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_real_kernels() {
        let t: Table = serde_json::from_str(include_str!("../../../shaders/variants.json")).unwrap();
        for f in t.forms.values() {
            assert!(super::super::kernels::source(&f.kernel).is_some(), "{} is not a kernel", f.kernel);
        }
        for k in t.knobs.keys() {
            assert!(super::super::kernels::source(k).is_some(), "{k} is not a kernel");
        }
        for r in &t.rows {
            assert!(t.forms.contains_key(&r.variant), "row names unknown variant {}", r.variant);
        }
    }

    #[test]
    fn selection_follows_engine_and_grants() {
        // The subgroup form is forced only (see the table's note).
        assert_eq!(select("chromium", &["subgroups"], None).unwrap().name, "tiled");
        assert_eq!(select("chromium", &["subgroups"], Some("subgroup")).unwrap().name, "subgroup");
        assert_eq!(select("chromium", &["shader-f16", "subgroups"], None).unwrap().name, "f16");
        assert_eq!(select("chromium", &[], None).unwrap().name, "tiled");
        assert_eq!(select("firefox", &["shader-f16"], None).unwrap().name, "f16");
        assert_eq!(select("native", &["shader-f16", "subgroups"], None).unwrap().name, "tiled");
        assert!(select("native", &["shader-f16"], Some("f16")).unwrap().form.f16_weights());
        let e = select("native", &[], Some("f16")).unwrap_err();
        assert_eq!(e.code(), "backend_unavailable", "{e}");
        assert_eq!(select("native", &[], Some("nope")).unwrap_err().code(), "invalid_argument");
        assert_eq!(available(&["subgroups"]), vec!["subgroup", "tiled"]);
    }
}
