//! The static server: www/ at /, pkg/ at /pkg/, models/ at /models/, the committed speech
//! clips at /clips/, with the headers the
//! pages need (COOP/COEP for cross-origin isolation, CORP/CORS for model files). tower-http's
//! ServeDir answers Range requests and sets MIME types (application/wasm included).

use anyhow::Result;
use axum::http::{HeaderName, HeaderValue};
use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

const HEADERS: [(&str, &str); 5] = [
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-embedder-policy", "require-corp"),
    ("cross-origin-resource-policy", "cross-origin"),
    ("access-control-allow-origin", "*"),
    ("cache-control", "no-cache"),
];

/// Binds 127.0.0.1:`port` (0 = any free port) and serves until the task is dropped.
pub async fn start(root: &Path, port: u16) -> Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let mut app = Router::new()
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/models", ServeDir::new(root.join("models")))
        .nest_service("/clips", ServeDir::new(root.join("tests/fixtures/whisper/audio")))
        .fallback_service(ServeDir::new(root.join("www")));
    for (name, value) in HEADERS {
        app = app
            .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static(name), HeaderValue::from_static(value)));
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((addr, tokio::spawn(async move { axum::serve(listener, app).await })))
}
