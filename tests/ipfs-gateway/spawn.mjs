// Test-only: starts `gateway.mjs` in a child process (Node 20 needs the polyfill loaded
// first) and gives the tests its gateways' URLs, their fault switches and byte counts.
// A page can also POST a CAR to `{url}/__car?root=<cid>` for the gateway's @ipld/car to
// check against the importer's DAG.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Imports `files` of `dir` once per entry of `imports` (name: importer options, plus
 * `only: [file]`) and serves them on `ports` loopback gateways; `broken` adds the
 * malformed DAGs of the bad-input tests (roots `hamtCorrupt`, `bigBlock`). */
export async function startGateways({ dir, files, imports, ports = 1, broken = false }) {
  const child = spawn(
    process.execPath,
    ['--import', `${here}with-resolvers.mjs`, `${here}gateway.mjs`, JSON.stringify({ dir, files, imports, ports, broken })],
    { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`the test gateway exited with ${code} before it served`)));
  });
  const { ports: list, roots, files: entries } = JSON.parse(line);
  const urls = list.map((p) => `http://127.0.0.1:${p}`);
  const post = (i, body) =>
    fetch(`${urls[i]}/__fault`, { method: 'POST', body: body ? JSON.stringify(body) : '' }).then((r) => r.text());
  return {
    urls,
    roots,
    /** Per import, each file's CID as the importer gave it. */
    files: entries,
    /** Sets (or with `null` clears) gateway `i`'s fault: { kind: 'flip'|'drop'|'cut'|'stall'|'dead', cid?, nth?, after? }. */
    fault: (i, f) => post(i, f),
    /** Requests and bytes gateway `i` served since the last reset, and the CIDs it faulted. */
    stats: (i, reset = false) => fetch(`${urls[i]}/__stats${reset ? '?reset' : ''}`).then((r) => r.json()),
    stop: () => child.kill(),
  };
}
