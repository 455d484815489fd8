// The speech demo (www/transcribe/) in headless Chromium (playwright-core), served by the
// real static server: pick a committed clip, check its segments appear with their times
// and the reference's words, then pick another and check it replaces them. Screenshot in
// target/screenshots/transcribe-demo.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { chromiumArgs } from '../../scripts/browsers.mjs';
import { browsersToTest } from '../../scripts/drive.mjs';

let server, url, browser;
const skip = !browsersToTest().includes('chromium') && 'the speech demo test drives Chromium only';
const clip = (n) => fileURLToPath(new URL(`../fixtures/whisper/audio/${n}`, import.meta.url));
const ref = JSON.parse(readFileSync(new URL('../fixtures/whisper/reference.json', import.meta.url)));

before(async () => {
  if (skip) return;
  ({ server, url } = await startServer());
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the speech demo lists timed segments as they are decoded', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}transcribe/`);
  await page.waitForSelector('#file:not([disabled])', { timeout: 120_000 });
  const done = () => page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Done'), null, { timeout: 120_000 });
  await page.setInputFiles('#file', clip('numbers.wav'));
  await done();
  const items = await page.$$eval('#segments li', (ls) => ls.map((l) => l.textContent));
  assert.equal(items.length, ref['numbers.wav'].segments.length, items.join(' | '));
  assert.match(items[0], /^\[0:00\.00 → 0:0\d\.\d\d\]/);
  assert.ok(items.join(' ').includes('quarterly report'), items.join(' | '));
  await page.setInputFiles('#file', clip('hello.wav'));
  await done();
  const again = await page.$$eval('#segments li', (ls) => ls.map((l) => l.textContent));
  assert.equal(again.length, 1);
  assert.ok(again[0].includes('Hello world'), again[0]);
  mkdirSync('target/screenshots', { recursive: true });
  await page.screenshot({ path: 'target/screenshots/transcribe-demo.png' });
  assert.deepEqual(errors, []);
});
