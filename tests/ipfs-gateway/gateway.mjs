// Test-only: a real IPFS trustless gateway on 127.0.0.1, run as a child process by
// `spawn.mjs`. Files are imported by an independent implementation (ipfs-unixfs-importer,
// with each profile a test asks for) into a memory blockstore; Helia's verified-fetch
// serves them (no routers, no block brokers: nothing leaves the machine). A thin
// `node:http` wrapper adds CORS, the trustless gateway's `format` parameter, 404 for a
// missing block, byte counts, and fault injection per port (flip a byte, drop a block,
// cut a CAR short, stall, die) set over `POST /__fault`.
//
// argv[2] is JSON: { dir, files: [name], imports: { name: importerOptions }, ports };
// an import's `only: [name]` imports those files alone, its `dir` and `files` another
// directory's. With `broken: true` it also makes
// the malformed DAGs of the bad-input tests (`broken` below). It prints one JSON line,
// { ports: [port], roots: { name: cid }, files: { name: { path: cid } } }, when it serves.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { importer } from 'ipfs-unixfs-importer';
import { trickle } from 'ipfs-unixfs-importer/layout';
import { MemoryBlockstore } from 'blockstore-core';
import { createHeliaLight } from 'helia';
import { createVerifiedFetch } from '@helia/verified-fetch';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import * as dagPb from '@ipld/dag-pb';
import * as raw from 'multiformats/codecs/raw';
import { UnixFS } from 'ipfs-unixfs';
import { CarReader } from '@ipld/car';

const spec = JSON.parse(process.argv[2]);
const blockstore = new MemoryBlockstore();
const roots = {};
const files = {};
const read = (dir, files) => Promise.all(files.map(async (f) => ({ path: f, content: await readFile(`${dir}/${f}`) })));
const contents = await read(spec.dir, spec.files);
for (const [name, given] of Object.entries(spec.imports)) {
  // `dir` and `files`: another model's directory instead of the main one.
  const { only, dir, files: theirs, ...options } = { wrapWithDirectory: true, ...given };
  if (options.layout === 'trickle') options.layout = trickle();
  const all = dir ? await read(dir, theirs) : contents;
  const source = all.filter((c) => !only || only.includes(c.path)).map((c) => ({ ...c }));
  let root;
  files[name] = {};
  for await (const entry of importer(source, blockstore, options)) {
    root = entry.cid;
    if (entry.path) files[name][entry.path] = entry.cid.toString();
  }
  roots[name] = root.toString();
}

/** Stores a block made here (not by the importer) and gives its CID. */
async function put(codec, bytes) {
  const cid = CID.createV1(codec.code, await sha256.digest(bytes));
  await blockstore.put(cid, bytes);
  return cid;
}

/** Directories the importer would never make, for the bad-input tests: a HAMT whose
 * bitfield lost a bit, and a directory whose config.json is one raw block over 2 MiB. */
async function broken() {
  if (!roots.hamt) throw new Error('broken: true needs an import named hamt (a sharded directory to corrupt)');
  const shardRoot = CID.parse(roots.hamt);
  const node = dagPb.decode(await toBytes(blockstore.get(shardRoot)));
  const data = UnixFS.unmarshal(node.Data);
  const bits = Uint8Array.from(data.data);
  const at = bits.findIndex((b) => b !== 0);
  bits[at] &= bits[at] - 1; // clears the lowest set bit of the first non-empty byte
  // ipfs-unixfs's unmarshal drops hashType: murmur3-x64-64 is the one HAMT hash.
  const corrupt = new UnixFS({ type: 'hamt-sharded-directory', data: bits, fanout: data.fanout, hashType: 0x22n });
  roots.hamtCorrupt = (await put(dagPb, dagPb.encode({ Data: corrupt.marshal(), Links: node.Links }))).toString();
  const big = await put(raw, new Uint8Array((2 << 20) + 4096).fill(0x20));
  const dir = new UnixFS({ type: 'directory' });
  const links = [{ Name: 'config.json', Hash: big, Tsize: (2 << 20) + 4096 }];
  roots.bigBlock = (await put(dagPb, dagPb.encode(dagPb.prepare({ Data: dir.marshal(), Links: links })))).toString();
}

/** A blockstore `get` gives bytes, or (blockstore-core 7) an iterable of chunks. */
async function toBytes(got) {
  got = await got;
  if (got instanceof Uint8Array) return got;
  const parts = [];
  for await (const p of got) parts.push(p);
  return Buffer.concat(parts);
}
if (spec.broken) await broken();

const helia = createHeliaLight({ blockstore, routers: [], blockBrokers: [] });
await helia.start();
const vfetch = await createVerifiedFetch(helia);

/** A CAR body split into sections, so a fault can drop or corrupt one block exactly. */
function* sections(buf) {
  let at = 0;
  while (at < buf.length) {
    let len = 0;
    let shift = 0;
    let n = at;
    for (;;) {
      const b = buf[n++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    yield { start: at, dataStart: n, end: n + len };
    at = n + len;
  }
}

/** The CID string of a CAR section (its bytes start with the CID). */
function sectionCid(buf, s) {
  const bytes = buf.subarray(s.dataStart, s.end);
  // CIDv0 is a bare sha2-256 multihash (0x12 0x20 + 32 bytes).
  if (bytes[0] === 0x12 && bytes[1] === 0x20) return { cid: CID.decode(bytes.subarray(0, 34)), len: 34 };
  const [cid, rest] = CID.decodeFirst(bytes);
  return { cid, len: bytes.length - rest.length };
}

function serve(port) {
  const state = { fault: null, requests: 0, bytes: 0, faulted: [] };
  const server = http.createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Expose-Headers', '*');
    if (req.method === 'OPTIONS') return res.end();
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__fault') {
      let body = '';
      for await (const c of req) body += c;
      state.fault = body ? JSON.parse(body) : null;
      return res.end('{}');
    }
    if (url.pathname === '/__stats') {
      res.setHeader('Content-Type', 'application/json');
      const out = JSON.stringify({ requests: state.requests, bytes: state.bytes, faulted: state.faulted });
      if (url.searchParams.has('reset')) Object.assign(state, { requests: 0, bytes: 0, faulted: [] });
      return res.end(out);
    }
    if (url.pathname === '/__car' && req.method === 'POST') {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify(await checkCar(req, CID.parse(url.searchParams.get('root')))));
    }
    const m = url.pathname.match(/^\/ipfs\/([^/]+)(\/.*)?$/);
    if (!m) {
      res.statusCode = 404;
      return res.end('not a gateway path');
    }
    state.requests += 1;
    const fault = state.fault;
    if (fault?.kind === 'dead') return req.socket.destroy();
    const format = url.searchParams.get('format');
    // A client's Accept says more (a CAR's order and dups) than `format`, so it wins.
    const named = format === 'raw' ? 'application/vnd.ipld.raw' : format === 'car' ? 'application/vnd.ipld.car' : undefined;
    const accept = req.headers.accept?.includes('vnd.ipld') ? req.headers.accept : named ?? req.headers.accept;
    url.searchParams.delete('format');
    const target = `ipfs://${m[1]}${m[2] ?? ''}${url.search}`;
    let r;
    try {
      r = await vfetch(target, { headers: { accept }, session: false, signal: AbortSignal.timeout(20000) });
    } catch (e) {
      res.statusCode = 502;
      return res.end(String(e));
    }
    // Without a fault, a good answer streams through as verified-fetch makes it, as a
    // real gateway's does (the faults below need the whole body to cut it precisely).
    if (!fault && r.ok && r.body) {
      res.statusCode = r.status;
      for (const h of ['content-type', 'etag', 'cache-control', 'x-ipfs-roots']) {
        if (r.headers.get(h)) res.setHeader(h, r.headers.get(h));
      }
      for await (const chunk of r.body) {
        state.bytes += chunk.length;
        if (!res.write(chunk)) await new Promise((ok) => res.once('drain', ok));
      }
      return res.end();
    }
    let body = Buffer.from(await r.arrayBuffer());
    const isCar = (r.headers.get('content-type') ?? '').includes('vnd.ipld.car');
    // verified-fetch answers a block it does not have with 500; a gateway says 404.
    res.statusCode = r.status === 500 && /not found|NotFound|No block brokers/i.test(body.toString('latin1', 0, 2000)) ? 404 : r.status;
    for (const h of ['content-type', 'etag', 'cache-control', 'x-ipfs-roots']) {
      if (r.headers.get(h)) res.setHeader(h, r.headers.get(h));
    }
    // `only: 'car'` (or 'raw') limits a fault to file CARs (or single blocks).
    const kindOk = !fault?.only || fault.only === (isCar ? 'car' : 'raw');
    if (fault && kindOk && r.ok && (!fault.cid || fault.cid === m[1] || isCar)) {
      body = applyFault(fault, body, isCar, m[1], state);
      if (body === null) {
        res.statusCode = 404;
        return res.end('block dropped by the test fault');
      }
    }
    if (fault?.kind === 'stall' && kindOk && r.ok && body.length > 1000) {
      const part = body.subarray(0, Math.min(fault.after ?? body.length >> 1, body.length - 1));
      state.bytes += part.length;
      state.faulted.push(m[1]);
      res.write(part);
      // Never ends: the client's stall timer must notice.
      return;
    }
    if (fault?.kind === 'cut' && kindOk && r.ok && isCar) {
      const keep = Math.min(fault.after ?? body.length >> 1, body.length);
      body = body.subarray(0, keep);
      state.faulted.push(m[1]);
    }
    state.bytes += body.length;
    res.end(body);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));
}

/** Parses a CAR posted by a test with @ipld/car: its roots, whether every block hashes
 * to its CID, and whether its blocks are exactly the DAG under `root` as the importer
 * stored it. */
async function checkCar(req, root) {
  const parts = [];
  for await (const c of req) parts.push(c);
  const car = await CarReader.fromBytes(Buffer.concat(parts));
  const roots = (await car.getRoots()).map(String);
  const inCar = new Set();
  let verified = true;
  for await (const { cid, bytes } of car.blocks()) {
    inCar.add(cid.toString());
    const digest = await sha256.digest(bytes);
    verified &&= cid.multihash.code === sha256.code && Buffer.compare(digest.digest, cid.multihash.digest) === 0;
  }
  const dag = new Set();
  const walk = async (cid) => {
    if (dag.has(cid.toString())) return;
    dag.add(cid.toString());
    if (cid.code !== dagPb.code) return;
    for (const l of dagPb.decode(await toBytes(blockstore.get(cid))).Links) await walk(l.Hash);
  };
  await walk(root);
  const same = inCar.size === dag.size && [...dag].every((c) => inCar.has(c));
  return { roots, blocks: inCar.size, dagBlocks: dag.size, verified, same };
}

/** Flips one byte of, or drops, the block `fault.cid` (or the first block of over 1000
 * bytes); `null` for a raw block dropped. Records the CID it hit. */
function applyFault(fault, body, isCar, requested, state) {
  if (fault.kind !== 'flip' && fault.kind !== 'drop') return body;
  if (!isCar) {
    if (fault.cid && fault.cid !== requested) return body;
    state.faulted.push(requested);
    if (fault.kind === 'drop') return null;
    const out = Buffer.from(body);
    out[out.length >> 1] ^= 0x01;
    return out;
  }
  let skipped = 0;
  for (const s of sections(body)) {
    if (s.start === 0) continue; // the header
    const { cid, len } = sectionCid(body, s);
    const hit = fault.cid ? cid.toString() === fault.cid : s.end - s.dataStart - len > 1000 && skipped++ >= (fault.nth ?? 0);
    if (!hit) continue;
    state.faulted.push(cid.toString());
    if (fault.kind === 'drop') return Buffer.concat([body.subarray(0, s.start), body.subarray(s.end)]);
    const out = Buffer.from(body);
    out[s.dataStart + len + ((s.end - s.dataStart - len) >> 1)] ^= 0x01;
    return out;
  }
  return body;
}

const ports = [];
for (let i = 0; i < (spec.ports ?? 1); i++) ports.push(await serve(0));
process.stdout.write(`${JSON.stringify({ ports, roots, files })}\n`);
