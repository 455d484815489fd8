"""A float32 numpy Whisper, written from openai/whisper's definitions: the log-mel front end,
the encoder and decoder over Hugging Face tensor names, and greedy decoding with Whisper's
rules (suppress and begin-suppress tokens, the timestamp rules, the maximum initial
timestamp, no-speech skipping) and long-form seeking. The converter checks its output
against faster-whisper with it; tests/fixtures/whisper/gen_whisper.py makes the SDK's
reference tokens with it. Independent of the SDK: nothing here is shared with the Rust code.
"""

import json
import math

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
CHUNK = 30
N_SAMPLES = CHUNK * SAMPLE_RATE
N_FRAMES = N_SAMPLES // HOP
TIME_PRECISION = 0.02
INPUT_STRIDE = 2


# ---- front end ---------------------------------------------------------------------------


def mel_filters(n_mels, sr=SAMPLE_RATE, n_fft=N_FFT):
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults: Slaney's mel scale and area
    normalisation, computed in float64 and returned as float32 (openai's mel_filters.npz)."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel(audio, n_mels, padding=N_SAMPLES):
    """openai/whisper's log_mel_spectrogram: the audio with `padding` zeros after it, a
    centred (reflect-padded) STFT with a periodic Hann window, the last frame dropped,
    power through the mel filters, log10 clamped at 1e-10, then floored at the maximum
    minus 8 and scaled to (x + 4) / 4. The FFT in float64, the result in float32."""
    audio = np.concatenate([np.asarray(audio, dtype=np.float32), np.zeros(padding, dtype=np.float32)])
    x = np.pad(audio.astype(np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(x[idx] * window, axis=-1)[:-1]
    power = (np.abs(spec) ** 2).astype(np.float32)
    mel = mel_filters(n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


# ---- model -------------------------------------------------------------------------------


def erf(x):
    """erf to a fractional error under 1.2e-7 (Numerical Recipes' erfc), below float32's."""
    z = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(-z * z + poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def gelu(x):
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps) * w + b).astype(np.float32)


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def conv1d(x, w, b, stride):
    """x [C, L], w [O, C, 3], padding 1."""
    c, length = x.shape
    xp = np.pad(x, ((0, 0), (1, 1)))
    out_len = (length + 2 - 3) // stride + 1
    cols = np.stack([xp[:, k : k + stride * (out_len - 1) + 1 : stride] for k in range(3)], axis=1)  # [C, 3, L']
    return (w.reshape(w.shape[0], -1) @ cols.reshape(c * 3, out_len) + b[:, None]).astype(np.float32)


class Whisper:
    """The model of a Hugging Face Whisper checkpoint (config.json and safetensors tensors,
    any float dtype, computed in float32)."""

    def __init__(self, config, tensors):
        self.c = config
        self.t = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
        self.heads_enc = config["encoder_attention_heads"]
        self.heads_dec = config["decoder_attention_heads"]

    def w(self, name):
        return self.t[name]

    def linear(self, x, name, bias=True):
        y = x @ self.w(name + ".weight").T
        if bias and name + ".bias" in self.t:
            y = y + self.w(name + ".bias")
        return y.astype(np.float32)

    def attention(self, q, k, v, heads, causal_offset=None):
        n, d = q.shape
        dh = d // heads
        q = q.reshape(n, heads, dh).transpose(1, 0, 2)
        k = k.reshape(-1, heads, dh).transpose(1, 0, 2)
        v = v.reshape(-1, heads, dh).transpose(1, 0, 2)
        s = (q @ k.transpose(0, 2, 1)) / np.float32(math.sqrt(dh))
        if causal_offset is not None:
            qi = causal_offset + np.arange(n)[:, None]
            s = np.where(np.arange(k.shape[1])[None, :] <= qi, s, -np.inf)
        o = softmax(s).astype(np.float32) @ v
        return o.transpose(1, 0, 2).reshape(n, d)

    def encode(self, mel):
        """mel [n_mels, 3000] -> [1500, d]."""
        x = gelu(conv1d(mel, self.w("model.encoder.conv1.weight"), self.w("model.encoder.conv1.bias"), 1))
        x = gelu(conv1d(x, self.w("model.encoder.conv2.weight"), self.w("model.encoder.conv2.bias"), 2))
        x = (x.T + self.w("model.encoder.embed_positions.weight")[: x.shape[1]]).astype(np.float32)
        for i in range(self.c["encoder_layers"]):
            p = f"model.encoder.layers.{i}."
            h = layer_norm(x, self.w(p + "self_attn_layer_norm.weight"), self.w(p + "self_attn_layer_norm.bias"))
            q = self.linear(h, p + "self_attn.q_proj")
            k = self.linear(h, p + "self_attn.k_proj", bias=False)
            v = self.linear(h, p + "self_attn.v_proj")
            x = x + self.linear(self.attention(q, k, v, self.heads_enc), p + "self_attn.out_proj")
            h = layer_norm(x, self.w(p + "final_layer_norm.weight"), self.w(p + "final_layer_norm.bias"))
            x = x + self.linear(gelu(self.linear(h, p + "fc1")), p + "fc2")
        return layer_norm(x, self.w("model.encoder.layer_norm.weight"), self.w("model.encoder.layer_norm.bias"))

    def cross_kv(self, xa):
        out = []
        for i in range(self.c["decoder_layers"]):
            p = f"model.decoder.layers.{i}.encoder_attn."
            out.append((self.linear(xa, p + "k_proj", bias=False), self.linear(xa, p + "v_proj")))
        return out

    def decode(self, tokens, cache, cross):
        """Logits [n, vocab] for `tokens` following the `cache` (per layer (k, v), grown in
        place) of the tokens before them."""
        offset = cache[0][0].shape[0] if cache else 0
        x = self.w("model.decoder.embed_tokens.weight")[tokens] + self.w("model.decoder.embed_positions.weight")[
            offset : offset + len(tokens)
        ]
        for i in range(self.c["decoder_layers"]):
            p = f"model.decoder.layers.{i}."
            h = layer_norm(x, self.w(p + "self_attn_layer_norm.weight"), self.w(p + "self_attn_layer_norm.bias"))
            q = self.linear(h, p + "self_attn.q_proj")
            k = self.linear(h, p + "self_attn.k_proj", bias=False)
            v = self.linear(h, p + "self_attn.v_proj")
            if len(cache) <= i:
                cache.append((k, v))
            else:
                cache[i] = (np.concatenate([cache[i][0], k]), np.concatenate([cache[i][1], v]))
            ck, cv = cache[i]
            x = x + self.linear(self.attention(q, ck, cv, self.heads_dec, causal_offset=offset), p + "self_attn.out_proj")
            h = layer_norm(x, self.w(p + "encoder_attn_layer_norm.weight"), self.w(p + "encoder_attn_layer_norm.bias"))
            q = self.linear(h, p + "encoder_attn.q_proj")
            x = x + self.linear(self.attention(q, cross[i][0], cross[i][1], self.heads_dec), p + "encoder_attn.out_proj")
            h = layer_norm(x, self.w(p + "final_layer_norm.weight"), self.w(p + "final_layer_norm.bias"))
            x = x + self.linear(gelu(self.linear(h, p + "fc1")), p + "fc2")
        x = layer_norm(x, self.w("model.decoder.layer_norm.weight"), self.w("model.decoder.layer_norm.bias"))
        return (x @ self.w("model.decoder.embed_tokens.weight").T).astype(np.float32)


# ---- decoding ----------------------------------------------------------------------------


class Rules:
    """The special ids and options of a checkpoint's generation_config.json."""

    def __init__(self, gen, vocab_size):
        self.eot = gen["eos_token_id"]
        self.sot = gen["decoder_start_token_id"]
        self.no_timestamps = gen["no_timestamps_token_id"]
        self.timestamp_begin = self.no_timestamps + 1
        self.suppress = sorted(set(gen["suppress_tokens"]))
        self.begin_suppress = gen["begin_suppress_tokens"]
        self.max_initial = gen.get("max_initial_timestamp_index", 50)
        # <|nospeech|> (<|nocaptions|> in older vocabularies) is the id before <|notimestamps|>.
        self.no_speech = self.no_timestamps - 1
        self.vocab = vocab_size
        self.multilingual = gen.get("is_multilingual", False)
        self.lang_to_id = gen.get("lang_to_id", {})
        self.task_to_id = gen.get("task_to_id", {})

    def prompt(self, language=None, task="transcribe", timestamps=True):
        p = [self.sot]
        if self.multilingual:
            p += [self.lang_to_id[f"<|{language}|>"], self.task_to_id[task]]
        if not timestamps:
            p.append(self.no_timestamps)
        return p


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def apply_rules(logits, sampled, rules, timestamps):
    """openai/whisper's SuppressBlank, SuppressTokens and ApplyTimestampRules on one row of
    logits, given the tokens sampled so far (after the prompt)."""
    logits = logits.astype(np.float32).copy()
    if not sampled:
        logits[rules.begin_suppress] = -np.inf
    logits[rules.suppress] = -np.inf
    if not timestamps:
        return logits
    tb = rules.timestamp_begin
    logits[rules.no_timestamps] = -np.inf
    last_ts = len(sampled) >= 1 and sampled[-1] >= tb
    penult_ts = len(sampled) < 2 or sampled[-2] >= tb
    if last_ts:
        if penult_ts:
            logits[tb:] = -np.inf
        else:
            logits[: rules.eot] = -np.inf
    ts = [t for t in sampled if t >= tb]
    if ts:
        last = ts[-1] if (last_ts and not penult_ts) else ts[-1] + 1
        logits[tb:last] = -np.inf
    if not sampled:
        logits[:tb] = -np.inf
        logits[tb + rules.max_initial + 1 :] = -np.inf
    lp = log_softmax(logits)
    ts_lp = np.logaddexp.reduce(lp[tb:])
    if ts_lp > lp[:tb].max():
        logits[:tb] = -np.inf
    return logits


def greedy(model, rules, mel_window, prompt, timestamps):
    """One 30 s window: (sampled tokens without the end, avg log-prob, no-speech prob). At
    most half the text context is sampled (openai's sample_len, 224 for every size)."""
    xa = model.encode(mel_window)
    cross = model.cross_kv(xa)
    cache = []
    logits = model.decode(np.array(prompt), cache, cross)
    no_speech = float(np.exp(log_softmax(logits[prompt.index(rules.sot)])[rules.no_speech]))
    row = logits[-1]
    sampled, sum_lp = [], 0.0
    for _ in range(model.c["max_target_positions"] // 2):
        filtered = apply_rules(row, sampled, rules, timestamps)
        tok = int(np.argmax(filtered))
        if tok == rules.eot:
            sum_lp += log_softmax(filtered)[tok]  # openai adds the end's log-prob once
            break
        sum_lp += log_softmax(filtered)[tok]
        sampled.append(tok)
        row = model.decode(np.array([tok]), cache, cross)[-1]
    return sampled, sum_lp / (len(sampled) + 1), no_speech


def window(mel, seek):
    """The 30 s input at frame `seek` and the frames of audio in it: the mel from `seek`,
    at most N_FRAMES of content, padded with zeros (openai's pad_or_trim), not with the
    mel of the padding audio."""
    content = mel.shape[1] - N_FRAMES
    size = min(N_FRAMES, content - seek)
    w = mel[:, seek : seek + size]
    return np.ascontiguousarray(np.pad(w, ((0, 0), (0, N_FRAMES - size)))), size


def detect_language(model, rules, mel_window):
    """openai's detect_language: the most likely language token after <|startoftranscript|>."""
    cross = model.cross_kv(model.encode(mel_window))
    logits = model.decode(np.array([rules.sot]), [], cross)[0]
    ids = sorted(rules.lang_to_id.values())
    return ids[int(np.argmax(logits[ids]))]


def transcribe(
    model, rules, audio, timestamps=True, language=None, task="transcribe", no_speech_threshold=0.6, logprob_threshold=-1.0
):
    """openai/whisper's transcribe at temperature 0 without fallback or previous-text
    conditioning: segments with start and end seconds and their tokens, and the language
    (detected from the first window when a multilingual model is given none)."""
    mel = log_mel(audio, model.c["num_mel_bins"])
    content = mel.shape[1] - N_FRAMES
    if rules.multilingual and language is None:
        lang_id = detect_language(model, rules, window(mel, 0)[0])
        language = next(k[2:-2] for k, v in rules.lang_to_id.items() if v == lang_id)
    prompt = rules.prompt(language, task=task, timestamps=timestamps)
    seek, segments = 0, []
    while seek < content:
        offset = seek * HOP / SAMPLE_RATE
        win, size = window(mel, seek)
        tokens, avg_lp, no_speech = greedy(model, rules, win, prompt, timestamps)
        if no_speech > no_speech_threshold and avg_lp <= logprob_threshold:
            seek += size
            continue
        tb = rules.timestamp_begin
        is_ts = [t >= tb for t in tokens]
        single_end = is_ts[-2:] == [False, True]
        consecutive = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
        if consecutive:
            slices = consecutive + ([len(tokens)] if single_end else [])
            last = 0
            for cur in slices:
                part = tokens[last:cur]
                segments.append(
                    dict(start=offset + (part[0] - tb) * TIME_PRECISION, end=offset + (part[-1] - tb) * TIME_PRECISION, tokens=part)
                )
                last = cur
            if single_end:
                seek += size
            else:
                seek += (tokens[last - 1] - tb) * INPUT_STRIDE
        else:
            duration = size * HOP / SAMPLE_RATE
            stamps = [t for t in tokens if t >= tb]
            if stamps and stamps[-1] != tb:
                duration = (stamps[-1] - tb) * TIME_PRECISION
            segments.append(dict(start=offset, end=offset + duration, tokens=tokens))
            seek += size
    return segments, language


def load(dir_path):
    """(Whisper, Rules) from a Hugging Face layout directory."""
    from safetensors.numpy import load_file

    config = json.load(open(f"{dir_path}/config.json"))
    gen = json.load(open(f"{dir_path}/generation_config.json"))
    return Whisper(config, load_file(f"{dir_path}/model.safetensors")), Rules(gen, config["vocab_size"])
