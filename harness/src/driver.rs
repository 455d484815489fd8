//! WebDriver servers (chromedriver, geckodriver) started on free ports, each in its own
//! process group so that killing the group also ends every browser process it started, and
//! nothing else: the harness never kills processes it did not start.

use anyhow::{bail, Context, Result};
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct Driver {
    child: Child,
    pub url: String,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Driver {
    /// Starts the driver for `browser` and waits until it answers `/status`.
    pub async fn start(browser: &str) -> Result<Self> {
        let port = free_port()?;
        let (program, args) = match browser {
            "chromium" => ("chromedriver", vec![format!("--port={port}")]),
            "firefox" => ("geckodriver", vec!["--port".to_string(), port.to_string()]),
            other => bail!("unknown browser {other}: use chromium or firefox"),
        };
        let child = Command::new(program)
            .args(&args)
            .process_group(0)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {program} (npm run setup installs it)"))?;
        let url = format!("http://127.0.0.1:{port}");
        let d = Driver { child, url };
        // Tests read this line to check that nothing of the group outlives the run.
        eprintln!("started {program} on port {port}, process group {}", d.pgid_for_faults());
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(d);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{program} did not listen on port {port} within 10 s")
    }

    fn pgid(&self) -> Option<i32> {
        self.child.id().map(|p| p as i32)
    }

    /// The process group, for fault injection from another task (0 when the driver is gone).
    pub fn pgid_for_faults(&self) -> i32 {
        self.pgid().unwrap_or(0)
    }

    /// Kills the driver and everything in its group.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid() {
            // SAFETY: kill(2) on the process group this driver leads.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills the browser processes of a driver's group, leaving the driver itself running
/// (fault injection: a crashed browser). Returns how many were killed.
pub fn kill_group_except_leader(pgid: i32) -> usize {
    if pgid <= 0 {
        return 0;
    }
    let victims: Vec<i32> = group_members(pgid).into_iter().filter(|&p| p != pgid).collect();
    for &pid in &victims {
        // SAFETY: kill(2) on a process of a group this harness started; no memory is touched.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    victims.len()
}

/// Pids whose process group is `pgid`, from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                // Fields after the parenthesised command: state ppid pgrp ...
                .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().nth(2).map(String::from)))
                .flatten()
                .and_then(|g| g.parse::<i32>().ok())
                == Some(pgid)
        })
        .collect()
}
