// Time to first embedding of MiniLM, from the network into an empty store against from
// the IndexedDB store after a page reload, in headless Chromium and Firefox. Each figure is
// the median of RUNS; a benchmark, not a test: it asserts nothing about speed.
import { startServer } from './serve.mjs';
import { launch } from './drive.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const browsers = (process.argv[2] ?? 'chromium,firefox').split(',');

/** In the page: ms from the start of `TextEmbedder.load` to the first embedding. */
function firstEmbedding({ url, clear }) {
  return (async () => {
    const m = await import('/pkg/index.js');
    await m.init();
    if (clear) await (await m.WeightStore.open({ name: 'bench' })).clear();
    const t0 = performance.now();
    const e = await m.TextEmbedder.load(url, { store: 'bench' });
    await e.embed(['how long until the first embedding?']);
    const ms = performance.now() - t0;
    const from = e.loadedFrom;
    e.dispose();
    return { ms, from };
  })();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const { server, url } = await startServer();
const modelUrl = `${url}models/all-MiniLM-L6-v2/`;
try {
  for (const name of browsers) {
    const b = await launch(name);
    try {
      const p = await b.newPage();
      await p.goto(url);
      const times = { network: [], cache: [] };
      for (let i = 0; i < RUNS; i++) {
        await p.reload();
        const net = await p.evaluate(firstEmbedding, { url: modelUrl, clear: true });
        await p.reload();
        const hit = await p.evaluate(firstEmbedding, { url: modelUrl, clear: false });
        if (net.from !== 'network' || hit.from !== 'cache') throw new Error(`unexpected sources ${net.from}/${hit.from}`);
        times.network.push(net.ms);
        times.cache.push(hit.ms);
      }
      const n = median(times.network);
      const c = median(times.cache);
      console.log(
        `${b.version}: first embedding from network ${n.toFixed(0)} ms, from cache ${c.toFixed(0)} ms ` +
          `(median of ${RUNS}; network runs ${times.network.map((t) => t.toFixed(0)).join('/')}, ` +
          `cache runs ${times.cache.map((t) => t.toFixed(0)).join('/')})`,
      );
      await p.close();
    } finally {
      await b.close();
    }
  }
} finally {
  server.close();
}
