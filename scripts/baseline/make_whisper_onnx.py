"""Makes transformers.js's Whisper files from the converted Hugging Face layout
(models/whisper-tiny.en, scripts/convert/whisper_from_ct2.py): onnx/encoder_model.onnx,
onnx/decoder_model_merged.onnx (fp32), their q8 forms (onnxruntime's dynamic quantization,
as the hub's *_quantized.onnx are made) and tokenizer_config.json, written next to the
model. The graphs follow Optimum's export, with the input and output names
transformers.js reads:

  encoder: input_features [b, n_mels, 3000] -> last_hidden_state [b, 1500, d]
  decoder (merged): input_ids, encoder_hidden_states, use_cache_branch and
    past_key_values.{i}.{decoder,encoder}.{key,value} -> logits,
    present.{i}.{decoder,encoder}.{key,value}; the cross keys and values are made from
    encoder_hidden_states when use_cache_branch is false (an If), passed through after.

Check, before anything is kept: greedy decoding of tests/fixtures/whisper/audio/hello.wav
through onnxruntime (prompt without timestamps, openai's suppressions) gives the token ids
of tests/fixtures/whisper/reference.json's "no_timestamps" decode (the numpy Whisper's,
which CTranslate2's greedy decode equals: the converter checks that),
for fp32; the q8 files must come within a token edit distance of 20% of them (q8 costs
tiny.en some accuracy: "The low world" for "Hello world" on this clip; a baseline that
computes something else entirely is not timed).

Usage: python3 make_whisper_onnx.py MODEL_DIR
"""

import json
import os
import sys
import wave
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "convert"))
import whisper_numpy as wn  # noqa: E402

OPSET = 17
# onnxruntime-web in transformers.js reads IR versions up to 13; opset 17 needs 8.
IR_VERSION = 9


class G:
    """A graph under construction: nodes, initializers, unique names."""

    def __init__(self, prefix=""):
        self.nodes, self.inits, self.n, self.prefix = [], [], 0, prefix

    def name(self, hint):
        self.n += 1
        return f"{self.prefix}{hint}_{self.n}"

    def op(self, op, inputs, hint=None, n_out=1, **attrs):
        outs = [self.name(hint or op) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, arr, hint="c"):
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n


def weights(model_dir):
    return {k: v.astype(np.float32) for k, v in load_file(f"{model_dir}/model.safetensors").items()}


def linear(g, w, x, name, bias=True):
    y = g.op("MatMul", [x, g.const(w[name + ".weight"].T.copy(), "w")])
    if bias and name + ".bias" in w:
        y = g.op("Add", [y, g.const(w[name + ".bias"], "b")])
    return y


def layer_norm(g, w, x, name):
    return g.op("LayerNormalization", [x, g.const(w[name + ".weight"]), g.const(w[name + ".bias"])], axis=-1, epsilon=1e-5)


def gelu(g, x):
    half = g.op("Mul", [x, g.const(np.float32(0.5))])
    e = g.op("Erf", [g.op("Mul", [x, g.const(np.float32(1 / np.sqrt(2)))])])
    return g.op("Mul", [half, g.op("Add", [e, g.const(np.float32(1.0))])])


def heads(g, x, h, dh):
    """[b, s, h·dh] -> [b, h, s, dh]."""
    x = g.op("Reshape", [x, g.const(np.array([0, -1, h, dh], np.int64))])
    return g.op("Transpose", [x], perm=[0, 2, 1, 3])


def merge(g, x, d):
    x = g.op("Transpose", [x], perm=[0, 2, 1, 3])
    return g.op("Reshape", [x, g.const(np.array([0, -1, d], np.int64))])


def attend(g, q, k, v, dh, mask=None):
    s = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    s = g.op("Mul", [s, g.const(np.float32(1 / np.sqrt(dh)))])
    if mask is not None:
        s = g.op("Add", [s, mask])
    return g.op("MatMul", [g.op("Softmax", [s], axis=-1), v])


def encoder(c, w):
    g = G()
    d, h = c["d_model"], c["encoder_attention_heads"]
    dh = d // h
    x = "input_features"
    for conv, stride in (("conv1", 1), ("conv2", 2)):
        p = f"model.encoder.{conv}"
        x = g.op("Conv", [x, g.const(w[p + ".weight"]), g.const(w[p + ".bias"])], pads=[1, 1], strides=[stride])
        x = gelu(g, x)
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    x = g.op("Add", [x, g.const(w["model.encoder.embed_positions.weight"])])
    for i in range(c["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        a = layer_norm(g, w, x, p + "self_attn_layer_norm")
        q, k, v = (heads(g, linear(g, w, a, p + f"self_attn.{n}_proj", n != "k"), h, dh) for n in "qkv")
        x = g.op("Add", [x, linear(g, w, merge(g, attend(g, q, k, v, dh), d), p + "self_attn.out_proj")])
        m = layer_norm(g, w, x, p + "final_layer_norm")
        x = g.op("Add", [x, linear(g, w, gelu(g, linear(g, w, m, p + "fc1")), p + "fc2")])
    out = layer_norm(g, w, x, "model.encoder.layer_norm")
    g.nodes.append(helper.make_node("Identity", [out], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes,
        "encoder",
        [helper.make_tensor_value_info("input_features", TensorProto.FLOAT, ["batch_size", c["num_mel_bins"], 3000])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", 1500, d])],
        g.inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def decoder(c, w):
    g = G()
    d, h, layers = c["d_model"], c["decoder_attention_heads"], c["decoder_layers"]
    dh = d // h
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
        helper.make_tensor_value_info("encoder_hidden_states", f, ["batch_size", "encoder_sequence_length", d]),
    ]
    outputs = [helper.make_tensor_value_info("logits", f, ["batch_size", "decoder_sequence_length", c["vocab_size"]])]
    for i in range(layers):
        for kind in ("decoder", "encoder"):
            length = "past_decoder_sequence_length" if kind == "decoder" else "encoder_sequence_length_out"
            for t in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}.{t}", f, ["batch_size", h, length, dh]))
                outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}.{t}", f, ["batch_size", h, "present_" + length, dh]))
    inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))

    # The cross keys and values: computed from the encoder's states without a cache,
    # passed through with one. Both branches read the outer scope.
    def branch(name, compute):
        b = G(prefix=name + "_")
        outs = []
        for i in range(layers):
            p = f"model.decoder.layers.{i}.encoder_attn."
            for t, n in (("key", "k"), ("value", "v")):
                if compute:
                    y = heads(b, linear(b, w, "encoder_hidden_states", p + f"{n}_proj", n != "k"), h, dh)
                else:
                    y = b.op("Identity", [f"past_key_values.{i}.encoder.{t}"])
                outs.append(y)
        vi = [helper.make_tensor_value_info(o, f, None) for o in outs]
        return helper.make_graph(b.nodes, name, [], vi, b.inits), outs

    then_g, _ = branch("cached", False)
    else_g, _ = branch("computed", True)
    cross = [f"cross_{j}" for j in range(2 * layers)]
    g.nodes.append(helper.make_node("If", ["use_cache_branch"], cross, then_branch=then_g, else_branch=else_g))

    past_len = g.op("Gather", [g.op("Shape", ["past_key_values.0.decoder.key"]), g.const(np.array(2, np.int64))])
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.array(1, np.int64))])
    end = g.op("Add", [past_len, seq])
    positions = g.op("Range", [past_len, end, g.const(np.array(1, np.int64))])
    x = g.op("Gather", [g.const(w["model.decoder.embed_tokens.weight"]), "input_ids"])
    x = g.op("Add", [x, g.op("Gather", [g.const(w["model.decoder.embed_positions.weight"]), positions])])
    # Causal mask [seq, past + seq]: key j is hidden from query i past position past + i.
    keys = g.op("Range", [g.const(np.array(0, np.int64)), end, g.const(np.array(1, np.int64))])
    later = g.op("Greater", [g.op("Unsqueeze", [keys, g.const(np.array([0], np.int64))]),
                             g.op("Unsqueeze", [positions, g.const(np.array([1], np.int64))])])
    mask = g.op("Where", [later, g.const(np.float32(-1e9)), g.const(np.float32(0.0))])
    for i in range(layers):
        p = f"model.decoder.layers.{i}."
        a = layer_norm(g, w, x, p + "self_attn_layer_norm")
        q, k, v = (heads(g, linear(g, w, a, p + f"self_attn.{n}_proj", n != "k"), h, dh) for n in "qkv")
        k = g.op("Concat", [f"past_key_values.{i}.decoder.key", k], axis=2)
        v = g.op("Concat", [f"past_key_values.{i}.decoder.value", v], axis=2)
        g.nodes.append(helper.make_node("Identity", [k], [f"present.{i}.decoder.key"]))
        g.nodes.append(helper.make_node("Identity", [v], [f"present.{i}.decoder.value"]))
        x = g.op("Add", [x, linear(g, w, merge(g, attend(g, q, k, v, dh, mask), d), p + "self_attn.out_proj")])
        a = layer_norm(g, w, x, p + "encoder_attn_layer_norm")
        q = heads(g, linear(g, w, a, p + "encoder_attn.q_proj"), h, dh)
        ck, cv = cross[2 * i], cross[2 * i + 1]
        g.nodes.append(helper.make_node("Identity", [ck], [f"present.{i}.encoder.key"]))
        g.nodes.append(helper.make_node("Identity", [cv], [f"present.{i}.encoder.value"]))
        x = g.op("Add", [x, linear(g, w, merge(g, attend(g, q, ck, cv, dh), d), p + "encoder_attn.out_proj")])
        m = layer_norm(g, w, x, p + "final_layer_norm")
        x = g.op("Add", [x, linear(g, w, gelu(g, linear(g, w, m, p + "fc1")), p + "fc2")])
    x = layer_norm(g, w, x, "model.decoder.layer_norm")
    logits = g.op("MatMul", [x, g.const(w["model.decoder.embed_tokens.weight"].T.copy(), "proj_out")])
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(g.nodes, "decoder_merged", inputs, outputs, g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def greedy_ids(onnx_dir, suffix, c, rules, mel):
    """Greedy decoding through onnxruntime with the prompt [sot, notimestamps]."""
    opts = ort.SessionOptions()
    enc = ort.InferenceSession(str(onnx_dir / f"encoder_model{suffix}.onnx"), opts, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(onnx_dir / f"decoder_model_merged{suffix}.onnx"), opts, providers=["CPUExecutionProvider"])
    hidden = enc.run(None, {"input_features": mel[None]})[0]
    h, dh = c["decoder_attention_heads"], c["d_model"] // c["decoder_attention_heads"]
    past = {}
    for i in range(c["decoder_layers"]):
        for kind, n in (("decoder", 0), ("encoder", 0)):
            for t in ("key", "value"):
                past[f"past_key_values.{i}.{kind}.{t}"] = np.zeros((1, h, n, dh), np.float32)
    prompt = rules.prompt(timestamps=False)
    ids, sampled = prompt, []
    names = [o.name for o in dec.get_outputs()]
    for step in range(c["max_target_positions"] // 2):
        feeds = {"input_ids": np.array([ids], np.int64), "encoder_hidden_states": hidden, "use_cache_branch": np.array([step > 0]), **past}
        outs = dict(zip(names, dec.run(None, feeds)))
        logits = wn.apply_rules(outs["logits"][0, -1], sampled, rules, timestamps=False)
        tok = int(np.argmax(logits))
        if tok == rules.eot:
            break
        sampled.append(tok)
        ids = [tok]
        past = {k.replace("present", "past_key_values"): v for k, v in outs.items() if k.startswith("present")}
    return sampled


def main(model_dir):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = Path(model_dir)
    c = json.load(open(root / "config.json"))
    w = weights(model_dir)
    onnx_dir = root / "onnx"
    onnx_dir.mkdir(exist_ok=True)
    for name, model in (("encoder_model", encoder(c, w)), ("decoder_model_merged", decoder(c, w))):
        onnx.checker.check_model(model)
        onnx.save(model, str(onnx_dir / f"{name}.onnx"))
        quantize_dynamic(str(onnx_dir / f"{name}.onnx"), str(onnx_dir / f"{name}_quantized.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    json.dump(
        {"tokenizer_class": "WhisperTokenizer", "model_max_length": 1024, "errors": "replace", "add_prefix_space": False},
        open(root / "tokenizer_config.json", "w"),
        indent=2,
    )
    fixtures = HERE.parent.parent / "tests/fixtures/whisper"
    with wave.open(str(fixtures / "audio/hello.wav")) as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    _, rules = wn.load(model_dir)
    mel, _ = wn.window(wn.log_mel(audio, c["num_mel_bins"]), 0)
    want = json.load(open(fixtures / "reference.json"))["hello.wav"]["no_timestamps"]
    got = greedy_ids(onnx_dir, "", c, rules, mel)
    print(f"[whisper-onnx] fp32 greedy ids equal the reference: {got == want}")
    if got != want:
        raise SystemExit(f"fp32 ONNX decodes {got}, the reference {want}")
    q8 = greedy_ids(onnx_dir, "_quantized", c, rules, mel)
    d = list(range(len(q8) + 1))
    for i in range(1, len(want) + 1):
        prev, d = d, [i]
        for j in range(1, len(q8) + 1):
            d.append(min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (want[i - 1] != q8[j - 1])))
    ratio = d[-1] / len(want)
    print(f"[whisper-onnx] q8 greedy ids: token edit distance {ratio:.2f} of the reference's")
    if ratio > 0.2:
        raise SystemExit(f"q8 ONNX decodes {q8}, far from {want}")


if __name__ == "__main__":
    main(sys.argv[1])
