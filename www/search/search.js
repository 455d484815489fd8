// Ranks the sentences by cosine similarity to the query, all computed in the page.
import { init, TextEmbedder, cpuPath } from '../../pkg/index.js';
import { modelSource } from '../model-source.js';

const $ = (id) => document.getElementById(id);
// The model: this server's copy unless the page's source field names another.
const { source: MODEL, options: SOURCE_OPTIONS } = modelSource(new URL('../../models/all-MiniLM-L6-v2/', import.meta.url).href);

let embedder;
const cache = new Map(); // sentence → embedding, so editing the corpus re-embeds only new lines

const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
const cosine = (a, b) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

async function search() {
  const query = $('query').value.trim();
  const sentences = $('corpus').value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (!query || !sentences.length) return;
  const t0 = performance.now();
  const fresh = sentences.filter((s) => !cache.has(s));
  if (fresh.length) (await embedder.embed(fresh)).forEach((v, i) => cache.set(fresh[i], v));
  const [q] = await embedder.embed([query]);
  const ranked = sentences.map((s) => ({ s, score: cosine(q, cache.get(s)) })).sort((a, b) => b.score - a.score);
  $('results').innerHTML = ranked
    .map(({ s, score }) => `<li><span class="score">${score.toFixed(3)}</span> ${escape(s)}</li>`)
    .join('');
  $('status').textContent = `Ranked ${sentences.length} sentences in ${(performance.now() - t0).toFixed(0)} ms.`;
}

async function main() {
  await init();
  embedder = await TextEmbedder.load(MODEL, {
    ...SOURCE_OPTIONS,
    onProgress: ({ file, loaded, total }) => {
      if (total) $('progress').value = loaded / total;
      $('status').textContent = `Loading ${file}: ${(loaded / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`;
    },
  });
  $('backend').textContent = `backend: ${embedder.backend}, ${cpuPath()}`;
  $('status').textContent = 'Ready.';
  $('query').disabled = $('go').disabled = false;
  $('query').focus();
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search().catch((e) => ($('status').textContent = `Error (${e.code}): ${e.message}`));
  });
}

main().catch((e) => ($('status').textContent = `Error (${e.code ?? 'load'}): ${e.message}`));
