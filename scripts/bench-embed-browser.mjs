// Opens www/bench/embed.html in headless Chromium and prints ms per embedding beside the
// transformers.js numbers measured on this machine (../shared/ENVIRONMENT.md).
// A benchmark, not a test: it asserts nothing about speed.
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { chromiumArgs } from './browsers.mjs';

const BASELINE = { '12 tokens': 50, '158 tokens': 357, 'batch 8 × 158 tokens': 1930 };
const { server, url } = await startServer();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench/embed.html`);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 300_000 });
  const r = await page.evaluate(() => window.benchResults);
  if (r.error) throw new Error(r.error);
  console.log(`chromium ${browser.version()}, ${r.path}, model load ${r.loadMs.toFixed(0)} ms`);
  for (const row of r.results) {
    const base = BASELINE[row.name];
    console.log(
      `${row.name.padEnd(22)} median ${row.median.toFixed(1).padStart(7)} ms  p90 ${row.p90.toFixed(1).padStart(7)} ms` +
        `  (transformers.js int8: ${base} ms, ratio ${(base / row.median).toFixed(2)}x)`,
    );
  }
} finally {
  await browser.close();
  server.close();
}
