// TextEmbedder on WebGPU in real browsers (Chromium: SwiftShader; Firefox: wgpu over
// lavapipe), on every shader variant the adapter grants, against the float64 numpy
// reference (tests/fixtures/minilm/embeddings.json, from gen_minilm.py next to it).
// Tolerance: cosine >= 0.9999 (f32 variants) and >= 0.999 for the f16-weight variant.
// Also: a forward pass is one submission and one readback, a destroyed device is
// replaced once for all the embeds in flight, and forcing a variant the adapter lacks is
// a clear error.
// Each run prints a `webgpu-count:` line the test summary collects.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/minilm/embeddings.json', import.meta.url)));
// The tiled variant runs every fixture text, which keeps SwiftShader's and lavapipe's slow
// 256-token passes to one per browser; f16 the texts of up to 64 tokens; subgroup, whose
// workgroup per 1×4 block SwiftShader runs 10× slower than tiled (20 s for a 10-token
// text), the 2-token one: here it is the option's path that is checked, and the
// wasm-bindgen suite runs the texts of up to 12 tokens on every variant
// (tests/minilm_reference.rs).
const longest = { tiled: Infinity, f16: 64, subgroup: 2 };
const casesFor = (variant) => fixture.cases.filter((c) => c.ids.length <= longest[variant]);

const cosine = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
};

/** In the page: load MiniLM on WebGPU with `variant`, embed `texts`, report. */
async function inPage({ variant, texts, lose }) {
  const m = await import('/pkg/index.js');
  await m.init();
  try {
    const e = await m.TextEmbedder.load(new URL('/models/all-MiniLM-L6-v2/', location.href).href, {
      backend: 'webgpu',
      shaderVariant: variant,
      cache: false,
      // No output cache: the second embed below must run.
      session: m.Session.create({ budget: 0 }),
    });
    const vectors = (await e.embed(texts)).map((v) => Array.from(v));
    const before = e.gpuInfo;
    await e.embed(texts.slice(0, 2));
    const after = e.gpuInfo;
    let recovered = null;
    if (lose) {
      // Four embeds in flight when the device goes share one replacement device.
      e.loseDeviceForTesting();
      const all = await Promise.all([0, 1, 2, 3].map(() => e.embed(texts.slice(0, 1))));
      recovered = { vectors: all.map(([v]) => Array.from(v)), info: e.gpuInfo };
    }
    return { vectors, before, after, recovered, backend: e.backend };
  } catch (err) {
    return { error: `${err.code}: ${err.message}` };
  }
}

for (const name of browsersToTest()) {
  describe(`WebGPU in ${name}`, () => {
    const ctx = openPage(name);

    // What this machine's adapters grant: SwiftShader has subgroups (asked for past wgpu,
    // see src/backend/webgpu/subgroups_too.rs) but no shader-f16; Firefox's wgpu has
    // shader-f16 but offers no subgroups on the web.
    const expected = { chromium: ['tiled', 'subgroup'], firefox: ['tiled', 'f16'] }[name];
    for (const variant of expected) {
      test(`MiniLM on the ${variant} variant matches the float64 reference`, async () => {
        const cases = casesFor(variant);
        const r = await ctx.page.evaluate(inPage, { variant, texts: cases.map((c) => c.text), lose: variant === 'tiled' });
        assert.ok(!r.error, r.error);
        assert.equal(r.backend, 'webgpu');
        assert.equal(r.before.shaderVariant, variant);
        const min = variant === 'f16' ? 0.999 : 0.9999;
        const worst = Math.min(...cases.map((c, i) => cosine(r.vectors[i], c.embedding)));
        assert.ok(worst >= min, `worst cosine ${worst} < ${min}`);
        // Two texts are one batch: one submission and one readback.
        assert.equal(r.after.submissions - r.before.submissions, 1);
        assert.equal(r.after.readbacks - r.before.readbacks, 1);
        if (r.recovered) {
          assert.equal(r.recovered.info.devices, 2, 'one new device for the four embeds in flight at the loss');
          for (const v of r.recovered.vectors) assert.ok(cosine(v, r.vectors[0]) > 0.99999);
        }
        console.log(
          `webgpu-count: ${name} (${r.before.adapter}) variant ${variant}: MiniLM ${cases.length} texts, worst cosine ${worst.toFixed(7)}`,
        );
      });
    }

    test('forcing a variant this adapter lacks is a backend_unavailable error', async () => {
      const missing = name === 'chromium' ? 'f16' : 'subgroup';
      // Chromium's adapter has no shader-f16; Firefox's no subgroups.
      const r = await ctx.page.evaluate(inPage, { variant: missing, texts: ['x'], lose: false });
      assert.match(r.error ?? '', /^backend_unavailable: .*variant '?\w+'? \(needs/);
    });
  });
}
