// The HTML report `harness report` writes (here the one harness/tests/bench.rs leaves in
// target/harness-test/, from two runs), opened in headless Chromium: both SVG charts are
// drawn with data, the table has a row per cell, and a screenshot is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, browsersToTest } from '../../scripts/drive.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPORT = `${ROOT}target/harness-test/report.html`;
const skip = !browsersToTest().includes('chromium') && 'the report is checked in Chromium';

test('the benchmark report renders its charts and table', { skip }, async () => {
  assert.ok(existsSync(REPORT), `${REPORT} is missing: cargo test -p harness writes it (npm test runs it first)`);
  const browser = await launch('chromium');
  try {
    const p = await browser.newPage();
    await p.goto(`file://${REPORT}`);
    const seen = await p.evaluate(() => ({
      charts: [...document.querySelectorAll('svg')].map((s) => s.querySelectorAll('polyline, path, circle').length),
      rows: document.querySelectorAll('#cells tbody tr').length,
      trend: document.getElementById('trend').textContent,
      heading: document.querySelector('h1').textContent,
    }));
    assert.equal(seen.charts.length, 2);
    assert.ok(seen.charts.every((n) => n > 3), `drawn series: ${seen.charts}`);
    assert.equal(seen.rows, 2, 'one row per cell of the last run');
    assert.match(seen.trend, /run 1 \(.*run 2 \(/s);
    assert.match(seen.heading, /^Benchmark report, run 2$/);
    mkdirSync(`${ROOT}target/screenshots`, { recursive: true });
    await p.screenshot(`${ROOT}target/screenshots/harness-report-chromium.png`);
  } finally {
    await browser.close();
  }
});
