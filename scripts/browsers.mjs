// Browser flags and prefs, read from webdriver.json so that the wasm-bindgen tests,
// the page tests and the benchmarks launch browsers the same way.
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(new URL('../webdriver.json', import.meta.url), 'utf8'));

/** Chromium command-line flags (headless is the launcher's to add). */
export function chromiumArgs() {
  return config['goog:chromeOptions'].args;
}

/** Firefox preferences. */
export function firefoxPrefs() {
  return config['moz:firefoxOptions'].prefs;
}
