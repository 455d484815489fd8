"""Makes transformers.js's q8 DINOv2 from the fp32 backbone ONNX that
scripts/convert/dinov2_from_onnx.py exports (models/dinov2-small/onnx/model.onnx), and checks it.

q8 is onnxruntime.quantization.quantize_dynamic (MatMulInteger, int8 weights per channel),
which is how the Hugging Face hub's model_quantized.onnx files are made. Check, with
onnxruntime on two fixed random inputs: the CLS token of the q8 model against the fp32
model's, cosine >= 0.97 (a baseline that computes something else is not timed).

Usage: python3 make_dinov2_q8.py MODEL_DIR
"""

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic


def main(model_dir):
    onnx_dir = Path(model_dir) / "onnx"
    fp32, q8 = onnx_dir / "model.onnx", onnx_dir / "model_quantized.onnx"
    quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, per_channel=True)
    x = np.random.default_rng(7).standard_normal((2, 3, 224, 224)).astype(np.float32)
    want = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x})[0]
    got = ort.InferenceSession(str(q8), providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x})[0]
    for i in range(2):
        a, b = got[i, 0], want[i, 0]
        cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        print(f"q8 CLS cosine against fp32, input {i}: {cos:.4f}")
        if cos < 0.97:
            sys.exit(f"q8 DINOv2 is too far from fp32 (cosine {cos})")


if __name__ == "__main__":
    main(sys.argv[1])
