// Whisper tiny.en speed, ours against transformers.js fp32 and q8 on the same weights
// (www/bench/speech.html), in headless Chromium and Firefox, one thread each. A benchmark,
// not a test: it prints seconds per clip, real-time factors, the time to our first segment,
// and ratios, with the word error rate of ours against tjs fp32 on each clip; a WER over
// 0.1 is flagged DISAGREE. transformers.js decodes long.wav with its own seek loop (see
// www/bench/tjs.js), sequential long-form as ours.
import { runBenchPage } from './bench-page.mjs';
import { wer } from './wer.mjs';

const browsers = (process.argv[2] ?? 'chromium,firefox').split(',');
const backends = (process.argv[3] ?? 'wasm,webgpu').split(',');
for (const browser of browsers) {
  const runs = {};
  for (const b of backends) runs[b] = await runBenchPage(`bench/speech.html?lib=ours&backend=${b}`, { browser, timeout: 1_200_000 });
  const fp32 = await runBenchPage('bench/speech.html?lib=tjs&dtype=fp32', { browser, timeout: 1_200_000 });
  const q8 = await runBenchPage('bench/speech.html?lib=tjs&dtype=q8', { browser, timeout: 1_200_000 });
  const ours = runs[backends[0]];
  console.log(`\n${ours.browser}: seconds per clip (median), × real time, ratio = baseline's best / ours`);
  console.log(`model load: ${Object.entries(runs).map(([b, r]) => `ours ${b} ${r.loadMs.toFixed(0)} ms`).join(', ')}, tjs fp32 ${fp32.loadMs.toFixed(0)} ms, q8 ${q8.loadMs.toFixed(0)} ms`);
  ours.results.forEach((o, i) => {
    const w = wer(fp32.results[i].text, o.text);
    if (!(w <= 0.1)) console.log(`DISAGREE ${browser} ${o.clip}: ours and tjs fp32 differ (WER ${w.toFixed(3)}); tjs: ${fp32.results[i].text}`);
    const best = Math.min(fp32.results[i].median, q8.results[i].median);
    const line = Object.entries(runs).map(
      ([b, r]) => `ours ${b} ${r.results[i].median.toFixed(2)} s (${r.results[i].rtf.toFixed(1)}x RT, ${(best / r.results[i].median).toFixed(2)}x tjs, first segment ${r.results[i].first?.toFixed(2)} s)`,
    );
    console.log(`${o.clip} (${o.seconds.toFixed(1)} s, WER vs tjs fp32 ${w.toFixed(3)}, vs q8 ${wer(q8.results[i].text, o.text).toFixed(3)}): ${line.join('; ')}; tjs fp32 ${fp32.results[i].median.toFixed(2)} s (${fp32.results[i].rtf.toFixed(1)}x RT), q8 ${q8.results[i].median.toFixed(2)} s (${q8.results[i].rtf.toFixed(1)}x RT)`);
  });
}
