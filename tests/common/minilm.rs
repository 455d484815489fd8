//! The all-MiniLM-L6-v2 float64 reference (tests/fixtures/minilm, from gen_minilm.py next
//! to it) and the cosine the MiniLM tests compare with.

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Fixture {
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub text: String,
    pub ids: Vec<i32>,
    pub embedding: Vec<f64>,
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/minilm/embeddings.json")).expect("embeddings.json parses")
}

/// Cosine of an f32 vector with the f64 reference, in f64.
pub fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}
