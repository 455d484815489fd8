// Opens www/bench/matmul.html in headless Chromium and prints the simd128 GFLOP/s.
// A benchmark, not a test: it asserts nothing about speed.
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { chromiumArgs } from './browsers.mjs';

const { server, url } = await startServer();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
try {
  const page = await browser.newPage();
  await page.goto(`${url}bench/matmul.html`);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 120_000 });
  const r = await page.evaluate(() => window.benchResults);
  if (r.error) throw new Error(r.error);
  const version = browser.version();
  for (const row of r.results) {
    console.log(`chromium ${version} ${r.path}: ${row.shape}: ${row.ms.toFixed(2)} ms, ${row.gflops.toFixed(2)} GFLOP/s (${row.runs} runs)`);
  }
} finally {
  await browser.close();
  server.close();
}
