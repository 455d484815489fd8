// The demo app: capabilities, model load progress, and embeddings of typed text, through
// the package's React hooks. Plain createElement calls, so no JSX plugin is needed.
import { StrictMode, createElement as h, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { useCapabilities, useTextEmbedder, modelStats } from 'ipfs-accelerate/react';

const params = new URLSearchParams(location.search);
const MODEL_URL = new URL(params.get('model') ?? './models/all-MiniLM-L6-v2/', location.href).href;

const row = (label, value, id) => [h('dt', { key: `${label}-t` }, label), h('dd', { key: `${label}-d`, id }, value)];

const adapterName = (a) => [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter';

function Capabilities() {
  const caps = useCapabilities();
  if (!caps) return h('p', { id: 'caps-status' }, 'Detecting capabilities…');
  const gpu = caps.webgpu.available
    ? `${adapterName(caps.webgpu.adapter)}${caps.webgpu.adapter.isFallbackAdapter ? ' (fallback)' : ''}`
    : `unavailable: ${caps.webgpu.reason}`;
  const nn = caps.webnn.present
    ? Object.entries(caps.webnn.contexts)
        .map(([d, c]) => `${d}: ${c.available ? 'yes' : 'no'}`)
        .join(', ')
    : 'absent';
  return h(
    'section',
    { id: 'caps' },
    h('h2', null, 'Capabilities'),
    h(
      'dl',
      null,
      row('Browser', `${caps.browser.name} ${caps.browser.version} (${caps.browser.engine})`, 'cap-browser'),
      row('WebGPU', gpu, 'cap-webgpu'),
      row('WebNN', nn, 'cap-webnn'),
      row('WASM', `simd ${caps.wasm.simd}, relaxed-simd ${caps.wasm.relaxedSimd}, threads ${caps.wasm.threads.available}`, 'cap-wasm'),
      row('Cores', String(caps.hardwareConcurrency ?? 'unknown'), 'cap-cores'),
    ),
  );
}

function Embedder() {
  const { embed, status, progress, error, backend, backendReasons, loadedFrom } = useTextEmbedder(MODEL_URL);
  const [text, setText] = useState('A cat is sleeping on the sunny windowsill.');
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const t0 = performance.now();
      const [v] = await embed([text]);
      setResult({ v, ms: performance.now() - t0, text });
    } catch (err) {
      setResult({ error: `${err.code}: ${err.message}` });
    } finally {
      setBusy(false);
    }
  };
  const pct = progress?.total ? Math.round((100 * progress.loaded) / progress.total) : null;
  return h(
    'section',
    { id: 'embedder' },
    h('h2', null, 'Text embeddings'),
    h(
      'dl',
      null,
      row('Model', MODEL_URL, 'model'),
      row('Status', status + (loadedFrom ? ` (from ${loadedFrom})` : ''), 'status'),
      row('Progress', progress ? `${progress.file}: ${progress.loaded} / ${progress.total ?? '?'} bytes${pct == null ? '' : ` (${pct}%)`}` : '—', 'progress'),
      row('Backend', backend ? `${backend} — ${(backendReasons ?? []).join('; ')}` : '—', 'backend'),
    ),
    pct != null && status === 'loading' ? h('progress', { max: 100, value: pct }) : null,
    error ? h('p', { id: 'error' }, `Failed to load: ${error.code}: ${error.message}`) : null,
    h(
      'form',
      { onSubmit: run },
      h('input', { id: 'text', value: text, onChange: (e) => setText(e.target.value), 'aria-label': 'Text to embed' }),
      ' ',
      h('button', { id: 'embed', type: 'submit', disabled: status !== 'ready' || busy }, 'Embed'),
    ),
    result?.error ? h('p', { id: 'embedding' }, result.error) : null,
    result?.v
      ? h(
          'p',
          { id: 'embedding' },
          `"${result.text}" → ${result.v.length} dims in ${result.ms.toFixed(0)} ms: [`,
          h('code', null, Array.from(result.v.slice(0, 5), (x) => x.toFixed(5)).join(', ')),
          ', …]',
        )
      : null,
  );
}

function Stats() {
  const [s, setS] = useState(modelStats());
  useEffect(() => {
    const t = setInterval(() => setS(modelStats()), 200);
    return () => clearInterval(t);
  }, []);
  return h('p', { id: 'stats' }, `models loaded: ${s.loads}, live: ${s.live}, disposed: ${s.disposed}`);
}

function App() {
  const [shown, setShown] = useState(true);
  return h(
    'main',
    null,
    h('h1', null, 'ipfs-accelerate · React demo'),
    h(Capabilities),
    shown ? h(Embedder) : h('p', null, 'The embedder is unmounted.'),
    h('button', { id: 'toggle', onClick: () => setShown(!shown) }, shown ? 'Unmount embedder' : 'Mount embedder'),
    h(Stats),
  );
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(App)));
