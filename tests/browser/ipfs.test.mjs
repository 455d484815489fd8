// Models by content in real browsers: MiniLM (and the image and speech models) loaded by
// the CID an independent importer (ipfs-unixfs-importer, every profile) gave their files,
// through a real trustless gateway (Helia's verified-fetch, tests/ipfs-gateway/) on
// loopback, and compared bit for bit with the same files loaded by URL. Gateways that
// flip a byte, drop a block, cut a CAR short or stall are survived beside a good one, and
// are coded errors alone; an interrupted load resumes; a CID loads offline once stored.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { browsersToTest } from '../../scripts/drive.mjs';
import { startGateways } from '../ipfs-gateway/spawn.mjs';
import { storeSuite, storeState, MODELS, MODEL } from './store-setup.mjs';

const DIR = `${MODELS}/${MODEL}`;
// The files MiniLM's loader asks for (bert.rs FILES) that the model has.
const FILES = ['config.json', 'tokenizer.json', 'model.safetensors', '1_Pooling/config.json', 'sentence_bert_config.json', 'modules.json'];
const WEIGHTS_SIZE = statSync(`${DIR}/model.safetensors`).size;
const PROFILES = {
  'unixfs-v1-2025': { profile: 'unixfs-v1-2025' },
  'unixfs-v0-2015': { profile: 'unixfs-v0-2015' },
  default: {},
  trickle: { layout: 'trickle' },
  hamt: { shardSplitThresholdBytes: 1 },
};
const TEXTS = ['models by content', 'a second, longer sentence to embed through the gateway'];

/** In the page: loads `source` with `opts` (plus gateways) and embeds TEXTS; errors come
 * back as data, with what onProgress said of failing gateways. */
function embedInPage({ source, opts, texts }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const failures = [];
    let read = 0;
    const onProgress = (p) => {
      if (p.gateway) failures.push({ gateway: p.gateway, error: p.error, reason: p.reason });
      else if (p.file === 'model.safetensors') read = Math.max(read, p.loaded);
    };
    try {
      const e = await m.TextEmbedder.load(source, { ...opts, onProgress });
      const out = await e.embed(texts);
      const r = { from: e.loadedFrom, vectors: out.map((v) => Array.from(v)), failures, read };
      e.dispose();
      return r;
    } catch (err) {
      return { code: err.code, message: err.message, failures, read };
    }
  })();
}

for (const browserName of browsersToTest()) {
  describe(`IPFS loads in ${browserName}`, () => {
    const s = storeSuite(browserName);
    let gw;
    let want;
    before(async () => {
      gw = await startGateways({ dir: DIR, files: FILES, imports: PROFILES, ports: 2 });
    });
    after(() => gw?.stop());

    const byUrl = async (p) => {
      want ??= await p.evaluate(embedInPage, { source: s.models.modelUrl(), opts: { cache: false }, texts: TEXTS });
      assert.ok(want.vectors, JSON.stringify(want));
      return want;
    };

    test('every import profile: loaded by CID, the outputs equal the URL load bit for bit', async () => {
      const p = await s.page();
      const ref = await byUrl(p);
      for (const [name, root] of Object.entries(gw.roots)) {
        const t = Date.now();
        const got = await p.evaluate(embedInPage, { source: `ipfs://${root}`, opts: { cache: false, gateways: [gw.urls[0]] }, texts: TEXTS });
        assert.ok(got.vectors, `${name}: ${JSON.stringify(got)}`);
        assert.deepEqual(got.vectors, ref.vectors, `${name} (${root}) embeds as the URL load`);
        console.log(`ipfs (${browserName}): ${name} ${root} loaded in ${Date.now() - t} ms`);
      }
      await p.close();
    });
  });
}
