//! `TensorStream` against `read_safetensors` and the session digest, at every piece size.
use super::*;
use crate::weights::{digest, read_safetensors};

/// A safetensors file of `tensors` (name, dtype, shape, bytes), in that order.
fn file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut at = 0;
    for (name, dtype, shape, bytes) in tensors {
        let end = at + bytes.len();
        header
            .insert(name.to_string(), serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [at, end] }));
        at = end;
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    tensors.iter().for_each(|t| out.extend_from_slice(&t.3));
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn sample() -> Vec<u8> {
    let halves: Vec<u8> = [0.5f32, -1.25, 3.0].iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
    let brains: Vec<u8> = [2.0f32, 0.75].iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect();
    file(&[
        ("a", "F32", &[2, 3], f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ("ids", "I64", &[2], vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
        ("empty", "F32", &[0, 4], vec![]),
        ("h", "F16", &[3], halves),
        ("b", "BF16", &[2], brains),
        ("c", "F32", &[1], f32s(&[-7.5])),
    ])
}

/// Streams `bytes` in pieces of `step` with `held`.
fn stream(bytes: &[u8], step: usize, held: Lookup<'_>) -> Result<Streamed> {
    let mut s = TensorStream::new(Vec::new());
    for piece in bytes.chunks(step) {
        s.push(piece, held)?;
    }
    s.finish(held)
}

fn tensors(s: Streamed) -> (Weights, usize) {
    match s {
        Streamed::Tensors { weights, reused } => (weights, reused),
        Streamed::Whole(_) => panic!("gathered whole"),
    }
}

#[test]
fn gives_what_read_safetensors_gives_in_any_piece_size() {
    let bytes = sample();
    let want = read_safetensors(AlignedBuf::from(bytes.as_slice())).unwrap();
    for step in [1, 3, 7, 64, bytes.len()] {
        let (got, reused) = tensors(stream(&bytes, step, &|_| None).unwrap());
        assert_eq!(reused, 0);
        let mut names: Vec<_> = got.names().collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "b", "c", "empty", "h"], "step {step}");
        for n in names {
            let (g, w) = (got.get(n).unwrap(), want.get(n).unwrap());
            assert_eq!((g.dims(), g.to_f32_vec()), (w.dims(), w.to_f32_vec()), "{n}, step {step}");
            // The digest hashed as the bytes arrived is the tensor's own.
            assert_eq!(got.digest_of(n), Some(digest(w)), "{n}, step {step}");
        }
    }
}

#[test]
fn takes_held_tensors_instead_of_making_them() {
    let bytes = sample();
    let mine = read_safetensors(AlignedBuf::from(bytes.as_slice())).unwrap();
    let by_digest: HashMap<Digest, Tensor> =
        ["a", "h"].iter().map(|n| (digest(mine.get(n).unwrap()), mine.get(n).unwrap().clone())).collect();
    let held = |d: &Digest| by_digest.get(d).cloned();
    let (got, reused) = tensors(stream(&bytes, 5, &held).unwrap());
    assert_eq!(reused, 2);
    for n in ["a", "h"] {
        assert_eq!(got.get(n).unwrap().storage_id(), mine.get(n).unwrap().storage_id(), "{n} is the held copy");
    }
    assert_ne!(got.get("c").unwrap().storage_id(), mine.get("c").unwrap().storage_id());
}

#[test]
fn parks_only_the_tensor_being_read() {
    struct Counting(Vec<u8>, usize);
    impl Parking for Counting {
        fn park(&mut self, b: &[u8]) {
            self.0.park(b);
            self.1 = self.1.max(self.0.len());
        }
        fn drain_into(&mut self, out: &mut [u8]) {
            self.0.drain_into(out)
        }
        fn clear(&mut self) {
            self.0.clear()
        }
    }
    let big = f32s(&vec![0.5; 1000]);
    let bytes = file(&[("x", "F32", &[1000], big.clone()), ("y", "F32", &[1000], big)]);
    let mut s = TensorStream::new(Counting(Vec::new(), 0));
    bytes.chunks(100).try_for_each(|p| s.push(p, &|_| None)).unwrap();
    assert_eq!(s.parking.1, 4000, "at most one tensor waits");
    assert!(s.parking.0.is_empty());
}

#[test]
fn files_it_does_not_take_apart_are_gathered_whole() {
    let int8 = file(&[("w", "I8", &[2], vec![1, 2]), ("w_scale", "F32", &[1], f32s(&[0.5]))]);
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    let gap = [(h.len() as u64).to_le_bytes().to_vec(), h.as_bytes().to_vec(), vec![0; 8]].concat();
    let huge = [(MAX_HEADER + 1).to_le_bytes().to_vec(), vec![0; 4]].concat();
    let with_meta = |meta: &str| {
        let h = format!(r#"{{"__metadata__":{meta},"a":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}}}"#);
        [(h.len() as u64).to_le_bytes().to_vec(), h.into_bytes(), f32s(&[2.0])].concat()
    };
    // Metadata of strings is no obstacle; anything else is the crate's error to report.
    let (w, _) = tensors(stream(&with_meta(r#"{"format":"pt"}"#), 5, &|_| None).unwrap());
    assert_eq!(w.get("a").unwrap().to_f32_vec(), [2.0]);
    for (what, bytes) in [
        ("metadata of numbers", with_meta(r#"{"format":1}"#)),
        ("int8", int8),
        ("a gap", gap),
        ("not json", b"\x04\0\0\0\0\0\0\0nope".to_vec()),
        ("huge", huge),
        ("short", vec![3, 0]),
    ] {
        match stream(&bytes, 3, &|_| None) {
            Ok(Streamed::Whole(buf)) => assert_eq!(buf.as_bytes(), &bytes[..], "{what}"),
            _ => panic!("{what} was not gathered whole"),
        }
    }
}

#[test]
fn a_short_file_or_a_non_finite_value_is_invalid_weights() {
    let bytes = sample();
    let e = stream(&bytes[..bytes.len() - 2], 4, &|_| None).err().unwrap();
    assert_eq!(e.code(), "invalid_weights");
    assert!(e.to_string().contains("truncated"), "{e}");
    let long = [bytes.clone(), vec![0]].concat();
    assert_eq!(stream(&long, 4, &|_| None).err().unwrap().code(), "invalid_weights");
    let nan = file(&[("ok", "F32", &[1], f32s(&[1.0])), ("w", "F32", &[2], f32s(&[0.5, f32::NAN]))]);
    let e = stream(&nan, 3, &|_| None).err().unwrap();
    assert!(e.to_string().contains("'w'") && e.to_string().contains("element 1"), "{e}");
}
