//! `harness`: serves the demo and benchmark pages, drives real browsers over WebDriver to
//! benchmark ipfs-accelerate against transformers.js, records results in SQLite and
//! reports them.

mod db;
mod driver;
mod matrix;
mod noise;
mod report;
mod serve;
mod session;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "harness", about = "Benchmark ipfs-accelerate in real browsers")]
struct Cli {
    /// The repository root (www/, pkg/, models/, webdriver.json live there).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve www/, pkg/ and models/ with COOP/COEP, MIME types and Range requests.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Run the benchmark matrix and store the results. (Boxed: the matrix's many options
    /// would make every variant as large.)
    Bench(Box<matrix::BenchArgs>),
    /// Turn stored results into a terminal table and an HTML report with SVG charts.
    Report {
        #[arg(long, default_value = "target/bench/results.sqlite")]
        db: PathBuf,
        #[arg(long, default_value = "target/bench/report.html")]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { port } => {
            let (addr, server) = serve::start(&cli.root, port).await?;
            println!("serving {} on http://{addr}/", cli.root.display());
            server.await??;
        }
        Command::Bench(args) => matrix::run(&cli.root, *args).await?,
        Command::Report { db, out } => {
            let conn = db::open(&db)?;
            let text = report::write(&conn, &out)?;
            println!("{text}");
            println!("report: {}", out.display());
        }
    }
    Ok(())
}
