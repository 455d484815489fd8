//! A browser session over WebDriver (fantoccini), launched with the flags and prefs of the
//! repository's webdriver.json, the one place the tests and the benchmarks share them.

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Capabilities for `browser`, from webdriver.json, headless.
pub fn capabilities(root: &Path, browser: &str) -> Result<serde_json::Map<String, Value>> {
    let path = root.join("webdriver.json");
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| path.display().to_string())?)?;
    let mut caps = serde_json::Map::new();
    match browser {
        "chromium" => {
            let mut o = all["goog:chromeOptions"].clone();
            o["args"].as_array_mut().context("webdriver.json: chrome args")?.push(json!("--headless=new"));
            caps.insert("browserName".into(), json!("chrome"));
            caps.insert("goog:chromeOptions".into(), o);
        }
        "firefox" => {
            let mut o = all["moz:firefoxOptions"].clone();
            o["args"] = json!(["-headless"]);
            caps.insert("browserName".into(), json!("firefox"));
            caps.insert("moz:firefoxOptions".into(), o);
        }
        other => bail!("unknown browser {other}"),
    }
    Ok(caps)
}

pub async fn connect(webdriver: &str, caps: serde_json::Map<String, Value>) -> Result<Client> {
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector).capabilities(caps).connect(webdriver).await?)
}

/// The browser's name and version, as its session reports them.
pub fn version(client: &Client) -> String {
    let c = client.capabilities();
    let name = c.and_then(|c| c.get("browserName")).and_then(Value::as_str).unwrap_or("?");
    let v = c.and_then(|c| c.get("browserVersion")).and_then(Value::as_str).unwrap_or("?");
    format!("{name} {v}")
}

/// A failure the page itself reported (a bad model URL, a backend the browser lacks):
/// retrying on a fresh browser would give the same answer.
#[derive(Debug)]
pub struct PageError(pub String);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PageError {}

/// Opens `url` and waits for the page to leave a result in `window[var]`.
pub async fn run_page(client: &Client, url: &str, var: &str, timeout: Duration) -> Result<Value> {
    client.goto(url).await?;
    let until = Instant::now() + timeout;
    loop {
        let v = client.execute(&format!("return window.{var} ?? null;"), vec![]).await?;
        if !v.is_null() {
            if let Some(e) = v.get("error").and_then(Value::as_str) {
                return Err(PageError(e.to_string()).into());
            }
            return Ok(v);
        }
        if Instant::now() > until {
            bail!("no result from {url} within {} s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
