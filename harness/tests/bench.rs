//! `harness bench` end to end in real browsers (the repository's pkg/ and models/ must be
//! built and installed, as `npm test` does first), with faults: the Chromium browser is
//! killed mid-cell and must be restarted and the cell retried; Firefox is given a model URL
//! that 404s and its cells must be recorded as failed while the run completes. Afterwards
//! no process of any driver's group may be left. A second run gives the report a trend, and
//! the report's table must hold the database's values. Ctrl-C must also leave nothing.

use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tests drive browsers; one at a time keeps the fault timing and the 2-core machine sane.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn out_dir() -> PathBuf {
    // A fixed place, so the page test can screenshot the report this test writes.
    let d = root().join("target/harness-test");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `harness bench` with `args`; returns stderr and the process groups it started.
fn bench(args: &[&str]) -> (String, Vec<i32>) {
    let d = out_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", root().to_str().unwrap(), "bench", "--baselines", "", "--iters", "2"])
        .args(["--db", d.join("results.sqlite").to_str().unwrap(), "--report", d.join("report.html").to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "harness bench failed:\n{err}\n{}", String::from_utf8_lossy(&out.stdout));
    (err.clone(), groups(&err))
}

fn groups(stderr: &str) -> Vec<i32> {
    stderr.lines().filter_map(|l| l.rsplit_once("process group ").and_then(|(_, g)| g.trim().parse().ok())).collect()
}

/// Live (not zombie) processes in any of `pgids`, after giving SIGKILLed ones up to 5 s to go.
fn leftovers(pgids: &[i32]) -> Vec<i32> {
    let live_in = |g: i32| {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(move |pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // Fields after the parenthesised command: state ppid pgrp ...
                let f: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, r)| r.split_whitespace().collect());
                f.len() > 2 && f[0] != "Z" && f[2].parse::<i32>() == Ok(g)
            })
            .collect::<Vec<_>>()
    };
    let mut left = Vec::new();
    for _ in 0..50 {
        left = pgids.iter().flat_map(|&g| live_in(g)).collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    left
}

#[test]
fn faults_retries_failures_trend_and_report() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = out_dir();
    let _ = std::fs::remove_file(d.join("results.sqlite"));
    let (err, pgids) = bench(&[
        "--browsers",
        "chromium,firefox",
        "--backends",
        "wasm",
        "--tokens",
        "12",
        "--batches",
        "1,2",
        "--kill-browser-after-ms",
        "300",
        "--broken",
        "firefox/ours/wasm",
    ]);
    assert!(err.contains("fault injection: killed"), "{err}");
    assert!(pgids.len() >= 3, "chromedriver twice (restarted) and geckodriver: {pgids:?}");
    assert_eq!(leftovers(&pgids), Vec::<i32>::new(), "processes left behind");
    let db = Connection::open(d.join("results.sqlite")).unwrap();
    type Row = (String, String, i64, Option<String>, Option<f64>);
    let rows: Vec<Row> = db
        .prepare("SELECT browser, status, attempts, error, median_ms FROM cells ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 4);
    for (browser, status, attempts, error, median) in &rows {
        if browser == "chromium" {
            assert_eq!((status.as_str(), *attempts), ("ok", 2), "retried once after the kill");
            assert!(median.unwrap() > 0.0);
        } else {
            assert_eq!(status, "failed");
            assert!(error.as_deref().unwrap().contains("fetch_failed"), "{error:?}");
        }
    }
    // A second run: the report shows both runs in its trend, and its table the new values.
    let (_, pgids) = bench(&["--browsers", "chromium", "--backends", "wasm", "--tokens", "12", "--batches", "1,2"]);
    assert_eq!(leftovers(&pgids), Vec::<i32>::new());
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    assert!(html.contains("run 1 (") && html.contains("run 2 ("), "trend over both runs");
    let last: Vec<(String, f64, f64)> = db
        .prepare(
            "SELECT browser || '/' || library || '/' || backend || '/' || dtype || '/' || tokens || 'x' || batch,
                median_ms, p90_ms FROM cells WHERE run_id = (SELECT MAX(id) FROM runs)",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(last.len(), 2);
    for (key, median, p90) in last {
        let row = format!("<tr data-key=\"{key}\">");
        let at = html.find(&row).unwrap_or_else(|| panic!("no row {key} in the report"));
        let tail = &html[at..];
        assert!(tail.contains(&format!("<td class=median>{median:.1}</td><td class=p90>{p90:.1}</td>")), "{key}");
    }
}

#[test]
fn ctrl_c_leaves_no_processes() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = out_dir().join("interrupted");
    std::fs::create_dir_all(&d).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", root().to_str().unwrap(), "bench", "--browsers", "chromium", "--baselines", ""])
        .args(["--db", d.join("r.sqlite").to_str().unwrap(), "--report", d.join("r.html").to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = lines.next().unwrap().unwrap();
    let pgids = groups(&started);
    assert_eq!(pgids.len(), 1, "{started}");
    // Let the browser come up, then interrupt as a terminal's Ctrl-C would.
    std::thread::sleep(std::time::Duration::from_secs(3));
    // SAFETY: kill(2) on the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(&pgids), Vec::<i32>::new(), "processes left behind after Ctrl-C");
}

#[test]
fn remote_webdriver_endpoint() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A WebDriver server the harness did not start, as a Selenium Grid would be.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut driver = Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let d = out_dir().join("remote");
    std::fs::create_dir_all(&d).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", root().to_str().unwrap(), "bench", "--browsers", "chromium", "--backends", "wasm"])
        .args(["--baselines", "", "--tokens", "12", "--batches", "1", "--iters", "2"])
        .args(["--webdriver-url", &format!("http://127.0.0.1:{port}")])
        .args(["--db", d.join("r.sqlite").to_str().unwrap(), "--report", d.join("r.html").to_str().unwrap()])
        .output()
        .unwrap();
    let _ = driver.kill();
    let _ = driver.wait();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("started chromedriver"), "used the given endpoint: {stderr}");
    assert!(stdout.contains("chromium/ours/wasm: done after 1 attempt(s)"), "{stdout}");
}
