// After every error the module still works, in Chromium and Firefox: a battery of bad
// inputs (ops, tensors, texts, load options, sources, signals, freed objects), each
// followed by a reference embedding (within 1e-4 of the float64 fixture from
// tests/fixtures/minilm/gen_minilm.py) and an op. A trap would poison the instance and
// fail every later check; a wrong code fails the case itself.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';
import { launch, browsersToTest } from '../../scripts/drive.mjs';

const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/minilm/embeddings.json', import.meta.url)));

/** In the page: runs every case, and after each one the reference embedding and an op. */
function sweep({ text, want }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const { Tensor, TextEmbedder, WeightStore, ops } = m;
    const model = new URL('/models/all-MiniLM-L6-v2/', location.href).href;
    const reference = await TextEmbedder.load(model, { cache: false, backend: 'wasm' });
    const t = (data, dims) => new Tensor(new Float32Array(data), dims);
    const freed = () => {
      const x = t([1], [1]);
      x.free();
      return x;
    };
    const cases = [
      ['oversized broadcast', 'invalid_argument', () => ops.add(t(new Array(32768).fill(0), [32768, 1]), t(new Array(65536).fill(0), [1, 65536]))],
      ['overflowing dims', 'invalid_argument', () => new Tensor(new Float32Array(0), [65536, 65536])],
      ['shape mismatch', 'shape_mismatch', () => ops.matmul(t([1, 2], [1, 2]), t([1, 2], [1, 2]))],
      ['gather out of range', 'invalid_argument', () => ops.gather(t([1, 2], [2, 1]), Tensor.fromInt32([5], [1]))],
      ['a freed tensor', 'disposed', () => ops.relu(freed())],
      ['not a tensor', 'invalid_argument', () => ops.relu([1, 2])],
      ['a number among texts', 'invalid_argument', () => reference.embed(['ok', 7])],
      ['texts not an array', 'invalid_argument', () => reference.embed('ok')],
      ['an aborted embed', 'aborted', () => reference.embed(['ok'], { signal: AbortSignal.abort() })],
      ['a bad embed option', 'invalid_argument', () => reference.embed(['ok'], { signal: 'no' })],
      ['a 404 source', 'fetch_failed', () => TextEmbedder.load(new URL('/models/nope/', location.href).href, { cache: false })],
      ['HTML for config.json', 'invalid_config', () => TextEmbedder.load(new URL('/html/', location.href).href, { cache: false })],
      ['an unknown backend', 'invalid_argument', () => TextEmbedder.load(model, { backend: 'tpu' })],
      ['a negative stall timeout', 'invalid_argument', () => TextEmbedder.load(model, { stallTimeoutMs: -5 })],
      ['an aborted load', 'aborted', () => TextEmbedder.load(model, { signal: AbortSignal.abort(), store: 'recovery' })],
      ['an unreachable server', 'fetch_failed', () => TextEmbedder.load('http://127.0.0.1:9/m/', { cache: false })],
      ['a negative budget', 'invalid_argument', () => WeightStore.open({ name: 'recovery', budget: -1 })],
      [
        'a load that cannot fit the budget',
        'quota_exceeded',
        async () => TextEmbedder.load(model, { store: await WeightStore.open({ name: 'tiny', budget: 1000 }) }),
      ],
      [
        'a freed embedder',
        'disposed',
        async () => {
          const e = await TextEmbedder.load(model, { cache: false, backend: 'wasm' });
          e.free();
          return e.embed(['x']);
        },
      ],
    ];
    const results = [];
    for (const [name, code, run] of cases) {
      let got;
      try {
        await run();
        got = 'no error';
      } catch (e) {
        got = e?.code ?? `uncoded: ${e}`;
      }
      // The module still works: the reference embedding and an op.
      let after;
      try {
        const [v] = await reference.embed([text]);
        const diff = Math.max(...want.map((w, i) => Math.abs(w - v[i])));
        const sum = Array.from(ops.add(t([1, 2], [2]), t([3, 4], [2])).toFloat32Array()).join(',');
        after = diff <= 1e-4 && sum === '4,6' ? 'works' : `wrong: diff ${diff}, sum ${sum}`;
      } catch (e) {
        after = `broken: ${e?.code ?? e}`;
      }
      results.push({ name, want: code, got, after });
    }
    reference.free();
    return results;
  })();
}

for (const name of browsersToTest()) {
  describe(`recovery in ${name}`, () => {
    let server, url, browser;
    before(async () => {
      // /html/ answers every file with an HTML page, as a misconfigured host would.
      const respond = (req, res, path) => {
        if (!path.startsWith('/html/')) return false;
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>Not here</title>');
        return true;
      };
      ({ server, url } = await startServer({ hooks: { respond } }));
      browser = await launch(name, { webgpu: false });
    });
    after(async () => {
      await browser?.close();
      server?.close();
    });

    test('every error is coded, and after each the reference embedding and an op still work', async () => {
      const page = await browser.newPage();
      await page.goto(url);
      const c = FIXTURE.cases[0];
      const results = await page.evaluate(sweep, { text: c.text, want: c.embedding });
      await page.close();
      const wrong = results.filter((r) => r.got !== r.want || r.after !== 'works');
      assert.deepEqual(wrong, [], JSON.stringify(wrong, null, 1));
      assert.equal(results.length, 19);
    });
  });
}
