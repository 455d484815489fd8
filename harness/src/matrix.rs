//! The benchmark matrix: browsers × libraries (ours on each backend, transformers.js in
//! each dtype) × input lengths × batch sizes. Cells that share a browser and a library are
//! one "group": one page visit times the load from the network, a second the load from the
//! cache and then every shape. A group that fails (a crashed or hung browser, a bad page)
//! is retried on a restarted browser; one that still fails is recorded as failed with its
//! error, and the run goes on.

use crate::db::{self, Cell};
use crate::driver::Driver;
use crate::{noise, report, serve, session};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    #[arg(long, value_delimiter = ',', default_value = "chromium,firefox")]
    browsers: Vec<String>,
    /// Our backends.
    #[arg(long, value_delimiter = ',', default_value = "wasm,webgpu")]
    backends: Vec<String>,
    /// Our weight dtypes (the `dtype` load option; fp32 is f32): fp32, f16, q8, q4.
    #[arg(long, value_delimiter = ',', default_value = "fp32", value_parser = ["fp32", "f16", "q8", "q4"])]
    dtypes: Vec<String>,
    /// transformers.js dtypes (the baseline); empty for none.
    #[arg(long, value_delimiter = ',', default_value = "fp32,q8")]
    baselines: Vec<String>,
    /// What the models do: "text" (MiniLM, `--tokens` per input), "image" (DINOv2,
    /// square images of `--sizes` pixels) or "speech" (Whisper tiny.en on the committed
    /// clips of `--clips` seconds, one at a time).
    #[arg(long, default_value = "text", value_parser = ["text", "image", "speech"])]
    task: String,
    #[arg(long, value_delimiter = ',', default_value = "12,158")]
    tokens: Vec<u32>,
    /// CPU threads, for both libraries (ours: the threaded build in a worker; theirs:
    /// onnxruntime-web's `numThreads`). Above 1 needs a cross-origin isolated page, which
    /// the harness's server gives.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    threads: Vec<u32>,
    /// With `--task image`: image sizes in pixels.
    #[arg(long, value_delimiter = ',', default_value = "224")]
    sizes: Vec<u32>,
    /// With `--task speech`: clips by their length in whole seconds: 4 (hello.wav) and 65
    /// (long.wav, three 30 s windows); any other length is a page error.
    #[arg(long, value_delimiter = ',', default_value = "4,65")]
    clips: Vec<u32>,
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    batches: Vec<u32>,
    /// Timed runs per cell, after one warm-up.
    #[arg(long, default_value_t = 5)]
    iters: u32,
    /// Retries of a failed group, each on a restarted browser.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Seconds a page visit may take before the browser counts as hung (a visit of the
    /// default shapes on SwiftShader's WebGPU takes about 2 minutes).
    #[arg(long, default_value_t = 420)]
    timeout: u64,
    /// A remote WebDriver endpoint (e.g. a Selenium Grid) instead of local drivers.
    #[arg(long)]
    webdriver_url: Option<String>,
    #[arg(long, default_value = "target/bench/results.sqlite")]
    db: PathBuf,
    #[arg(long, default_value = "target/bench/report.html")]
    report: PathBuf,
    /// Fault injection: kill the browser once, this many ms into the first timed visit.
    #[arg(long)]
    kill_browser_after_ms: Option<u64>,
    /// Fault injection: groups ("browser/library/backend-or-dtype") given a model URL that 404s.
    #[arg(long, value_delimiter = ',')]
    broken: Vec<String>,
}

struct Group {
    library: &'static str,
    backend: String,
    dtype: String,
    threads: u32,
}

impl Group {
    fn label(&self, browser: &str) -> String {
        // Ours by backend, and dtype where it is not f32 (the labels history is kept by).
        let which = match (self.library, self.dtype.as_str()) {
            ("ours", "fp32") => self.backend.clone(),
            ("ours", d) => format!("{}-{d}", self.backend),
            _ => self.dtype.clone(),
        };
        let threads = if self.threads > 1 { format!("/t{}", self.threads) } else { String::new() };
        format!("{browser}/{}/{which}{threads}", self.library)
    }
}

/// A browser with its local driver (none for a remote endpoint).
struct Browser {
    client: fantoccini::Client,
    driver: Option<Driver>,
    version: String,
}

async fn launch(root: &Path, name: &str, remote: Option<&str>) -> Result<Browser> {
    let driver = match remote {
        Some(_) => None,
        None => Some(Driver::start(name).await?),
    };
    let url = remote.map(String::from).unwrap_or_else(|| driver.as_ref().map(|d| d.url.clone()).unwrap_or_default());
    let client =
        session::connect(&url, session::capabilities(root, name)?).await.with_context(|| format!("{name} session"))?;
    let version = session::version(&client);
    Ok(Browser { client, driver, version })
}

async fn shutdown(b: Browser) {
    let _ = tokio::time::timeout(Duration::from_secs(10), b.client.close()).await;
    drop(b.driver);
}

pub async fn run(root: &Path, args: BenchArgs) -> Result<()> {
    let finished = tokio::select! {
        r = run_matrix(root, &args) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    // By now run_matrix's future is dropped, and with it every driver, whose Drop kills its
    // process group (the driver and the browser it started).
    finished.unwrap_or_else(|| {
        eprintln!("interrupted: browsers and drivers stopped");
        std::process::exit(130)
    })
}

async fn run_matrix(root: &Path, args: &BenchArgs) -> Result<()> {
    let (addr, _server) = serve::start(root, 0).await?;
    let base = format!("http://{addr}/");
    let conn = db::open(&args.db)?;
    let commit = git_commit(root);
    let machine = machine();
    let run_id = db::start_run(&conn, &commit, &machine, &std::env::args().skip(1).collect::<Vec<_>>().join(" "))?;
    let mut groups = Vec::new();
    for &threads in &args.threads {
        // Threads are the CPU's: our WebGPU runs once, at one thread.
        let backends = args.backends.iter().filter(|b| !b.is_empty() && (threads == 1 || b.as_str() == "wasm"));
        groups.extend(backends.flat_map(|b| {
            args.dtypes.iter().map(move |d| Group { library: "ours", backend: b.clone(), dtype: d.clone(), threads })
        }));
        groups.extend(args.baselines.iter().filter(|d| !d.is_empty()).map(|d| Group {
            library: "tjs",
            backend: "wasm".into(),
            dtype: d.clone(),
            threads,
        }));
    }
    let (sizes, batches) = match args.task.as_str() {
        "image" => (&args.sizes, args.batches.clone()),
        // A clip is transcribed alone.
        "speech" => (&args.clips, vec![1]),
        _ => (&args.tokens, args.batches.clone()),
    };
    let shapes: Vec<(u32, u32)> = sizes.iter().flat_map(|&t| batches.iter().map(move |&b| (t, b))).collect();
    let mut fault = args.kill_browser_after_ms;
    for name in &args.browsers {
        let mut browser = launch(root, name, args.webdriver_url.as_deref()).await?;
        let adapter = adapter(&browser.client, &base).await;
        for g in &groups {
            let label = g.label(name);
            let mut attempts = 0;
            let cells = loop {
                attempts += 1;
                let broken = args.broken.contains(&label);
                let kill = fault.take();
                let r = run_group(&browser, &base, g, &shapes, args, broken, kill).await;
                match r {
                    Ok(cells) => break cells.into_iter().map(|c| Ok((c, attempts))).collect::<Vec<_>>(),
                    // The page said why (a 404, a missing backend): the same on any browser.
                    Err(e) if e.downcast_ref::<session::PageError>().is_some() => {
                        eprintln!("{label}: failed: {e:#}");
                        break shapes.iter().map(|_| Err((format!("{e:#}"), attempts))).collect();
                    }
                    Err(e) => {
                        eprintln!("{label}: attempt {attempts} failed: {e:#}");
                        // A crashed or hung browser is replaced before the next try.
                        shutdown(browser).await;
                        browser = launch(root, name, args.webdriver_url.as_deref()).await?;
                        if attempts > args.retries {
                            break shapes.iter().map(|_| Err((format!("{e:#}"), attempts))).collect();
                        }
                    }
                }
            };
            for (i, r) in cells.into_iter().enumerate() {
                let (t, b) = shapes[i];
                let mut cell = Cell {
                    browser: name.clone(),
                    browser_version: browser.version.clone(),
                    adapter: adapter.clone(),
                    library: g.library.into(),
                    backend: g.backend.clone(),
                    dtype: g.dtype.clone(),
                    task: args.task.clone(),
                    tokens: t.into(),
                    batch: b.into(),
                    threads: g.threads.into(),
                    ..Default::default()
                };
                match r {
                    Ok((measured, n)) => {
                        cell = Cell { status: "ok".into(), attempts: n as i64, ..measured.merge(cell) };
                    }
                    Err((e, n)) => {
                        cell.status = "failed".into();
                        cell.error = Some(e);
                        cell.attempts = n as i64;
                    }
                }
                db::insert(&conn, run_id, &cell)?;
            }
            println!("{label}: done after {attempts} attempt(s)");
        }
        confirm(&conn, run_id, &browser, &base, name, &groups, args).await?;
        shutdown(browser).await;
    }
    let text = report::write(&conn, &args.report)?;
    println!("{text}");
    println!("results: {} (run {run_id}); report: {}", args.db.display(), args.report.display());
    Ok(())
}

/// Re-measures, once, every cell of this browser that came out slower than its history
/// (see `noise`), and records the confirmation median. A transient slowdown of the machine
/// then clears itself instead of being flagged.
async fn confirm(
    conn: &rusqlite::Connection,
    run_id: i64,
    browser: &Browser,
    base: &str,
    name: &str,
    groups: &[Group],
    args: &BenchArgs,
) -> Result<()> {
    let history = db::history(conn, run_id)?;
    let cur: Vec<Cell> = db::cells(conn, run_id)?.into_iter().filter(|c| c.browser == name).collect();
    let drift = noise::drift(&history, &cur, name);
    for g in groups {
        let suspects: Vec<&Cell> = cur
            .iter()
            .filter(|c| {
                c.library == g.library
                    && c.backend == g.backend
                    && c.dtype == g.dtype
                    && c.task == args.task
                    && c.threads == i64::from(g.threads)
            })
            .filter(|c| noise::suspect(history.get(&c.key()).map_or(&[], Vec::as_slice), c, drift))
            .collect();
        if suspects.is_empty() {
            continue;
        }
        let shapes: Vec<(u32, u32)> = suspects.iter().map(|c| (c.tokens as u32, c.batch as u32)).collect();
        println!("{}: re-measuring {} cell(s) slower than their history", g.label(name), shapes.len());
        match run_group(browser, base, g, &shapes, args, false, None).await {
            Ok(measured) => {
                for (c, m) in suspects.iter().zip(measured) {
                    if let Some(ms) = m.cell.get("medianMs").and_then(Value::as_f64) {
                        db::set_confirm(conn, run_id, &c.key(), ms)?;
                    }
                }
            }
            // Without a confirmation the first measurement stands, and is judged alone.
            Err(e) => eprintln!("{}: re-measurement failed: {e:#}", g.label(name)),
        }
    }
    Ok(())
}

/// The measured fields of a cell, from the page.
struct Measured {
    load_network_ms: Option<f64>,
    load_cache_ms: Option<f64>,
    cell: Value,
}

impl Measured {
    fn merge(self, base: Cell) -> Cell {
        let f = |k: &str| self.cell.get(k).and_then(Value::as_f64);
        Cell {
            load_network_ms: self.load_network_ms,
            load_cache_ms: self.load_cache_ms,
            first_ms: f("firstMs"),
            median_ms: f("medianMs"),
            p90_ms: f("p90Ms"),
            throughput: f("throughput"),
            memory_bytes: f("memoryBytes").map(|m| m as i64),
            gpu_ms: f("gpuMs"),
            ..base
        }
    }
}

async fn run_group(
    b: &Browser,
    base: &str,
    g: &Group,
    shapes: &[(u32, u32)],
    args: &BenchArgs,
    broken: bool,
    kill_after_ms: Option<u64>,
) -> Result<Vec<Measured>> {
    let shapes_param = shapes.iter().map(|(t, b)| format!("{t}x{b}")).collect::<Vec<_>>().join(",");
    let model = if broken { "&model=no-such-model" } else { "" };
    let url = |phase: &str| {
        format!(
            "{base}bench/cell.html?lib={}&backend={}&dtype={}&threads={}&phase={phase}&shapes={shapes_param}&iters={}&task={}{model}",
            g.library, g.backend, g.dtype, g.threads, args.iters, args.task
        )
    };
    let timeout = Duration::from_secs(args.timeout);
    let net = session::run_page(&b.client, &url("network"), "cellResults", timeout).await?;
    if let (Some(ms), Some(d)) = (kill_after_ms, &b.driver) {
        let pgid = d.pgid_for_faults();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let n = crate::driver::kill_group_except_leader(pgid);
            eprintln!("fault injection: killed {n} browser process(es)");
        });
    }
    let hot = session::run_page(&b.client, &url("cache"), "cellResults", timeout).await?;
    let cells = hot.get("cells").and_then(Value::as_array).context("the page returned no cells")?;
    Ok(cells
        .iter()
        .map(|c| Measured {
            load_network_ms: net.get("loadMs").and_then(Value::as_f64),
            load_cache_ms: hot.get("loadMs").and_then(Value::as_f64),
            cell: c.clone(),
        })
        .collect())
}

/// The WebGPU adapter the browser reports, for the run metadata ("none" without one).
async fn adapter(client: &fantoccini::Client, base: &str) -> String {
    let probe = async {
        client.goto(&format!("{base}bench/cell.html?phase=none")).await.ok()?;
        let v = client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 (async () => { const a = await navigator.gpu?.requestAdapter(); const i = a?.info;
                   done(i ? [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') : 'none'); })()
                   .catch((e) => done('none: ' + e.message));",
                vec![],
            )
            .await
            .ok()?;
        v.as_str().map(String::from)
    };
    tokio::time::timeout(Duration::from_secs(20), probe).await.ok().flatten().unwrap_or_else(|| "unknown".into())
}

fn git_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}
