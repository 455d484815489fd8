// The package as a user gets it: the tarball `npm run build` packed from pkg/ is installed
// into the Vite + React demo, its types are checked by tsc (a mis-typed call must fail),
// and Vite bundles the app, wasm included, with no plugin. The built app is then driven in
// the browsers by tests/browser/react-demo.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, existsSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO = `${ROOT}www/react-demo`;
const PACK = `${ROOT}target/pack`;

test('the packed tarball installs into the demo', () => {
  const tgz = readdirSync(PACK).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `one tarball in target/pack (run npm run build): ${tgz}`);
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `${PACK}/${tgz[0]}`], {
    cwd: DEMO,
    stdio: 'inherit',
  });
  const installed = JSON.parse(readFileSync(`${DEMO}/node_modules/ipfs-accelerate/package.json`, 'utf8'));
  assert.equal(installed.name, 'ipfs-accelerate');
  for (const f of ['index.js', 'index.d.ts', 'react.js', 'react.d.ts', 'detect.js', 'wasm/ipfs_accelerate_bg.wasm']) {
    assert.ok(existsSync(`${DEMO}/node_modules/ipfs-accelerate/${f}`), f);
  }
});

test('a consumer type-checks against the package types (tsc --noEmit)', () => {
  const r = spawnSync(`${DEMO}/node_modules/.bin/tsc`, ['--noEmit', '-p', 'tsconfig.json'], { cwd: DEMO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('a mis-typed call fails to type-check', () => {
  const file = `${DEMO}/src/mistyped.generated.ts`;
  writeFileSync(
    file,
    "import { TextEmbedder } from 'ipfs-accelerate';\nexport const p = TextEmbedder.load('/m/').then((e) => e.embed('not an array'));\n",
  );
  try {
    const r = spawnSync(
      `${DEMO}/node_modules/.bin/tsc`,
      ['--noEmit', '--strict', '--module', 'esnext', '--moduleResolution', 'bundler', '--target', 'es2022', '--lib', 'es2022,dom', file],
      { cwd: DEMO, encoding: 'utf8' },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /mistyped\.generated\.ts.*error TS2345: Argument of type 'string' is not assignable to parameter of type 'string\[\]'/);
  } finally {
    rmSync(file, { force: true });
  }
});

test('Vite bundles the demo, wasm files included', () => {
  rmSync(`${DEMO}/dist`, { recursive: true, force: true });
  // Development mode keeps React's StrictMode double effects, which the browser test checks.
  execFileSync(`${DEMO}/node_modules/.bin/vite`, ['build', '--mode', 'development', '--logLevel', 'warn'], {
    cwd: DEMO,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'development' },
  });
  const assets = readdirSync(`${DEMO}/dist/assets`);
  assert.ok(assets.some((f) => /^ipfs_accelerate_relaxed_bg-.*\.wasm$/.test(f)), assets.join());
  assert.ok(assets.some((f) => /^ipfs_accelerate_bg-.*\.wasm$/.test(f)), assets.join());
});
