// Renders detect() and recommend() as a readable table. Also leaves both on `window.detected`
// and `window.recommended` (not the ids of elements, which window also names) for tests and curious developers.
import { init, detect, recommend } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);
const yes = (b) => `<span class="${b ? 'yes' : 'no'}">${b ? 'yes' : 'no'}</span>`;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const mib = (n) => `${(n / 2 ** 20).toFixed(0)} MiB`;

function rows(c) {
  const r = [];
  r.push(['Browser', `${esc(c.browser.name)} ${esc(c.browser.version)} (engine ${esc(c.browser.engine)}, from ${esc(c.browser.source)})`]);
  if (c.webgpu.available) {
    const a = c.webgpu.adapter;
    const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'adapter';
    r.push(['WebGPU', `${yes(true)}: ${esc(name)}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}`]);
    r.push(['WebGPU features', esc(c.webgpu.features.join(', ') || 'none')]);
    const l = c.webgpu.limits;
    r.push(['WebGPU limits', Object.entries(l).map(([k, v]) => `${esc(k)} ${k.endsWith('Size') && v >= 2 ** 20 ? mib(v) : v}`).join('<br>')]);
  } else {
    r.push(['WebGPU', `${yes(false)}: ${esc(c.webgpu.reason)}`]);
  }
  if (c.webnn.present) {
    const said = (x) => (x.accelerated == null ? '' : x.accelerated ? ' (accelerated)' : ' (not accelerated)');
    const ctx = Object.entries(c.webnn.contexts).map(([d, x]) => `${d}: ${x.available ? `${yes(true)}${said(x)}` : `${yes(false)} (${esc(x.reason)})`}`);
    r.push(['WebNN', `navigator.ml present; contexts:<br>${ctx.join('<br>')}`]);
  } else {
    r.push(['WebNN', `${yes(false)}: navigator.ml is absent`]);
  }
  const w = c.wasm;
  r.push(['WebAssembly', `SIMD ${yes(w.simd)}, relaxed SIMD ${yes(w.relaxedSimd)}, memory64 ${yes(w.memory64)}`]);
  r.push(['WASM threads', `${yes(w.threads.available)}${w.threads.reason ? `: ${esc(w.threads.reason)}` : ''} (SharedArrayBuffer ${yes(w.threads.sharedArrayBuffer)}, cross-origin isolated ${yes(w.threads.crossOriginIsolated)})`]);
  r.push(['CPU cores', esc(c.hardwareConcurrency ?? 'unknown')]);
  r.push(['Device memory', c.deviceMemory == null ? 'not reported' : `${c.deviceMemory} GiB`]);
  r.push([
    'Storage',
    c.storage.available
      ? `${mib(c.storage.usage)} used of ${mib(c.storage.quota)}; persisted ${yes(c.storage.persisted)}`
      : `${yes(false)}: ${esc(c.storage.reason)}`,
  ]);
  return r;
}

try {
  await init();
  const caps = await detect();
  const rec = await recommend('text-embedding', { inputTokens: 32, batch: 1 });
  window.detected = caps;
  window.recommended = rec;
  $('caps').innerHTML = rows(caps).map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  $('recommendation').innerHTML = `Backend <strong id="backend">${esc(rec.backend)}</strong>, variant <code>${esc(rec.variant)}</code>`;
  $('reasons').innerHTML = rec.reasons.map((x) => `<li>${esc(x)}</li>`).join('');
  $('status').textContent = 'Done.';
} catch (e) {
  $('status').textContent = `Failed: ${e.code ?? ''} ${e.message}`;
  window.detected = { error: e.message };
}
