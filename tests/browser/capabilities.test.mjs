// detect() and recommend() in real browsers, through the capabilities page: with the
// WebGPU flags (Chromium: SwiftShader; Firefox: wgpu over lavapipe, as
// ../shared/ENVIRONMENT.md records them) and without, plus the WebNN probe. Chromium also
// gets a screenshot, and the test reads the rendered text, not just the data.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';
import { launch, browsersToTest } from '../../scripts/drive.mjs';

const SHOTS = new URL('../../target/screenshots/', import.meta.url).pathname;

async function capabilities(browser, url) {
  const p = await browser.newPage();
  await p.goto(`${url}capabilities/`);
  const caps = await p.waitFor(() => window.detected);
  assert.ok(!caps.error, caps.error);
  const rec = await p.evaluate(() => window.recommended);
  return { p, caps, rec };
}

for (const name of browsersToTest()) {
  describe(`capabilities in ${name}`, () => {
    let server, url;
    before(async () => {
      ({ server, url } = await startServer());
    });
    after(() => server?.close());

    test('with WebGPU on: the adapter, features and limits of this machine', async () => {
      const browser = await launch(name);
      try {
        const { p, caps, rec } = await capabilities(browser, url);
        const gpu = caps.webgpu;
        assert.equal(gpu.available, true, gpu.reason);
        assert.equal(caps.wasm.simd, true);
        assert.equal(caps.wasm.relaxedSimd, true);
        assert.equal(caps.wasm.threads.crossOriginIsolated, true, 'the server sends COOP/COEP');
        assert.equal(caps.storage.available, true);
        assert.equal(rec.backend, 'wasm');
        assert.equal(rec.variant, 'simd128+relaxed');
        if (name === 'chromium') {
          assert.equal(caps.browser.engine, 'blink');
          assert.equal(caps.browser.source, 'ua-ch');
          assert.match(gpu.adapter.description + gpu.adapter.vendor + gpu.adapter.architecture, /swiftshader/i);
          assert.ok(gpu.features.includes('subgroups') && gpu.features.includes('timestamp-query'), gpu.features.join());
          assert.ok(!gpu.features.includes('shader-f16'));
          assert.equal(gpu.limits.maxStorageBufferBindingSize, 2 ** 30);
          // WebNN: exposed by the flag, but this Linux build has no backend for it.
          assert.equal(caps.webnn.present, true);
          for (const d of ['accelerated', 'cpu']) assert.equal(caps.webnn.contexts[d].available, false, d);
          assert.match(caps.webnn.contexts.cpu.reason, /not supported/i);
          assert.match(rec.reasons.join('\n'), /webnn: navigator\.ml is present but no context can be created/);
          // The rendered page, as a user sees it.
          const table = await p.text('#caps');
          assert.match(table, /WebGPU\s*yes/);
          assert.match(table, /WebNN\s*navigator\.ml present/);
          assert.match(await p.text('#recommendation'), /Backend wasm, variant simd128\+relaxed/);
          mkdirSync(SHOTS, { recursive: true });
          await p.screenshot(`${SHOTS}capabilities-chromium.png`);
        } else {
          assert.equal(caps.browser.engine, 'gecko');
          assert.equal(caps.browser.name, 'Firefox');
          assert.ok(gpu.features.includes('shader-f16'), gpu.features.join());
          assert.equal(gpu.limits.maxStorageBufferBindingSize, 128 * 2 ** 20);
          assert.equal(caps.webnn.present, false);
          assert.match(rec.reasons.join('\n'), /webnn: unavailable: navigator\.ml is absent/);
        }
        // SwiftShader names itself a software adapter; Firefox hides what its adapter is.
        const why = name === 'chromium' ? /^webgpu: adapter '.*swiftshader.*' is a software adapter/ : /^webgpu: /;
        assert.match(rec.reasons[0], why);
        assert.match(rec.reasons[0], /is a software adapter|does not name itself/);
        await p.close();
      } finally {
        await browser.close();
      }
    });

    if (name === 'chromium') {
      // The real WebNN of this Chromium (the flag on, createContext rejecting): a load on
      // 'auto' runs on wasm and says why WebNN was not used; asking for 'webnn' is
      // backend_unavailable with the browser's reason.
      test("WebNN whose createContext rejects: 'auto' loads on wasm, 'webnn' is backend_unavailable", async () => {
        const browser = await launch(name);
        try {
          const p = await browser.newPage();
          await p.goto(`${url}capabilities/`);
          await p.waitFor(() => window.detected);
          const r = await p.evaluate(async () => {
            const m = await import('/pkg/index.js');
            await m.init();
            const base = new URL('/models/all-MiniLM-L6-v2/', location.href).href;
            const e = await m.TextEmbedder.load(base, { cache: false });
            const out = { backend: e.backend, reasons: e.backendReasons, dims: (await e.embed(['hello']))[0].length };
            try {
              await m.TextEmbedder.load(base, { backend: 'webnn', cache: false });
              out.webnn = 'loaded';
            } catch (err) {
              out.webnn = `${err.code}: ${err.message}`;
            }
            return out;
          });
          assert.equal(r.backend, 'wasm');
          assert.equal(r.dims, 384);
          assert.match(r.reasons.join('\n'), /webnn: navigator\.ml is present but no context can be created \(.*not supported/i);
          assert.match(r.webnn, /^backend_unavailable: .*webnn \(createContext was refused: NotSupportedError/);
          await p.close();
        } finally {
          await browser.close();
        }
      });
    }

    test('with WebGPU off: reported unavailable, and recommend picks wasm saying why', async () => {
      const browser = await launch(name, { webgpu: false });
      try {
        const { p, caps, rec } = await capabilities(browser, url);
        assert.equal(caps.webgpu.available, false);
        assert.ok(caps.webgpu.reason.length > 0);
        assert.equal(rec.backend, 'wasm');
        assert.ok(rec.reasons[0].startsWith('webgpu: unavailable: '), rec.reasons[0]);
        assert.match(await p.text('#caps'), /WebGPU\s*no:/);
        await p.close();
      } finally {
        await browser.close();
      }
    });
  });
}
