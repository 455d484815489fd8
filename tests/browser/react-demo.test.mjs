// The Vite + React demo (built from the packed package by tests/package/) in headless
// Chromium and Firefox: capabilities and load progress show, typed text gets an embedding
// that matches the float64 reference, StrictMode's double effects load the model once,
// and unmounting the last user disposes it. Chromium also takes a screenshot.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { launch, browsersToTest } from '../../scripts/drive.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = `${ROOT}www/react-demo/dist`;
const SHOTS = `${ROOT}target/screenshots/`;
const FIXTURE = JSON.parse(readFileSync(`${ROOT}tests/fixtures/minilm/embeddings.json`, 'utf8'));

for (const name of browsersToTest()) {
  describe(`React demo in ${name}`, () => {
    let server, url, browser;
    before(async () => {
      assert.ok(existsSync(`${DIST}/index.html`), 'www/react-demo/dist is missing: run tests/package/ first (npm test does)');
      ({ server, url } = await startServer({ mounts: [['/models/', `${ROOT}models`], ['/', DIST]] }));
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
      server?.close();
    });

    test('shows capabilities and progress, embeds typed text, loads once, disposes on unmount', async () => {
      const p = await browser.newPage();
      await p.goto(url);
      await p.waitFor(() => document.getElementById('status')?.textContent.startsWith('ready'));
      assert.match(await p.text('#status'), /^ready \(from network\)$/);
      assert.match(await p.text('#progress'), /\.json: (\d+) \/ \1 bytes \(100%\)$/);
      assert.match(await p.text('#backend'), /^wasm — webgpu: .*wasm: chosen/);
      assert.match(await p.text('#cap-browser'), name === 'chromium' ? /\(blink\)$/ : /^Firefox .*\(gecko\)$/);
      assert.match(await p.text('#cap-webgpu'), name === 'chromium' ? /SwiftShader/i : /\S/);
      const c = FIXTURE.cases[0];
      await p.evaluate((text) => {
        const input = document.getElementById('text');
        // React tracks the value through the native setter; set it that way, then fire input.
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, text);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, c.text);
      await p.evaluate(() => document.getElementById('embed').click());
      const shown = await p.waitFor(() => document.getElementById('embedding')?.textContent);
      assert.ok(shown.includes(`"${c.text}" → 384 dims`), shown);
      const values = /\[(.*), …\]/.exec(shown)[1].split(', ').map(Number);
      values.forEach((v, i) => assert.ok(Math.abs(v - c.embedding[i]) <= 1e-4, `dim ${i}: ${v} vs ${c.embedding[i]}`));
      // StrictMode mounted, unmounted and mounted the embedder: still one load.
      assert.match(await p.text('#stats'), /models loaded: 1, live: 1, disposed: 0/);
      if (name === 'chromium') {
        mkdirSync(SHOTS, { recursive: true });
        await p.screenshot(`${SHOTS}react-demo-chromium.png`);
      }
      await p.evaluate(() => document.getElementById('toggle').click());
      await p.waitFor(() => /live: 0, disposed: 1/.test(document.getElementById('stats').textContent));
      await p.close();
    });
  });
}
