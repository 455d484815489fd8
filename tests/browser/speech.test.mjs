// SpeechRecognizer in real browsers (Whisper tiny.en from models/whisper-tiny.en, converted
// by scripts/convert/whisper_from_ct2.py), against the float32 numpy Whisper with openai's
// rules (tests/fixtures/whisper/reference.json, gen_whisper.py):
// - wasm: hello.wav as a Blob (the browser's decodeAudioData) and hello_44k.wav as raw
//   44.1 kHz samples (our windowed-sinc resampler): token ids equal the reference, or where
//   a near-tie flips one, WER against faster-whisper <= 0.05; onSegment fires once per
//   segment in order, onToken once per token;
// - webgpu: hello.wav, the same check (the clip is one 30 s window: the software adapters
//   here run the encoder slowly, so the long clip runs natively and on wasm only);
// - bad inputs give coded errors and the next call works: empty audio, a NaN sample, a
//   corrupt Blob (invalid_audio), sample rates 0, -1 and NaN (invalid_audio), an aborted
//   call (aborted), a corrupt weights file (invalid_weights), an unknown model_type
//   (unsupported_model);
// - `{ worker: true }`: the Blob decoded on the page, the transcript equal to the page's,
//   onSegment relayed from the worker;
// - memory is flat: the long clip (65 s, three windows; its ids checked against the
//   reference, with segments past 60 s) transcribed SPEECH_MEMORY_RUNS times (3 in
//   `npm test`, for the CI budget; 10 by hand) on wasm grows the wasm memory by nothing
//   from the second run on (a fresh page's second run may lift the allocator's high-water
//   mark once, by a few MB); each run's real-time factor is printed. By hand on webgpu too
//   (SPEECH_MEMORY_BACKENDS=wasm,webgpu): the GPU bytes after each run stay the same, none
//   alive, and the breakdown (weights, plans, values while decoding) is printed. That a
//   second transcription leaves the device's weight, plan and value bytes as the first
//   left them is the native WebGPU place's check (tests/whisper_reference.rs: the same
//   accounting, on lavapipe, where Firefox's WebGPU also runs): the software adapters
//   here take 60 to 100 s per 30 s window, so each browser transcribes once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { browsersToTest } from '../../scripts/drive.mjs';
import { openPage } from './page-setup.mjs';
import { wer } from '../../scripts/wer.mjs';

const here = new URL('../fixtures/whisper/', import.meta.url);
const ref = JSON.parse(readFileSync(new URL('reference.json', here)));
const wavBytes = (name) => readFileSync(new URL(`audio/${name}`, here));

/** The 16-bit PCM samples of a WAV file (its `data` chunk), as floats, and its rate. */
function pcm(name) {
  const b = wavBytes(name);
  const rate = b.readUInt32LE(24);
  const channels = b.readUInt16LE(22);
  let at = 12;
  while (b.toString('ascii', at, at + 4) !== 'data') at += 8 + b.readUInt32LE(at + 4);
  const n = b.readUInt32LE(at + 4) / 2;
  const out = new Array(n / channels);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(at + 8 + 2 * i * channels) / 32768;
  return { samples: out, rate };
}

const args = {
  hello: wavBytes('hello.wav').toString('base64'),
  hello44k: pcm('hello_44k.wav'),
};
const long = pcm('long.wav');
const MEMORY_RUNS = Number(process.env.SPEECH_MEMORY_RUNS ?? 3);
// webgpu too by hand (SPEECH_MEMORY_BACKENDS=wasm,webgpu): the software adapters here take
// 20 s (lavapipe) to 60 s (SwiftShader) per window, too slow for the CI budget.
const MEMORY_BACKENDS = (process.env.SPEECH_MEMORY_BACKENDS ?? 'wasm').split(',');

/** Token ids equal the reference's segment by segment, or the WER is at most 0.05. */
function checkTranscript(what, clip, got) {
  const want = ref[clip];
  let last = 0;
  for (const s of got.segments) {
    assert.ok(s.start >= last && s.end >= s.start && s.end <= want.seconds + 0.5, `${what}: segment ${JSON.stringify(s)}`);
    last = s.start;
  }
  const same =
    got.segments.length === want.segments.length &&
    got.segments.every((s, i) => JSON.stringify(s.tokens) === JSON.stringify(want.segments[i].tokens));
  const w = wer(want.faster_whisper, got.text);
  if (!same) assert.ok(w <= 0.05, `${what}: ids differ and WER ${w} > 0.05: ${got.text}`);
  console.log(`speech: ${what}: ids ${same ? 'equal' : 'differ'}, WER ${w.toFixed(3)}: ${got.text}`);
}

async function transcribePage({ backend, hello, hello44k }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    const base = new URL('/models/whisper-tiny.en/', location.href).href;
    const bytes = Uint8Array.from(atob(hello), (c) => c.charCodeAt(0));
    const blob = new Blob([bytes], { type: 'audio/wav' });
    const code = (p) => p.then(() => 'resolved', (e) => e.code ?? `no code: ${e.message}`);
    const r = await m.SpeechRecognizer.load(base, { backend, cache: false });
    const events = { segments: [], tokens: 0 };
    const out = {
      backend: r.backend,
      multilingual: r.isMultilingual,
      unused: r.unusedWeights,
      hello: await r.transcribe(blob, { onSegment: (s) => events.segments.push(s), onToken: () => (events.tokens += 1) }),
      events,
    };
    if (backend === 'webgpu') out.gpu = [r.gpuInfo.weightBytes, r.gpuInfo.planBytes, r.gpuInfo.valueBytes];
    if (backend === 'wasm') {
      out.hello44k = await r.transcribe({ data: Float32Array.from(hello44k.samples), sampleRate: hello44k.rate });
      const ok = new Float32Array(16000);
      const ctl = new AbortController();
      let seen = 0;
      const cases = {
        empty: () => r.transcribe(new Float32Array(0)),
        nan: () => r.transcribe(Float32Array.of(0, NaN, 0)),
        corruptBlob: () => r.transcribe(new Blob([new Uint8Array([82, 73, 70, 70, 1, 2, 3, 4, 5])], { type: 'audio/wav' })),
        rateZero: () => r.transcribe({ data: ok, sampleRate: 0 }),
        rateNegative: () => r.transcribe({ data: ok, sampleRate: -1 }),
        rateNaN: () => r.transcribe({ data: ok, sampleRate: NaN }),
        notAudio: () => r.transcribe(42),
        badOption: () => r.transcribe(ok, { language: 'de' }),
        aborted: () => r.transcribe(blob, { signal: ctl.signal, onToken: () => ++seen === 3 && ctl.abort() }),
      };
      out.errors = {};
      for (const [k, f] of Object.entries(cases)) out.errors[k] = await code(f());
      // A weights file that is not safetensors, and a config of an unknown model type:
      // every other file is the real model's.
      const realFetch = globalThis.fetch;
      globalThis.fetch = (url, init) => {
        const u = String(url);
        if (u.includes('/broken-whisper/model.safetensors')) return Promise.resolve(new Response(new Uint8Array(12)));
        if (u.includes('/unknown-whisper/config.json')) return Promise.resolve(new Response('{"model_type": "speecht5"}'));
        return realFetch(u.replace(/\/(broken|unknown)-whisper\//, '/models/whisper-tiny.en/'), init);
      };
      const at = (p) => new URL(p, location.href).href;
      out.errors.badWeights = await code(m.SpeechRecognizer.load(at('/broken-whisper/'), { backend, cache: false }));
      out.errors.unknownModel = await code(m.SpeechRecognizer.load(at('/unknown-whisper/'), { backend, cache: false }));
      globalThis.fetch = realFetch;
      // The next call works after every error above.
      out.after = await r.transcribe(blob);
    }
    r.dispose();
    out.afterDispose = await code(r.transcribe(new Float32Array(16000)));
    return out;
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

async function inWorker({ hello }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    const base = new URL('/models/whisper-tiny.en/', location.href).href;
    const blob = new Blob([Uint8Array.from(atob(hello), (c) => c.charCodeAt(0))], { type: 'audio/wav' });
    const w = await m.SpeechRecognizer.load(base, { backend: 'wasm', cache: false, worker: true });
    const segments = [];
    let tokens = 0;
    const got = await w.transcribe(blob, { onSegment: (s) => segments.push(s), onToken: () => (tokens += 1) });
    const info = { backend: w.backend, multilingual: w.isMultilingual };
    w.dispose();
    return { got, segments, tokens, info };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

/** One step of the memory test, one page call each (a long clip on a software adapter
 * takes minutes, past the drivers' call timeouts for ten in one call): 'load', 'run' (one
 * transcription; the wasm memory and GPU bytes after it), 'dispose'. */
async function memory({ op, samples, backend }) {
  try {
    const m = await import('/pkg/index.js');
    await m.init();
    if (op === 'load') {
      const base = new URL('/models/whisper-tiny.en/', location.href).href;
      globalThis.memoryTest = { r: await m.SpeechRecognizer.load(base, { backend, cache: false }), peakValues: 0 };
      return {};
    }
    const t = globalThis.memoryTest;
    if (op === 'dispose') {
      t.r.dispose();
      return {};
    }
    const gpu = () => (backend === 'webgpu' ? [t.r.gpuInfo.weightBytes, t.r.gpuInfo.planBytes, t.r.gpuInfo.valueBytes] : null);
    // On webgpu the device values alive while a token is decoded: the window's caches and
    // the step's activations (sampled at every token).
    const onToken = backend === 'webgpu' ? () => (t.peakValues = Math.max(t.peakValues, t.r.gpuInfo.valueBytes)) : undefined;
    const t0 = performance.now();
    const got = await t.r.transcribe(Float32Array.from(samples), { onToken });
    const seconds = (performance.now() - t0) / 1000;
    return { got, seconds, wasm: m.memoryBytes(), gpu: gpu(), peakValues: t.peakValues, audioSeconds: samples.length / 16000 };
  } catch (err) {
    return { error: `${err.code}: ${err.message}\n${err.stack}` };
  }
}

for (const name of browsersToTest()) {
  describe(`SpeechRecognizer in ${name}`, () => {
    const ctx = openPage(name);

    for (const backend of ['wasm', 'webgpu']) {
      test(`matches the numpy reference (${backend})`, async () => {
        const r = await ctx.page.evaluate(transcribePage, { backend, ...args });
        assert.ok(!r.error, r.error);
        assert.equal(r.backend, backend);
        assert.equal(r.multilingual, false);
        assert.deepEqual(r.unused, []);
        checkTranscript(`${name} ${backend} hello.wav (Blob)`, 'hello.wav', r.hello);
        assert.deepEqual(r.events.segments, r.hello.segments, 'onSegment saw each segment, in order');
        const tokens = r.hello.segments.reduce((n, s) => n + s.tokens.length, 0);
        assert.equal(r.events.tokens, tokens, 'onToken fired per token');
        assert.equal(r.hello.language, 'en');
        if (backend === 'webgpu') {
          assert.equal(r.gpu[2], 0, 'no device value outlives a call');
          console.log(`speech memory: ${name} webgpu: [weights, plans, values] ${JSON.stringify(r.gpu)} after the run`);
        }
        if (backend === 'wasm') {
          checkTranscript(`${name} wasm hello_44k.wav (44.1 kHz samples)`, 'hello_44k.wav', r.hello44k);
          const want = {
            empty: 'invalid_audio',
            nan: 'invalid_audio',
            corruptBlob: 'invalid_audio',
            rateZero: 'invalid_audio',
            rateNegative: 'invalid_audio',
            rateNaN: 'invalid_audio',
            notAudio: 'invalid_audio',
            badOption: 'invalid_argument',
            aborted: 'aborted',
            badWeights: 'invalid_weights',
            unknownModel: 'unsupported_model',
          };
          assert.deepEqual(r.errors, want);
          checkTranscript(`${name} wasm hello.wav after the errors`, 'hello.wav', r.after);
        }
        assert.equal(r.afterDispose, 'disposed');
      });
    }

    for (const backend of MEMORY_BACKENDS) {
      test(`memory is flat over repeated transcriptions (${backend})`, async () => {
        const loaded = await ctx.page.evaluate(memory, { op: 'load', backend });
        assert.ok(!loaded.error, loaded.error);
        const runs = [];
        for (let i = 0; i < MEMORY_RUNS; i++) {
          const r = await ctx.page.evaluate(memory, { op: 'run', samples: long.samples, backend });
          assert.ok(!r.error, r.error);
          runs.push(r);
        }
        await ctx.page.evaluate(memory, { op: 'dispose', backend });
        const [first] = runs;
        assert.equal(new Set(runs.map((r) => r.got.text)).size, 1, 'every run gave the same text');
        // The long clip's reference check in the browsers (the wasm-bindgen suite leaves it
        // to this test): segments past 60 s.
        checkTranscript(`${name} ${backend} long.wav`, 'long.wav', first.got);
        assert.ok(first.got.segments.some((s) => s.end > 60), 'segments past 60 s');
        // From the second run on, nothing grows: in a fresh page the second run can still
        // raise the allocator's high-water mark once (a few MB, printed), then it holds.
        const wasm = runs.map((r) => r.wasm);
        assert.ok(wasm.slice(1).every((b) => b === wasm[1]), `wasm memory after each run: ${wasm}`);
        const rtf = runs.map((r) => (r.audioSeconds / r.seconds).toFixed(1));
        const after = `after each of ${MEMORY_RUNS} runs of ${first.audioSeconds.toFixed(1)} s; real time x ${rtf.join(' ')}`;
        console.log(`speech memory: ${name} ${backend}: wasm ${wasm.join(' ')} bytes ${after}`);
        if (backend === 'webgpu') {
          const gpu = runs.map((r) => JSON.stringify(r.gpu));
          assert.ok(gpu.every((g) => g === gpu[0]), `GPU bytes [weights, plans, values] after each run: ${gpu}`);
          assert.equal(first.gpu[2], 0, 'no device value outlives a call');
          const [weights, plans] = first.gpu;
          const peak = runs.at(-1).peakValues;
          console.log(`speech memory: ${name} webgpu: weights ${weights}, plans ${plans}, values while decoding (caches + activations) ${peak} bytes; the same ${after}`);
        }
      });
    }

    test('{ worker: true } transcribes and relays segments', async () => {
      const r = await ctx.page.evaluate(inWorker, args);
      assert.ok(!r.error, r.error);
      assert.deepEqual(r.info, { backend: 'wasm', multilingual: false });
      checkTranscript(`${name} worker hello.wav`, 'hello.wav', r.got);
      assert.deepEqual(r.segments, r.got.segments);
      assert.equal(r.tokens, r.got.segments.reduce((n, s) => n + s.tokens.length, 0));
    });
  });
}
