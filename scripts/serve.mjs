// Static server for the demos: www/ at /, pkg/ at /pkg/, models/ at /models/, the
// committed speech clips (tests/fixtures/whisper/audio/) at /clips/.
// Sends COOP/COEP (so pages are cross-origin isolated, as wasm threads need), correct
// MIME types (application/wasm for streaming compilation) and honours Range requests.
// `node scripts/serve.mjs [port]` serves until killed; tests import `startServer`.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** URL prefix → directory, first match wins. */
export const DEFAULT_MOUNTS = [
  ['/pkg/', join(ROOT, 'pkg')],
  ['/models/', join(ROOT, 'models')],
  ['/clips/', join(ROOT, 'tests/fixtures/whisper/audio')],
  ['/', join(ROOT, 'www')],
];
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

function resolvePath(mounts, urlPath) {
  for (const [prefix, dir] of mounts) {
    if (urlPath.startsWith(prefix)) {
      const rel = normalize(decodeURIComponent(urlPath.slice(prefix.length)));
      const full = resolve(dir, '.' + sep + rel);
      return full === dir || full.startsWith(dir + sep) ? full : null;
    }
  }
  return null;
}

/**
 * Streams `file` (from `start` to `end`) to `res`, telling `hooks.onBytes(path, n)` what
 * went out. `hooks.cutAfter(path)` may return a byte count after which the connection is
 * destroyed mid-body, as a dropped network would (tests use it for resume).
 */
function send(file, start, end, res, path, hooks) {
  const cut = hooks.cutAfter?.(path);
  let sent = 0;
  const stream = createReadStream(file, { start, end });
  stream.on('data', (chunk) => {
    if (cut != null && sent + chunk.length > cut) {
      const part = chunk.subarray(0, Math.max(0, cut - sent));
      hooks.onBytes?.(path, part.length);
      res.write(part, () => res.socket?.destroy());
      stream.destroy();
      return;
    }
    sent += chunk.length;
    hooks.onBytes?.(path, chunk.length);
    if (!res.write(chunk)) stream.pause();
  });
  res.on('drain', () => stream.resume());
  stream.on('end', () => res.end());
  stream.on('error', () => res.destroy());
}

async function handle(mounts, req, res, hooks) {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  // Model files are fetched cross-origin by test pages (wasm-bindgen-test's own server)
  // and by apps that host models elsewhere.
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag, Last-Modified');
  res.setHeader('Cache-Control', 'no-cache');
  const url = new URL(req.url, 'http://localhost');
  hooks.onRequest?.({ method: req.method, path: url.pathname, range: req.headers.range ?? null });
  if (req.method === 'OPTIONS') {
    // CORS preflight for resumed downloads, whose Range and If-Range headers need it.
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Allow-Headers': 'Range, If-Range',
      'Access-Control-Max-Age': '600',
    });
    return res.end();
  }
  // A test's own answer (a stalled body, a lying Content-Length, HTML for JSON).
  if (hooks.respond?.(req, res, url.pathname)) return;
  let file = resolvePath(mounts, url.pathname);
  let info = file && (await stat(file).catch(() => null));
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info?.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${url.pathname}\n`);
    return;
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  const headers = {
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
    'Last-Modified': info.mtime.toUTCString(),
    ETag: `"${info.size.toString(16)}-${info.mtimeMs.toString(16)}"`,
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  // If-Range: serve the range only if the file is still the one the client has part of.
  const ifRange = req.headers['if-range'];
  const current = !ifRange || ifRange === headers.ETag || ifRange === headers['Last-Modified'];
  if (range && (range[1] || range[2]) && current) {
    const start = range[1] ? Number(range[1]) : Math.max(0, info.size - Number(range[2]));
    const end = range[1] && range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
    if (start > end || start >= info.size) {
      res.writeHead(416, { 'Content-Range': `bytes */${info.size}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${info.size}`, 'Content-Length': end - start + 1 });
    if (req.method === 'HEAD') return res.end();
    return send(file, start, end, res, url.pathname, hooks);
  }
  res.writeHead(200, { ...headers, 'Content-Length': info.size });
  if (req.method === 'HEAD') return res.end();
  send(file, 0, Math.max(0, info.size - 1), res, url.pathname, hooks);
}

/**
 * Starts the server on `port` (0 = any free port); resolves to { server, url }, the URL
 * on 127.0.0.1 (a secure context in both browsers, so WebGPU is exposed there).
 * `hooks` lets tests watch and break traffic: `onRequest({method, path, range})`,
 * `onBytes(path, n)`, `cutAfter(path) → bytes | undefined`, and `respond(req, res, path)
 * → true` when the test answered the request itself (CORS headers are already set).
 */
export function startServer({ port = 0, host = '127.0.0.1', mounts = DEFAULT_MOUNTS, hooks = {} } = {}) {
  const server = createServer((req, res) =>
    handle(mounts, req, res, hooks).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`server error: ${e.message}\n`);
    }),
  );
  // Longer than the gaps between a test's fetches, so clients rarely reuse a socket the
  // server has just closed.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
  const { server } = await startServer({ port, host: process.env.HOST ?? '127.0.0.1' });
  const url = `http://localhost:${server.address().port}/`;
  console.log(`ipfs-accelerate demos: ${url}`);
  console.log(`  semantic search:          ${url}search/`);
  console.log(`  embedding benchmark:      ${url}bench/embed.html`);
  console.log(`  matmul micro-benchmark:   ${url}bench/matmul.html`);
}
