//! The results database (SQLite, bundled): one row per run with its metadata, one row per
//! cell with its measurements or its error.

use anyhow::Result;
use rusqlite::{params, Connection};
use std::path::Path;

pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let c = Connection::open(path)?;
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, git_commit TEXT NOT NULL,
            machine TEXT NOT NULL, args TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS cells (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
            browser TEXT NOT NULL, browser_version TEXT NOT NULL, adapter TEXT NOT NULL,
            library TEXT NOT NULL, backend TEXT NOT NULL, dtype TEXT NOT NULL,
            tokens INTEGER NOT NULL, batch INTEGER NOT NULL,
            status TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL,
            load_network_ms REAL, load_cache_ms REAL, first_ms REAL,
            median_ms REAL, p90_ms REAL, throughput REAL, memory_bytes INTEGER);",
    )?;
    // Added after the first databases were written: older files gain the columns (their
    // cells were all text cells).
    for (col, ty) in [
        ("confirm_median_ms", "REAL"),
        ("gpu_ms", "REAL"),
        ("task", "TEXT NOT NULL DEFAULT 'text'"),
        ("threads", "INTEGER NOT NULL DEFAULT 1"),
    ] {
        let has: i64 =
            c.query_row("SELECT COUNT(*) FROM pragma_table_info('cells') WHERE name = ?1", [col], |r| r.get(0))?;
        if has == 0 {
            c.execute_batch(&format!("ALTER TABLE cells ADD COLUMN {col} {ty};"))?;
        }
    }
    Ok(c)
}

/// One measured (or failed) cell.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub browser: String,
    pub browser_version: String,
    pub adapter: String,
    pub library: String,
    pub backend: String,
    pub dtype: String,
    /// "text" (`tokens` per input), "image" (`tokens` is the image side in pixels) or
    /// "speech" (`tokens` is the clip's length in seconds; `throughput` is then audio
    /// seconds per second, the real-time factor, and `first_ms` the time to the first
    /// segment of a warm transcription).
    pub task: String,
    pub tokens: i64,
    pub batch: i64,
    /// CPU threads the library ran with (its own worker threads; 1 on older databases).
    pub threads: i64,
    pub status: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub load_network_ms: Option<f64>,
    pub load_cache_ms: Option<f64>,
    pub first_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub throughput: Option<f64>,
    pub memory_bytes: Option<i64>,
    /// The median of a re-measurement at the end of the run, taken when the first
    /// measurement looked slower than the cell's history (see `noise`).
    pub confirm_median_ms: Option<f64>,
    /// GPU time of one forward pass from timestamp queries (WebGPU cells, where available).
    pub gpu_ms: Option<f64>,
}

impl Cell {
    /// What identifies a cell across runs (text cells keep the key they had before image
    /// cells existed, one-thread cells the key they had before threads).
    pub fn key(&self) -> String {
        let task = match self.task.as_str() {
            "image" | "speech" => format!("{}/", self.task),
            _ => String::new(),
        };
        let threads = if self.threads > 1 { format!("/t{}", self.threads) } else { String::new() };
        format!(
            "{task}{}/{}/{}/{}/{}x{}{threads}",
            self.browser, self.library, self.backend, self.dtype, self.tokens, self.batch
        )
    }

    /// The input size: "158" tokens, "224px" for an image, "65s" for a clip.
    pub fn size(&self) -> String {
        match self.task.as_str() {
            "image" => format!("{}px", self.tokens),
            "speech" => format!("{}s", self.tokens),
            _ => self.tokens.to_string(),
        }
    }
}

pub fn start_run(c: &Connection, git_commit: &str, machine: &str, args: &str) -> Result<i64> {
    let started = String::from_utf8(std::process::Command::new("date").arg("-u").arg("+%FT%TZ").output()?.stdout)?;
    c.execute(
        "INSERT INTO runs (started, git_commit, machine, args) VALUES (?1, ?2, ?3, ?4)",
        params![started.trim(), git_commit, machine, args],
    )?;
    Ok(c.last_insert_rowid())
}

pub fn insert(c: &Connection, run: i64, x: &Cell) -> Result<()> {
    c.execute(
        "INSERT INTO cells (run_id, browser, browser_version, adapter, library, backend, dtype, tokens, batch,
            status, error, attempts, load_network_ms, load_cache_ms, first_ms, median_ms, p90_ms, throughput, memory_bytes,
            confirm_median_ms, gpu_ms, task, threads)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        params![
            run, x.browser, x.browser_version, x.adapter, x.library, x.backend, x.dtype, x.tokens, x.batch, x.status,
            x.error, x.attempts, x.load_network_ms, x.load_cache_ms, x.first_ms, x.median_ms, x.p90_ms, x.throughput,
            x.memory_bytes, x.confirm_median_ms, x.gpu_ms, if x.task.is_empty() { "text" } else { &x.task },
            x.threads.max(1)
        ],
    )?;
    Ok(())
}

/// Every run id, oldest first.
pub fn runs(c: &Connection) -> Result<Vec<(i64, String, String)>> {
    let mut s = c.prepare("SELECT id, started, git_commit FROM runs ORDER BY id")?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn cells(c: &Connection, run: i64) -> Result<Vec<Cell>> {
    let mut s = c.prepare(
        "SELECT browser, browser_version, adapter, library, backend, dtype, tokens, batch, status, error, attempts,
            load_network_ms, load_cache_ms, first_ms, median_ms, p90_ms, throughput, memory_bytes, confirm_median_ms, gpu_ms,
            task, threads
         FROM cells WHERE run_id = ?1 ORDER BY id",
    )?;
    let rows = s.query_map([run], |r| {
        Ok(Cell {
            browser: r.get(0)?,
            browser_version: r.get(1)?,
            adapter: r.get(2)?,
            library: r.get(3)?,
            backend: r.get(4)?,
            dtype: r.get(5)?,
            tokens: r.get(6)?,
            batch: r.get(7)?,
            status: r.get(8)?,
            error: r.get(9)?,
            attempts: r.get(10)?,
            load_network_ms: r.get(11)?,
            load_cache_ms: r.get(12)?,
            first_ms: r.get(13)?,
            median_ms: r.get(14)?,
            p90_ms: r.get(15)?,
            throughput: r.get(16)?,
            memory_bytes: r.get(17)?,
            confirm_median_ms: r.get(18)?,
            gpu_ms: r.get(19)?,
            task: r.get(20)?,
            threads: r.get(21)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every cell of the runs before `run`, by cell key, oldest first: what `noise` compares with.
pub fn history(c: &Connection, run: i64) -> Result<std::collections::BTreeMap<String, Vec<Cell>>> {
    let mut out: std::collections::BTreeMap<String, Vec<Cell>> = Default::default();
    for (id, _, _) in runs(c)?.into_iter().filter(|r| r.0 < run) {
        for cell in cells(c, id)? {
            out.entry(cell.key()).or_default().push(cell);
        }
    }
    Ok(out)
}

/// Records a cell's confirmation median.
pub fn set_confirm(c: &Connection, run: i64, key: &str, median_ms: f64) -> Result<()> {
    for cell in cells(c, run)?.into_iter().filter(|x| x.key() == key) {
        c.execute(
            "UPDATE cells SET confirm_median_ms = ?1 WHERE run_id = ?2 AND browser = ?3 AND library = ?4
                AND backend = ?5 AND dtype = ?6 AND tokens = ?7 AND batch = ?8 AND task = ?9 AND threads = ?10",
            params![
                median_ms,
                run,
                cell.browser,
                cell.library,
                cell.backend,
                cell.dtype,
                cell.tokens,
                cell.batch,
                cell.task,
                cell.threads
            ],
        )?;
    }
    Ok(())
}
