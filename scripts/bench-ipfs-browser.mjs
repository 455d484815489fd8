// MiniLM loaded cold (empty store) by URL from a loopback server against by CID from one
// loopback trustless gateway (Helia's verified-fetch over the unixfs-v1-2025 import of
// the same files), in headless Chromium and Firefox: time to the first embedding, median
// of RUNS, alternating. Also the MB/s at which the page hashes the model's blocks
// (`WeightStore.cidOf`: every 1 MiB leaf through sha-256, as verification does, plus the
// store's own read-back). A benchmark, not a test: it asserts nothing about speed.
import { startServer } from './serve.mjs';
import { launch } from './drive.mjs';
import { startGateways } from '../tests/ipfs-gateway/spawn.mjs';
import { fileURLToPath } from 'node:url';
import { statSync } from 'node:fs';

const RUNS = Number(process.env.RUNS ?? 5);
const browsers = (process.argv[2] ?? 'chromium,firefox').split(',');
const DIR = fileURLToPath(new URL('../models/all-MiniLM-L6-v2', import.meta.url));
const FILES = ['config.json', 'tokenizer.json', 'model.safetensors', '1_Pooling/config.json', 'sentence_bert_config.json', 'modules.json'];
const BYTES = FILES.reduce((a, f) => a + statSync(`${DIR}/${f}`).size, 0);

/** In the page: ms from the start of a cold load (store cleared) to the first embedding. */
function firstEmbedding({ source, gateway }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    const store = await m.WeightStore.open({ name: 'bench-ipfs' });
    await store.clear();
    const t0 = performance.now();
    const e = await m.TextEmbedder.load(source, { store: 'bench-ipfs', gateways: [gateway] });
    await e.embed(['how long until the first embedding?']);
    const ms = performance.now() - t0;
    const from = e.loadedFrom;
    e.dispose();
    const h0 = performance.now();
    await store.cidOf(source);
    const hashMs = performance.now() - h0;
    // 91 blocks of 1 MiB through crypto.subtle, each copied first as the SDK copies it.
    const block = new Uint8Array(1 << 20).map((_, i) => i * 31);
    const v0 = performance.now();
    for (let i = 0; i < 91; i++) await crypto.subtle.digest('SHA-256', block.slice());
    return { ms, from, hashMs, verifyMBs: (91 * 1.048576) / ((performance.now() - v0) / 1e3) };
  })();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const { server, url } = await startServer();
const gw = await startGateways({ dir: DIR, files: FILES, imports: { v1: { profile: 'unixfs-v1-2025' } } });
const sources = { url: `${url}models/all-MiniLM-L6-v2/`, cid: `ipfs://${gw.roots.v1}` };
try {
  for (const name of browsers) {
    const b = await launch(name);
    try {
      const p = await b.newPage();
      await p.goto(url);
      const times = { url: [], cid: [], hash: [], verify: [] };
      for (let i = 0; i < RUNS; i++) {
        for (const kind of ['url', 'cid']) {
          await p.reload();
          const r = await p.evaluate(firstEmbedding, { source: sources[kind], gateway: gw.urls[0] });
          if (r.from !== 'network') throw new Error(`a cold load came from ${r.from}`);
          times[kind].push(r.ms);
          if (kind === 'cid') times.hash.push(r.hashMs), times.verify.push(r.verifyMBs);
        }
      }
      const [u, c, h] = [median(times.url), median(times.cid), median(times.hash)];
      console.log(
        `${b.version}: cold load to first embedding by URL ${u.toFixed(0)} ms, by CID ${c.toFixed(0)} ms ` +
          `(${(c / u).toFixed(2)}x; median of ${RUNS}: URL ${times.url.map((t) => t.toFixed(0)).join('/')}, ` +
          `CID ${times.cid.map((t) => t.toFixed(0)).join('/')}); block hashing (cidOf of ${(BYTES / 1e6).toFixed(1)} MB) ` +
          `${h.toFixed(0)} ms = ${(BYTES / 1e6 / (h / 1e3)).toFixed(0)} MB/s; block verification (WebCrypto) ` +
          `${median(times.verify).toFixed(0)} MB/s`,
      );
      await p.close();
    } finally {
      await b.close();
    }
  }
} finally {
  server.close();
  gw.stop();
}
