// The image demo (www/images/) in headless Chromium (playwright-core), served by the real
// static server: pick three committed images, check each gets a saliency overlay and the
// others a similarity score against the query, and that clicking another makes it the
// query. Screenshot in target/screenshots/images-demo.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { chromiumArgs } from '../../scripts/browsers.mjs';
import { browsersToTest } from '../../scripts/drive.mjs';

let server, url, browser;
const skip = !browsersToTest().includes('chromium') && 'the image demo test drives Chromium only';
const image = (n) => fileURLToPath(new URL(`../fixtures/dinov2/images/${n}`, import.meta.url));

before(async () => {
  if (skip) return;
  ({ server, url } = await startServer());
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the image demo ranks images and draws their saliency', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}images/`);
  await page.waitForSelector('#files:not([disabled])', { timeout: 120_000 });
  await page.setInputFiles('#files', ['landscape_320x240.png', 'portrait_200x300.png', 'gray_512x128.png'].map(image));
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Ranked'), null, { timeout: 120_000 });
  const captions = await page.$$eval('figcaption', (cs) => cs.map((c) => c.textContent));
  assert.equal(captions.length, 3);
  assert.ok(captions[0].startsWith('query: landscape_320x240.png'), captions.join(' | '));
  for (const c of captions.slice(1)) {
    const score = Number(c.split(' ')[0]);
    assert.ok(score > -1 && score < 1, `score of ${c}`);
  }
  // The saliency overlay tints the canvas: some pixels are far redder than green.
  const reddish = await page.$eval('figure canvas', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > d[i + 1] + 60) n++;
    return n;
  });
  assert.ok(reddish > 100, `${reddish} reddish pixels`);
  await page.click('figure:nth-child(2)');
  const after = await page.$$eval('figcaption', (cs) => cs.map((c) => c.textContent));
  assert.ok(after[0].startsWith('query:') && !after[0].includes('landscape'), after.join(' | '));
  mkdirSync('target/screenshots', { recursive: true });
  await page.screenshot({ path: 'target/screenshots/images-demo.png' });
  assert.deepEqual(errors, []);
});
