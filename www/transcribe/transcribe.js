// Transcribes a dropped, picked or recorded clip with SpeechRecognizer in this page:
// segments are listed with their start and end times as each becomes final, and the
// tokens of the segment being decoded show beneath them. A new clip aborts the last.
import { init, SpeechRecognizer } from '../../pkg/index.js';
import { modelSource } from '../model-source.js';

const $ = (id) => document.getElementById(id);
// The model: this server's copy unless the page's source field names another.
const { source: MODEL, options: SOURCE_OPTIONS } = modelSource(new URL('../../models/whisper-tiny.en/', import.meta.url).href);

let recognizer;
let running = null; // the AbortController of the transcription under way

const clock = (s) => `${Math.floor(s / 60)}:${(s % 60).toFixed(2).padStart(5, '0')}`;

async function transcribe(audio, label) {
  running?.abort();
  const ctl = new AbortController();
  running = ctl;
  $('segments').replaceChildren();
  $('partial').textContent = '';
  $('status').textContent = `Transcribing ${label}…`;
  const t0 = performance.now();
  try {
    const out = await recognizer.transcribe(audio, {
      signal: ctl.signal,
      onToken: ({ text }) => ($('partial').textContent += text),
      onSegment: (s) => {
        const li = document.createElement('li');
        const time = document.createElement('time');
        time.textContent = `[${clock(s.start)} → ${clock(s.end)}]`;
        li.append(time, s.text);
        $('segments').append(li);
        $('partial').textContent = '';
      },
    });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    $('status').textContent = `Done: ${out.segments.length} segment(s) of ${label} in ${secs} s.`;
  } catch (e) {
    if (e.code !== 'aborted') $('status').textContent = `${label}: ${e.code}: ${e.message}`;
  } finally {
    if (running === ctl) running = null;
  }
}

let recorder = null;

async function record() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    $('status').textContent = `The microphone is not available: ${e.message}`;
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (ev) => chunks.push(ev.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    $('record').disabled = false;
    $('stop').disabled = true;
    transcribe(new Blob(chunks, { type: recorder.mimeType }), 'the recording');
  };
  recorder.start();
  $('record').disabled = true;
  $('stop').disabled = false;
  $('status').textContent = 'Recording… press Stop to transcribe.';
}

async function main() {
  await init();
  recognizer = await SpeechRecognizer.load(MODEL, {
    ...SOURCE_OPTIONS,
    onProgress: (p) => p.total && ($('progress').value = p.loaded / p.total),
  });
  $('backend').textContent = recognizer.backend;
  $('progress').value = 1;
  $('status').textContent = 'Ready: drop, pick or record audio.';
  $('file').disabled = false;
  $('record').disabled = typeof MediaRecorder !== 'function';
  $('file').onchange = () => $('file').files[0] && transcribe($('file').files[0], $('file').files[0].name);
  $('record').onclick = record;
  $('sample').disabled = false;
  $('sample').onclick = async () => {
    const blob = await (await fetch(new URL('../../clips/long.wav', import.meta.url))).blob();
    transcribe(blob, 'the 65 s sample');
  };
  $('stop').onclick = () => recorder?.stop();
  const drop = $('drop');
  drop.ondragover = (e) => (e.preventDefault(), drop.classList.add('over'));
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) transcribe(f, f.name);
  };
}

main().catch((e) => ($('status').textContent = `Could not load the model: ${e.code ?? ''} ${e.message}`));
