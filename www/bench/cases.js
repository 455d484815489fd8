// The inputs and the timing every benchmark page uses, so that our library and the
// baseline are measured on the same texts, images and clips the same way.

/** Warm-up, then at least `minRuns` timed runs (more within `budgetMs`): median, p90, runs. */
export async function time(f, minRuns = 5, budgetMs = 4000) {
  await f();
  const times = [];
  const until = performance.now() + budgetMs;
  while (times.length < minRuns || (performance.now() < until && times.length < 100)) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], p90: times[Math.floor(times.length * 0.9)], runs: times.length };
}

/** The cases, given a token counter: 12 tokens, 158 tokens (the length ENVIRONMENT.md
 * measured transformers.js at, grown word by word), and a batch of 8 of the long one. */
export function cases(countTokens) {
  const short = 'The quick brown fox jumps over the lazy dog.';
  const words = 'weights are cached by content address so a browser can run the model offline'.split(' ');
  let long = '';
  for (let i = 0; countTokens(long) < 158; i++) long += (long ? ' ' : '') + words[i % words.length];
  return [
    ['12 tokens', [short]],
    ['158 tokens', [long]],
    ['batch 8 × 158 tokens', new Array(8).fill(long)],
  ];
}

/** Times every case with `embed(texts)`, adding a table row per case; returns the results. */
export async function runCases(embed, countTokens) {
  const results = [];
  for (const [name, texts] of cases(countTokens)) {
    const r = await time(() => embed(texts));
    const tokens = countTokens(texts[0]);
    results.push({ name, tokens, ...r });
    document.getElementById('rows').insertAdjacentHTML(
      'beforeend',
      `<tr><td>${name}</td><td>${tokens}</td><td>${r.median.toFixed(1)}</td><td>${r.p90.toFixed(1)}</td><td>${r.runs}</td></tr>`,
    );
  }
  return results;
}

/** Committed clip `name` (16-bit PCM WAV at 16 kHz, tests/fixtures/whisper/audio, served at
 * /clips/) as floats. */
export async function clip(name) {
  const b = await (await fetch(new URL(`../../clips/${name}`, import.meta.url))).arrayBuffer();
  const v = new DataView(b);
  let at = 12;
  while (String.fromCharCode(...new Uint8Array(b, at, 4)) !== 'data') at += 8 + v.getUint32(at + 4, true);
  const out = new Float32Array(v.getUint32(at + 4, true) / 2);
  for (let i = 0; i < out.length; i++) out[i] = v.getInt16(at + 8 + 2 * i, true) / 32768;
  return out;
}
