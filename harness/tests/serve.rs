//! `harness serve`: the pages' headers (COOP/COEP), MIME types and Range requests, checked
//! over a raw HTTP/1.1 connection against the repository's built pkg/.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn get(port: u16, path: &str, range: Option<&str>) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{range}Connection: close\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&all[..split]).to_lowercase(), all[split + 4..].to_vec())
}

#[test]
fn serves_pages_wasm_and_ranges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", root.to_str().unwrap(), "serve", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();

    let (head, body) = get(port, "/", None);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("cross-origin-opener-policy: same-origin"));
    assert!(head.contains("cross-origin-embedder-policy: require-corp"));
    assert!(String::from_utf8_lossy(&body).contains("ipfs-accelerate"));

    let wasm = std::fs::read(root.join("pkg/wasm/ipfs_accelerate_bg.wasm")).unwrap();
    let (head, body) = get(port, "/pkg/wasm/ipfs_accelerate_bg.wasm", Some("bytes=4-11"));
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains(&format!("content-range: bytes 4-11/{}", wasm.len())), "{head}");
    assert_eq!(body, &wasm[4..12]);

    let (head, _) = get(port, "/models/no-such-model/config.json", None);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    child.kill().unwrap();
    let _ = child.wait();
}
