// Every kind of audio `SpeechRecognizer` takes, turned into what the wasm module reads: a
// Float32Array of 16 kHz mono samples as it is, `{ data, sampleRate }` as it is (data one
// Float32Array, or one per channel), an AudioBuffer as its channels and rate, and encoded
// files (Blob, File, ArrayBuffer, typed array bytes: wav, mp3, ogg, webm, flac, whatever
// the browser decodes) through the browser's `decodeAudioData`, at 16 kHz. The wasm side
// checks the samples, averages channels and resamples any other rate with a windowed-sinc
// filter. Decoding needs an OfflineAudioContext, which pages have and workers do not:
// models in the SDK's worker decode on the page first. Anything unreadable is
// `invalid_audio`.

const has = (name) => typeof globalThis[name] === 'function';
const is = (x, name) => has(name) && x instanceof globalThis[name];

function isAudioBuffer(a) {
  return is(a, 'AudioBuffer') || (typeof a?.getChannelData === 'function' && typeof a?.numberOfChannels === 'number');
}

async function decode(bytes, what, codeError) {
  const Ctx = globalThis.OfflineAudioContext ?? globalThis.webkitOfflineAudioContext;
  if (typeof Ctx !== 'function') {
    throw codeError(
      'invalid_audio',
      `${what}: this environment has no audio decoder (OfflineAudioContext; a worker or Node?): pass samples as a Float32Array or { data, sampleRate }`,
    );
  }
  if (bytes.byteLength === 0) throw codeError('invalid_audio', `${what} is empty (0 bytes)`);
  // decodeAudioData detaches the buffer it is given: decode a copy, not the caller's.
  const ctx = new Ctx(1, 1, 16000);
  let buffer;
  try {
    buffer = await ctx.decodeAudioData(bytes.slice(0));
  } catch (e) {
    throw codeError('invalid_audio', `${what} cannot be decoded as audio (${bytes.byteLength} bytes): ${e?.message ?? e}`);
  }
  return fromAudioBuffer(buffer);
}

function fromAudioBuffer(b) {
  const data = [];
  for (let c = 0; c < b.numberOfChannels; c++) data.push(b.getChannelData(c));
  return { data, sampleRate: b.sampleRate };
}

/** `audio` as a Float32Array of 16 kHz samples or `{ data, sampleRate }`; `what` names it
 * in errors. */
export async function toAudio(audio, what, codeError) {
  if (audio instanceof Float32Array) return audio;
  if (audio == null || typeof audio !== 'object') {
    throw codeError('invalid_audio', `${what} is ${audio === null ? 'null' : typeof audio}, not audio`);
  }
  if (isAudioBuffer(audio)) return fromAudioBuffer(audio);
  if (is(audio, 'Blob')) return decode(await audio.arrayBuffer(), `${what} (${audio.type || 'a Blob'})`, codeError);
  if (audio instanceof ArrayBuffer) return decode(audio, what, codeError);
  if (ArrayBuffer.isView(audio)) {
    const bytes = audio.buffer.slice(audio.byteOffset, audio.byteOffset + audio.byteLength);
    return decode(bytes, what, codeError);
  }
  if ('data' in audio) return audio;
  throw codeError(
    'invalid_audio',
    `${what} is not audio: pass a Float32Array (16 kHz), { data, sampleRate }, an AudioBuffer, a Blob or File, or an ArrayBuffer of an encoded file`,
  );
}
