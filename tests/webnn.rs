//! The WebNN backend on the WebNN TEST DOUBLE (tests/webnn-double/, installed as
//! `navigator.ml` by these tests only; this machine's browsers cannot run WebNN): MiniLM
//! whole on WebNN with its builds and weights reused, a node the context refuses run on
//! the CPU with the same result, and the errors of a missing or refusing `navigator.ml`,
//! a lost context and a dispatch WebNN rejects. The op references run on WebNN through
//! `on_every_backend!` (tests/ops_reference.rs), the model references likewise.

#[macro_use]
mod common;

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::common::minilm::{cosine, embedder, fixture};
    use super::common::webnn_double;
    use ipfs_accelerate::backend::webnn::{NnOptions, WebNnBackend};
    use ipfs_accelerate::backend::{Backend, Value};
    use ipfs_accelerate::graph::GraphBuilder;
    use ipfs_accelerate::models::EmbedderOptions;
    use ipfs_accelerate::tensor::{DType, Tensor};
    use std::sync::Arc;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    async fn backend() -> Arc<WebNnBackend> {
        webnn_double::install();
        #[allow(clippy::arc_with_non_send_sync)]
        Arc::new(WebNnBackend::new(NnOptions::default()).await.expect("a context on the double"))
    }

    /// Texts of the fixture up to 12 tokens, and their float64 embeddings.
    fn short_texts() -> (Vec<String>, Vec<Vec<f64>>) {
        let fx = fixture();
        fx.cases.into_iter().filter(|c| c.ids.len() <= 12).map(|c| (c.text, c.embedding)).unzip()
    }

    // MiniLM runs whole on WebNN (no node falls back) and matches the float64 reference
    // (cosine >= 0.9999). A second call builds nothing and makes no constant: it writes
    // the inputs and dispatches once per batch. A longer text builds one graph more (its
    // shape bucket) and reuses every weight (constant bytes grow by under 1%).
    #[wasm_bindgen_test]
    async fn minilm_runs_whole_on_webnn_and_reuses_its_builds() {
        let b = backend().await;
        let mut e = embedder(EmbedderOptions::default()).await;
        e.set_backend(b.clone());
        let (texts, want) = short_texts();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let got = e.embed_async(&texts).await.unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!(cosine(g, w) >= 0.9999, "cosine {}", cosine(g, w));
        }
        let first = b.stats();
        assert_eq!(first.fallback_nodes, 0, "every MiniLM node runs on WebNN");
        assert!(first.builds >= 1 && first.constants > 0, "{first:?}");
        let builds_seen = webnn_double::count("builds");

        let again = e.embed_async(&texts).await.unwrap();
        assert_eq!(again, got, "the same inputs, the same outputs");
        let second = b.stats();
        assert_eq!((second.builds, second.constants), (first.builds, first.constants), "{second:?}");
        assert_eq!(second.dispatches - first.dispatches, first.dispatches, "one dispatch per batch, as before");
        assert_eq!(webnn_double::count("builds"), builds_seen, "the double saw no build() either");

        let long = fixture().cases.into_iter().find(|c| c.ids.len() > 40).expect("a text over 40 tokens");
        let v = e.embed_async(&[long.text.as_str()]).await.unwrap();
        assert!(cosine(&v[0], &long.embedding) >= 0.9999);
        let third = b.stats();
        assert_eq!(third.builds, second.builds + 1, "one build for the new shape");
        assert!(
            (third.constant_bytes - second.constant_bytes) * 100 < second.constant_bytes,
            "the weights were not made again: {} then {} bytes",
            second.constant_bytes,
            third.constant_bytes
        );
    }

    // The double's opSupportLimits() lists no data type for layerNormalization (a test
    // toggle): those nodes run on the CPU backend, the rest on WebNN, with the result of
    // the whole-WebNN run.
    #[wasm_bindgen_test]
    async fn a_refused_op_falls_back_to_the_cpu_with_the_same_result() {
        let whole = backend().await;
        let mut e = embedder(EmbedderOptions::default()).await;
        let (texts, _) = short_texts();
        let texts: Vec<&str> = texts.iter().take(3).map(String::as_str).collect();
        e.set_backend(whole.clone());
        let want = e.embed_async(&texts).await.unwrap();

        webnn_double::refuse("layerNormalization", true);
        let split = WebNnBackend::new(NnOptions::default()).await;
        webnn_double::refuse("layerNormalization", false);
        #[allow(clippy::arc_with_non_send_sync)]
        let split = Arc::new(split.unwrap());
        e.set_backend(split.clone());
        let got = e.embed_async(&texts).await.unwrap();
        let s = split.stats();
        // MiniLM has 13 layer norms (the embeddings' and two per layer of six).
        assert_eq!(s.fallback_nodes, 13, "{s:?}");
        for (g, w) in got.iter().zip(&want) {
            let d = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(d < 1e-5, "largest difference {d}");
        }
    }

    fn one_add() -> Arc<ipfs_accelerate::graph::Graph> {
        let mut g = GraphBuilder::new();
        let x = g.state("x", &[2, 3], DType::F32);
        let y = g.add(x, x).unwrap();
        Arc::new(g.build(&[y]).unwrap())
    }

    fn host() -> Tensor {
        Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap()
    }

    #[wasm_bindgen_test]
    async fn a_refused_or_missing_context_is_backend_unavailable() {
        webnn_double::install();
        webnn_double::reject_contexts(Some("NotSupportedError"));
        let e = WebNnBackend::new(NnOptions::default()).await.err().expect("no context");
        webnn_double::reject_contexts(None);
        assert_eq!(e.code(), "backend_unavailable");
        assert!(e.to_string().contains("createContext was refused: NotSupportedError"), "{e}");

        // A browser without WebNN (the double's navigator.ml hidden by an undefined one:
        // deleting it would bare the browser's own, where there is one).
        let nav: js_sys::Object = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap().into();
        let ml = js_sys::Reflect::get(&nav, &"ml".into()).unwrap();
        let set_ml = |v: &JsValue| {
            let desc = js_sys::Object::new();
            js_sys::Reflect::set(&desc, &"value".into(), v).unwrap();
            js_sys::Reflect::set(&desc, &"configurable".into(), &JsValue::TRUE).unwrap();
            js_sys::Object::define_property(&nav, &"ml".into(), &desc);
        };
        set_ml(&JsValue::UNDEFINED);
        let e = WebNnBackend::new(NnOptions::default()).await.err().expect("no navigator.ml");
        set_ml(&ml);
        assert_eq!(e.code(), "backend_unavailable");
        assert!(e.to_string().contains("navigator.ml is absent"), "{e}");
    }

    // A lost context fails the call that meets it with webnn_context_lost; the next call
    // makes a new context and works.
    #[wasm_bindgen_test]
    async fn a_lost_context_is_reported_once_then_replaced() {
        let b = backend().await;
        let g = one_add();
        let x = [host()];
        assert_eq!(b.run(&g, &x).await.unwrap()[0].to_f32_vec(), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        let contexts = b.stats().contexts;
        b.destroy_context();
        let e = b.run(&g, &x).await.unwrap_err();
        assert_eq!(e.code(), "webnn_context_lost", "{e}");
        let y = b.run(&g, &x).await.unwrap();
        assert_eq!(y[0].to_f32_vec(), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        assert_eq!(b.stats().contexts, contexts + 1);
    }

    // A cache appended to step by step on the device: the value read and the value
    // written are two MLTensors used in turn (no tensor made per step), and the cache
    // holds every step's row.
    #[wasm_bindgen_test]
    async fn a_cache_on_the_device_is_two_tensors_in_turn() {
        let b = backend().await;
        let mut g = GraphBuilder::new();
        let cache = g.state("cache", &[1, 8, 2], DType::F32);
        let row = g.input("row", &[1, 1, 2], DType::F32);
        let at = g.input("at", &[1], DType::I32);
        let out = g.write_at(cache, row, at, 1).unwrap();
        let g = Arc::new(g.build(&[out]).unwrap());
        let mut cache = b.upload(&Tensor::zeros(vec![1, 8, 2])).await.unwrap();
        let made = b.stats().tensors;
        for i in 0..8 {
            let row = Tensor::from_f32(vec![1, 1, 2], vec![i as f32, -(i as f32)]).unwrap();
            let at = Tensor::from_i32(vec![1], vec![i]).unwrap();
            let inputs = vec![cache, Value::Host(row), Value::Host(at)];
            cache = b.run_values(&g, inputs, &[true]).await.unwrap().remove(0);
        }
        let got = b.read(&cache).await.unwrap().to_f32_vec();
        let want: Vec<f32> = (0..8).flat_map(|i| [i as f32, -(i as f32)]).collect();
        assert_eq!(got, want);
        // The two host inputs' tensors, and one output tensor besides the uploaded one.
        assert_eq!(b.stats().tensors - made, 3, "{:?}", b.stats());
        // Past the end is invalid_argument, checked on the host.
        let row = Tensor::from_f32(vec![1, 1, 2], vec![0.0; 2]).unwrap();
        let at = Tensor::from_i32(vec![1], vec![8]).unwrap();
        let e = b.run_values(&g, vec![cache, Value::Host(row), Value::Host(at)], &[true]).await.unwrap_err();
        assert_eq!(e.code(), "invalid_argument", "{e}");
    }

    // A tensor of another context given to a dispatch: WebNN's TypeError arrives as
    // webnn_error naming the dispatch and the graph's op, and the backend goes on.
    #[wasm_bindgen_test]
    async fn a_dispatch_webnn_rejects_is_webnn_error() {
        let (a, b) = (backend().await, backend().await);
        let g = one_add();
        let foreign = a.upload(&host()).await.unwrap();
        let e = b.run_values(&g, vec![foreign], &[]).await.unwrap_err();
        assert_eq!(e.code(), "webnn_error", "{e}");
        assert!(e.to_string().contains("dispatch of a graph ending in add"), "{e}");
        let ok = b.run_values(&g, vec![Value::Host(host())], &[]).await.unwrap();
        assert_eq!(b.read(&ok[0]).await.unwrap().to_f32_vec()[5], 12.0);
    }
}

/// Natively there is no WebNN: asking for it says so.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn natively_webnn_is_backend_unavailable() {
    use ipfs_accelerate::backend::webnn::{NnOptions, WebNnBackend};
    let e = pollster::block_on(WebNnBackend::new(NnOptions::default())).err().expect("no WebNN natively");
    assert_eq!(e.code(), "backend_unavailable");
    assert!(e.to_string().contains("only in browsers"), "{e}");
}
