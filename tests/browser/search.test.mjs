// The semantic-search demo in headless Chromium (playwright-core), served by the real
// static server: type a query, check the expected sentence ranks first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { chromiumArgs } from '../../scripts/browsers.mjs';
import { browsersToTest } from '../../scripts/drive.mjs';

let server, url, browser;
const skip = !browsersToTest().includes('chromium') && 'the search demo test drives Chromium only';

before(async () => {
  if (skip) return;
  ({ server, url } = await startServer());
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('search ranks the matching sentence first', { skip }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}search/`);
  await page.waitForSelector('#query:not([disabled])', { timeout: 120_000 });
  // Chromium validates relaxed SIMD, so the loader's automatic choice is the relaxed build.
  assert.equal(await page.textContent('#backend'), 'backend: wasm, simd128+relaxed');
  for (const [query, expected] of [
    ['kitten napping by the window', 'A cat is sleeping on the sunny windowsill.'],
    ['recipe for baking', 'How do I bake sourdough bread at home?'],
    ['space launch', 'Rockets launch satellites into orbit around the Earth.'],
  ]) {
    await page.evaluate(() => (document.getElementById('status').textContent = ''));
    await page.fill('#query', query);
    await page.press('#query', 'Enter');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ranked'));
    const first = await page.textContent('#results li:first-child');
    assert.ok(first.includes(expected), `"${query}": first result "${first}"`);
    const score = Number(first.trim().split(/\s+/)[0]);
    assert.ok(score > 0.2 && score <= 1, `score ${score}`);
  }
  assert.deepEqual(errors, []);
});
