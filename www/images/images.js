// Ranks dropped images by cosine similarity to a query image and overlays each one's
// saliency map and smart-crop box, all computed in the page with ImageEmbedder.
import { init, ImageEmbedder, cpuPath } from '../../pkg/index.js';
import { modelSource } from '../model-source.js';

const $ = (id) => document.getElementById(id);
// The model: this server's copy unless the page's source field names another.
const { source: MODEL, options: SOURCE_OPTIONS } = modelSource(new URL('../../models/dinov2-small/', import.meta.url).href);
const SIZE = 224;

let embedder;
const items = []; // { name, bitmap, vector, saliency, box, figure }
let query = 0;

const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);

/** The smallest box holding the map's values above 60% of its range: a smart crop. */
function cropBox({ data, width, height }) {
  let lo = Infinity, hi = -Infinity;
  for (const v of data) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const cut = lo + 0.6 * (hi - lo);
  let x0 = width, y0 = height, x1 = 0, y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] >= cut) (x0 = Math.min(x0, x)), (y0 = Math.min(y0, y)), (x1 = Math.max(x1, x)), (y1 = Math.max(y1, y));
    }
  }
  return { x: x0, y: y0, w: Math.max(1, x1 - x0 + 1), h: Math.max(1, y1 - y0 + 1) };
}

/** The image center-cropped as the model saw it, the saliency map over it in red, the box. */
function draw(item) {
  const c = item.figure.querySelector('canvas');
  c.width = c.height = SIZE;
  const ctx = c.getContext('2d');
  const { bitmap: b } = item;
  const scale = SIZE / Math.min(b.width, b.height);
  ctx.drawImage(b, (SIZE - b.width * scale) / 2, (SIZE - b.height * scale) / 2, b.width * scale, b.height * scale);
  const { data, width, height } = item.saliency;
  const overlay = ctx.getImageData(0, 0, width, height);
  for (let i = 0; i < width * height; i++) {
    const a = data[i];
    overlay.data[i * 4] = overlay.data[i * 4] * (1 - a * 0.6) + 255 * a * 0.6;
  }
  ctx.putImageData(overlay, 0, 0);
  ctx.strokeStyle = '#0f0';
  ctx.lineWidth = 3;
  ctx.strokeRect(item.box.x, item.box.y, item.box.w, item.box.h);
}

function rank() {
  const q = items[query]?.vector;
  if (!q) return;
  const order = items.map((it, i) => ({ it, i, score: dot(q, it.vector) })).sort((a, b) => b.score - a.score);
  for (const { it, i, score } of order) {
    it.figure.classList.toggle('query', i === query);
    it.figure.querySelector('figcaption').textContent = i === query ? `query: ${it.name}` : `${score.toFixed(3)} ${it.name}`;
    $('grid').appendChild(it.figure);
  }
}

async function add(files) {
  const t0 = performance.now();
  const images = [...files].filter((f) => f.type.startsWith('image/'));
  if (!images.length) return;
  $('status').textContent = `Embedding ${images.length} image(s)…`;
  const vectors = await embedder.embed(images, { normalize: true });
  for (const [i, file] of images.entries()) {
    // The same image again: its encoder run is answered from the session's output cache.
    const saliency = await embedder.saliency(file);
    const figure = document.createElement('figure');
    figure.innerHTML = '<canvas></canvas><figcaption></figcaption>';
    const item = { name: file.name, bitmap: await createImageBitmap(file), vector: vectors[i], saliency, box: cropBox(saliency), figure };
    const index = items.push(item) - 1;
    figure.addEventListener('click', () => ((query = index), rank()));
    draw(item);
  }
  rank();
  $('status').textContent = `Ranked ${items.length} images (${images.length} new in ${(performance.now() - t0).toFixed(0)} ms).`;
}

async function main() {
  await init();
  embedder = await ImageEmbedder.load(MODEL, {
    ...SOURCE_OPTIONS,
    onProgress: ({ file, loaded, total }) => {
      if (total) $('progress').value = loaded / total;
      $('status').textContent = `Loading ${file}: ${(loaded / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`;
    },
  });
  $('backend').textContent = `backend: ${embedder.backend}, ${cpuPath()}`;
  $('status').textContent = 'Ready: drop images.';
  const fail = (e) => ($('status').textContent = `Error (${e.code}): ${e.message}`);
  $('files').disabled = false;
  $('files').addEventListener('change', () => add($('files').files).catch(fail));
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => (ev.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    add(ev.dataTransfer.files).catch(fail);
  });
}

main().catch((e) => ($('status').textContent = `Error (${e.code ?? 'load'}): ${e.message}`));
