// The model source field every demo shows: a URL, `ipfs://<cid>` (or a bare CID) or
// `hf:owner/name[@revision]`, carried in the page's `?model=` (and `?gateway=`, the IPFS
// gateway to read a CID through). Submitting it reloads the demo with that model.

/** Puts the field after the page's heading and returns { source, options } for `load`. */
export function modelSource(fallback) {
  const params = new URLSearchParams(location.search);
  const source = params.get('model') || fallback;
  const gateway = params.get('gateway');
  const form = document.createElement('form');
  form.id = 'source-form';
  form.innerHTML =
    '<label>Model <input id="source" size="60" aria-label="Model source: a URL, ipfs://CID or hf:owner/name"></label> ' +
    '<label>IPFS gateway <input id="gateway" size="30" placeholder="default gateways"></label> ' +
    '<button id="source-load">Load</button>';
  form.querySelector('#source').value = source;
  form.querySelector('#gateway').value = gateway ?? '';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams({ model: form.querySelector('#source').value.trim() });
    const g = form.querySelector('#gateway').value.trim();
    if (g) next.set('gateway', g);
    location.search = next.toString();
  });
  document.querySelector('h1').after(form);
  return { source, options: gateway ? { gateways: [gateway] } : {} };
}
