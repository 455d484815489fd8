//! Reports from the results database: a terminal table of the latest run (every cell, ours
//! against transformers.js fp32 and q8), regression flags against the previous run of the
//! same cell, and an HTML page with SVG charts (plotters): latency by backend and browser,
//! and each cell's trend over runs.

use crate::db::{self, Cell};
use crate::noise;
use anyhow::Result;
use plotters::prelude::*;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

fn ms(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

fn label(c: &Cell) -> String {
    let l = match c.library.as_str() {
        "ours" if c.dtype == "fp32" => format!("ours {}", c.backend),
        "ours" => format!("ours {} {}", c.backend, c.dtype),
        _ => format!("tjs {}", c.dtype),
    };
    if c.threads > 1 {
        format!("{l} ×{}", c.threads)
    } else {
        l
    }
}

/// Writes the HTML report to `out` and returns the terminal table.
pub fn write(conn: &Connection, out: &Path) -> Result<String> {
    let runs = db::runs(conn)?;
    let Some(&(last, ref started, ref commit)) = runs.last() else {
        anyhow::bail!("the database holds no runs yet: run `harness bench` first");
    };
    let cur = db::cells(conn, last)?;
    let history = db::history(conn, last)?;
    let drift = |browser: &str| noise::drift(&history, &cur, browser);
    let mut text =
        format!("run {last} ({started}, commit {commit}): median ms (p90); vs fp32/q8 = transformers.js median / ours (above 1: ours is faster)\n");
    let browsers: std::collections::BTreeSet<&str> = cur.iter().map(|c| c.browser.as_str()).collect();
    let drifts: Vec<String> = browsers
        .iter()
        .map(|b| drift(b))
        .zip(&browsers)
        .map(|(d, b)| format!("{b} ×{:.2} ± {:.0}%", d.factor, d.band * 100.0))
        .collect();
    let _ = writeln!(
        text,
        "run drift against earlier runs, from transformers.js (the control): {}; a flag needs a slowdown beyond both",
        drifts.join(", ")
    );
    let _ = writeln!(
        text,
        "{:<10} {:<12} {:>6} {:>5} {:>18} {:>8} {:>9} {:>8} {:>8} {:>8} flags",
        "browser", "library", "tokens", "batch", "median (p90)", "first", "inputs/s", "gpu ms", "vs fp32", "vs q8"
    );
    let mut rows_html = String::new();
    for c in &cur {
        // transformers.js / ours, on our rows: how many times faster we are.
        let baseline = |dtype: &str| {
            cur.iter()
                .find(|o| {
                    o.browser == c.browser
                        && o.library == "tjs"
                        && o.dtype == dtype
                        && o.task == c.task
                        && o.tokens == c.tokens
                        && o.batch == c.batch
                        && o.threads.max(1) == c.threads.max(1)
                })
                .and_then(|o| o.median_ms)
        };
        let ratio = |dtype: &str| match (baseline(dtype), c.median_ms, c.library.as_str()) {
            (Some(t), Some(m), "ours") if m > 0.0 => format!("{:.2}x", t / m),
            _ => String::new(),
        };
        let h = history.get(&c.key()).map_or(&[][..], Vec::as_slice);
        let flag = match (&c.status[..], noise::reference(h)) {
            ("failed", _) => format!("FAILED: {}", c.error.clone().unwrap_or_default()),
            (_, Some(r)) if noise::regressed(h, c, drift(&c.browser)) => format!(
                "REGRESSION (reference {:.1} ± {:.1}, re-measured {}, run drift ×{:.2})",
                r.median_ms,
                r.noise_ms,
                ms(c.confirm_median_ms),
                drift(&c.browser).factor
            ),
            _ => String::new(),
        };
        let cell = if c.status == "ok" { format!("{} ({})", ms(c.median_ms), ms(c.p90_ms)) } else { "—".into() };
        let _ = writeln!(
            text,
            "{:<10} {:<12} {:>6} {:>5} {:>18} {:>8} {:>9} {:>8} {:>8} {:>8} {}",
            c.browser,
            label(c),
            c.size(),
            c.batch,
            cell,
            ms(c.first_ms),
            ms(c.throughput),
            ms(c.gpu_ms),
            ratio("fp32"),
            ratio("q8"),
            flag
        );
        let _ = write!(
            rows_html,
            "<tr data-key=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=median>{}</td><td class=p90>{}</td><td class=throughput>{}</td><td class=gpu>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.key()),
            esc(&c.browser),
            esc(&label(c)),
            c.size(),
            c.batch,
            ms(c.median_ms),
            ms(c.p90_ms),
            ms(c.throughput),
            ms(c.gpu_ms),
            ms(c.first_ms),
            ms(c.load_network_ms),
            ms(c.load_cache_ms),
            c.memory_bytes.map_or("—".into(), |m| format!("{:.0} MiB", m as f64 / 1048576.0)),
            esc(&flag)
        );
    }
    let latency = latency_chart(&cur)?;
    let trends = trend_chart(conn, &runs)?;
    // One line per browser: each has its own version and WebGPU adapter.
    let mut seen = std::collections::BTreeSet::new();
    let meta = cur
        .iter()
        .filter(|c| seen.insert(c.browser.clone()))
        .map(|c| {
            let adapter = if c.adapter.trim().is_empty() { "unnamed" } else { c.adapter.trim() };
            format!("{} {} · WebGPU adapter: {}", esc(&c.browser), esc(&c.browser_version), esc(adapter))
        })
        .collect::<Vec<_>>()
        .join("<br>");
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>ipfs-accelerate benchmark report</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccd;padding:.2rem .5rem;text-align:right}}th{{background:#eef}}</style></head>
<body><h1>Benchmark report, run {last}</h1><p>{started} · commit {commit}</p><p class=meta>{meta}</p>
<h2>Latency by backend and browser (median ms)</h2>{latency}
<h2>Trend over runs (median ms per cell)</h2>{trends}
<h2>Every cell</h2><table id=cells><thead><tr><th>browser</th><th>library</th><th>tokens</th><th>batch</th><th>median ms</th><th>p90 ms</th><th>inputs/s</th><th>GPU ms (timestamps)</th><th>first ms</th><th>load (network) ms</th><th>load (cache) ms</th><th>wasm memory</th><th>flags</th></tr></thead><tbody>{rows_html}</tbody></table>
</body></html>",
        started = esc(started),
        commit = esc(commit),
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, html)?;
    Ok(text)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Median ms per shape, one line per (browser, library): shapes on the x axis.
fn latency_chart(cells: &[Cell]) -> Result<String> {
    let mut shapes: Vec<(i64, i64)> = cells.iter().map(|c| (c.tokens, c.batch)).collect();
    shapes.sort();
    shapes.dedup();
    let mut series: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    for c in cells {
        if let (Some(m), Some(i)) = (c.median_ms, shapes.iter().position(|s| *s == (c.tokens, c.batch))) {
            series.entry(format!("{} {}", c.browser, label(c))).or_default().push((i, m));
        }
    }
    let names: Vec<String> = shapes.iter().map(|(t, b)| format!("{t} tok × {b}")).collect();
    chart("latency", &names, &series)
}

/// Each cell's median over runs, one line per cell key.
fn trend_chart(conn: &Connection, runs: &[(i64, String, String)]) -> Result<String> {
    let mut series: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, (id, _, _)) in runs.iter().enumerate() {
        for c in db::cells(conn, *id)? {
            if let Some(m) = c.median_ms {
                series.entry(c.key()).or_default().push((i, m));
            }
        }
    }
    let names: Vec<String> = runs.iter().map(|(id, _, commit)| format!("run {id} ({commit})")).collect();
    chart("trend", &names, &series)
}

/// A line chart (y from 0), as an inline SVG string.
fn chart(id: &str, x_names: &[String], series: &BTreeMap<String, Vec<(usize, f64)>>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let hi = series.values().flatten().map(|p| p.1).fold(1.0f64, f64::max) * 1.15;
        let n = x_names.len().max(1);
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..hi)?;
        c.configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    x_names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("median ms")
            .draw()?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let pts: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x as f64, y)).collect();
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        c.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        root.present()?;
    }
    Ok(format!("<div id=\"{id}\">{svg}</div>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(median: f64, p90: f64) -> Cell {
        Cell {
            browser: "chromium".into(),
            library: "ours".into(),
            backend: "wasm".into(),
            dtype: "fp32".into(),
            tokens: 12,
            batch: 1,
            status: "ok".into(),
            median_ms: Some(median),
            p90_ms: Some(p90),
            ..Default::default()
        }
    }

    #[test]
    fn report_shows_every_cell_the_trend_and_flags() {
        let dir = std::env::temp_dir().join(format!("harness-report-{}", std::process::id()));
        let conn = db::open(&dir.join("r.sqlite")).unwrap();
        for (run, median) in [(1, 100.0), (2, 100.5), (3, 200.0)] {
            let id = db::start_run(&conn, &format!("c{run}"), "test machine", "").unwrap();
            db::insert(&conn, id, &cell(median, median + 2.0)).unwrap();
            let failed = Cell { status: "failed".into(), error: Some("fetch_failed: 404".into()), ..cell(0.0, 0.0) };
            db::insert(&conn, id, &Cell { tokens: 158, median_ms: None, p90_ms: None, ..failed }).unwrap();
            let text = write(&conn, &dir.join("r.html")).unwrap();
            let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
            assert!(html.contains(&format!("<td class=median>{median:.1}</td>")), "{html}");
            assert!(text.contains("FAILED: fetch_failed: 404"));
            assert_eq!(text.contains("REGRESSION"), run == 3, "run {run}: {text}");
            for r in 1..=run {
                assert!(html.contains(&format!("run {r} (c{r})")), "trend axis names run {r}");
            }
            assert_eq!(html.matches("<svg").count(), 2, "two charts");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
