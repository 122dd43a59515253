#!/usr/bin/env python3
"""Build tests/fixtures/gguf-kquants.gguf and .json: small tensors of the 5-bit and K quantization types, and
their values as the `gguf` package (llama.cpp's own Python reader) dequantizes them.

Needs only NumPy and the `gguf` package (tools/reference/requirements.txt pins both). Q5_0 and Q5_1 come from
the package's quantizer; it has none for the K types, so their blocks are random bytes with the scale fields set
to ordinary f16 values (every byte pattern of the other fields is a valid block). Each tensor is 3 × 512 values:
two super-blocks per row, so row and block boundaries are both exercised. The package cannot dequantize Q8_K,
so that type is checked by a block worked by hand in crates/model/src/gguf/tensor.rs. Deterministic: a fixed
seed.

    python tools/reference/make_gguf_kquants.py
"""

import json
import os

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter
from gguf.quants import dequantize, quantize

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
ROWS, COLS = 3, 512

# Bytes per block, and the byte offsets of the f16 scale fields each K type holds.
K_BLOCKS = {
    Q.Q4_K: (144, [0, 2]),  # d, dmin, 12 bytes of 6-bit codes, 128 of nibbles
    Q.Q5_K: (176, [0, 2]),  # as Q4_K plus 32 bytes of fifth bits
    Q.Q6_K: (210, [208]),  # 128 low nibbles, 64 high pairs, 16 int8 scales, d
}


def random_k_blocks(rng, qtype):
    size, f16_fields = K_BLOCKS[qtype]
    blocks = ROWS * COLS // 256
    raw = rng.integers(0, 256, size=(blocks, size), dtype=np.uint8)
    for at in f16_fields:
        scale = (rng.standard_normal(blocks) * 0.01).astype(np.float16)
        raw[:, at:at + 2] = scale.view(np.uint8).reshape(blocks, 2)
    return raw.reshape(ROWS, COLS // 256 * size)


def tensors(rng):
    w = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    w[0, :32] = 0.0  # an all-zero block: scale 0
    w[1, 5] = 40.0  # an outlier
    yield "t_q5_0", Q.Q5_0, quantize(w, Q.Q5_0)
    yield "t_q5_1", Q.Q5_1, quantize(w * 2 + 1, Q.Q5_1)
    for qtype in K_BLOCKS:
        yield "t_%s" % qtype.name.lower(), qtype, random_k_blocks(rng, qtype)


def main():
    path = os.path.join(FIX, "gguf-kquants.gguf")
    writer = GGUFWriter(path, "llama")
    names = []
    for name, qtype, data in tensors(np.random.default_rng(7)):
        writer.add_tensor(name, data, raw_shape=data.shape, raw_dtype=qtype)
        names.append(name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out = []
    for t in GGUFReader(path).tensors:
        values = dequantize(t.data, t.tensor_type).reshape(-1)
        assert np.all(np.isfinite(values)), t.name
        out.append({"name": t.name, "type": t.tensor_type.name, "shape": [int(s) for s in t.shape],
                    "values": [float(v) for v in values]})
    assert [o["name"] for o in out] == names
    with open(os.path.join(FIX, "gguf-kquants.json"), "w") as fh:
        json.dump({"description": "gguf-kquants.gguf: each tensor's values as gguf.quants.dequantize gives them, "
                                  "row-major, shape in GGUF order (columns first).", "tensors": out},
                  fh, separators=(",", ":"))
        fh.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
