// Speech recognition speed of one library on Whisper tiny.en (models/whisper-tiny.en): ours
// (wasm or webgpu) or transformers.js (fp32 or q8 ONNX made from the same weights), on the
// committed clips hello.wav and long.wav given as 16 kHz samples. Per clip: the median
// seconds of a transcription, the real-time factor (audio seconds per second), and for ours
// the seconds to the first segment (onSegment). Results, with each library's text so a
// driver can check they agree, land in window.benchResults.
import { clip, time } from './cases.js';
import { loadTjs, transcribeLong } from './tjs.js';

const q = new URLSearchParams(location.search);
const lib = q.get('lib') ?? 'ours';
const CLIPS = ['hello.wav', 'long.wav'];

async function ours() {
  const m = await import('../../pkg/index.js');
  await m.init();
  const t0 = performance.now();
  const r = await m.SpeechRecognizer.load(new URL('../../models/whisper-tiny.en/', import.meta.url).href, {
    backend: q.get('backend') ?? 'wasm',
  });
  return {
    library: `ipfs-accelerate ${m.version()} (${r.backend}, ${m.cpuPath()})`,
    loadMs: performance.now() - t0,
    transcribe: async (audio) => {
      const start = performance.now();
      let first = null;
      const out = await r.transcribe(audio, { onSegment: () => (first ??= (performance.now() - start) / 1000) });
      return { text: out.text, first };
    },
  };
}

async function tjs() {
  const { pipeline, env } = await loadTjs();
  const dtype = q.get('dtype') ?? 'fp32';
  const t0 = performance.now();
  const asr = await pipeline('automatic-speech-recognition', 'whisper-tiny.en', { dtype, device: 'wasm' });
  return {
    library: `transformers.js ${env.version} ${dtype}`,
    loadMs: performance.now() - t0,
    transcribe: async (audio) => {
      return { text: await transcribeLong(asr, audio), first: null };
    },
  };
}

async function main() {
  const m = lib === 'tjs' ? await tjs() : await ours();
  document.getElementById('library').textContent = m.library;
  const results = [];
  for (const name of CLIPS) {
    const audio = await clip(name);
    const seconds = audio.length / 16000;
    // time() runs once untimed first: that run's text is kept, each timed run's first segment.
    let last = null;
    const r = await time(async () => (last = await m.transcribe(audio)), 2, 20000);
    const { text, first } = last;
    const median = r.median / 1000;
    results.push({ clip: name, seconds, median, runs: r.runs, rtf: seconds / median, first, text });
    document.getElementById('rows').insertAdjacentHTML(
      'beforeend',
      `<tr><td>${name}</td><td>${seconds.toFixed(1)}</td><td>${median.toFixed(2)}</td><td>${r.runs}</td><td>${(seconds / median).toFixed(1)}</td><td>${first?.toFixed(2) ?? '–'}</td></tr>`,
    );
    document.getElementById('texts').textContent += `${name}: ${text}\n`;
  }
  document.getElementById('status').textContent = `done (model load ${m.loadMs.toFixed(0)} ms)`;
  window.benchResults = { library: m.library, loadMs: m.loadMs, results };
}

main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e.code ?? ''} ${e.message}`;
  window.benchResults = { error: `${e.code ? `${e.code}: ` : ''}${e.message}` };
});
