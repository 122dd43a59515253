"""Side-by-side timing of unmask's CPU engines and ONNX Runtime on the same model.

Builds a random Qwen2-architecture model (bidirectional attention, q/k/v biases, tied embeddings) of shape A or
B (docs/performance.md, "Model A and B"), writes it twice -- as a Hugging Face model directory that `unmask bench`
loads, and as an ONNX graph built node by node with `onnx.helper` (no PyTorch needed) -- checks the ONNX graph
against a NumPy forward pass written here from the architecture, then times, in one run:

- ONNX Runtime (CPU, 2 threads and 1 thread): one forward pass with the LM head on one row, which is what
  `unmask bench` calls "forward";
- `unmask bench --engines cpu,fast-f32,fast-q8,fast-q4` on the same directory and lengths.

It prints a Markdown table (milliseconds, medians). Not run in CI. With `--export DIR` it only writes the
checked models (`DIR/model-A/` and `DIR/A-256.onnx`, ...) for the browser side-by-side, `tools/bench/web`.

    python3 -m venv target/ort-venv
    target/ort-venv/bin/pip install onnx onnxruntime numpy safetensors
    cargo build --release -p unmask-cli
    target/ort-venv/bin/python tools/bench/ort_side_by_side.py --unmask target/release/unmask
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

SHAPES = {
    "A": dict(hidden=256, layers=4, heads=4, kv_heads=2, intermediate=704, vocab=4096),
    "B": dict(hidden=512, layers=8, heads=8, kv_heads=4, intermediate=1408, vocab=8192),
}
EPS = 1e-6
THETA = 10000.0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def random_weights(s, seed=0):
    rng = np.random.default_rng(seed)
    h, i, v = s["hidden"], s["intermediate"], s["vocab"]
    d = h // s["heads"]
    q, kv = s["heads"] * d, s["kv_heads"] * d

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    w = {"model.embed_tokens.weight": uniform((v, h), h / 64.0), "model.norm.weight": np.ones(h, np.float32)}
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}."
        w[p + "input_layernorm.weight"] = (1 + 0.1 * rng.uniform(-1, 1, h)).astype(np.float32)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.uniform(-1, 1, h)).astype(np.float32)
        for name, rows in (("q", q), ("k", kv), ("v", kv)):
            w[p + f"self_attn.{name}_proj.weight"] = uniform((rows, h), h)
            w[p + f"self_attn.{name}_proj.bias"] = (0.1 * rng.uniform(-1, 1, rows)).astype(np.float32)
        w[p + "self_attn.o_proj.weight"] = uniform((h, q), q)
        w[p + "mlp.gate_proj.weight"] = uniform((i, h), h)
        w[p + "mlp.up_proj.weight"] = uniform((i, h), h)
        w[p + "mlp.down_proj.weight"] = uniform((h, i), i)
    return w


def write_model_dir(path, s, weights, context):
    os.makedirs(path, exist_ok=True)
    d = s["hidden"] // s["heads"]
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": s["vocab"],
        "hidden_size": s["hidden"], "intermediate_size": s["intermediate"], "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"], "num_key_value_heads": s["kv_heads"], "head_dim": d,
        "max_position_embeddings": context, "rope_theta": THETA, "rms_norm_eps": EPS, "hidden_act": "silu",
        "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 2,
        "mask_token_id": 1, "shift_logits": True, "torch_dtype": "float32",
    }
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file(weights, os.path.join(path, "model.safetensors"))
    # Any tokenizer with at most vocab_size tokens will do: benchmarks feed token ids.
    shutil.copy(os.path.join(REPO, "models/unmask-coder/tokenizer.json"), path)


def rope_tables(seq, d):
    inv = 1.0 / THETA ** (np.arange(d // 2, dtype=np.float64) * 2.0 / d)
    angles = np.arange(seq, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=1).astype(np.float32)
    sin = np.concatenate([np.sin(angles)] * 2, axis=1).astype(np.float32)
    return cos, sin


def numpy_forward(s, w, ids, rows):
    """The architecture written out in NumPy (float64), to check the ONNX graph."""
    h, heads, kvh = s["hidden"], s["heads"], s["kv_heads"]
    d = h // heads
    seq = len(ids)
    cos, sin = (t.astype(np.float64) for t in rope_tables(seq, d))

    def norm(x, weight):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * weight

    def rope(x):  # [seq, n, d]
        rot = np.concatenate([-x[..., d // 2:], x[..., : d // 2]], axis=-1)
        return x * cos[:, None, :] + rot * sin[:, None, :]

    x = w["model.embed_tokens.weight"].astype(np.float64)[ids]
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}."
        n = norm(x, w[p + "input_layernorm.weight"])
        proj = lambda name: n @ w[p + f"self_attn.{name}_proj.weight"].T + w[p + f"self_attn.{name}_proj.bias"]
        q = rope(proj("q").reshape(seq, heads, d))
        k = rope(proj("k").reshape(seq, kvh, d))
        v = proj("v").reshape(seq, kvh, d)
        k = np.repeat(k, heads // kvh, axis=1)
        v = np.repeat(v, heads // kvh, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attended = np.einsum("hqk,khd->qhd", scores, v).reshape(seq, h)
        x = x + attended @ w[p + "self_attn.o_proj.weight"].T
        n = norm(x, w[p + "post_attention_layernorm.weight"])
        gate, up = n @ w[p + "mlp.gate_proj.weight"].T, n @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    return norm(x[rows], w["model.norm.weight"]) @ w["model.embed_tokens.weight"].T


def onnx_model(s, w, seq):
    """The same forward pass as an ONNX graph: inputs input_ids [seq], rows [r]; output logits [r, vocab]."""
    h, heads, kvh, inter = s["hidden"], s["heads"], s["kv_heads"], s["intermediate"]
    d = h // heads
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(array, prefix="c"):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(kind, inputs, **attrs):
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def rmsnorm(x, weight):
        ms = op("ReduceMean", [op("Mul", [x, x]), const(np.array([-1], np.int64))], keepdims=1)
        return op("Mul", [op("Div", [x, op("Sqrt", [op("Add", [ms, const(np.float32(EPS))])])]), const(weight)])

    cos, sin = rope_tables(seq, d)
    cos_c, sin_c = const(cos[:, None, :]), const(sin[:, None, :])
    half = const(np.array([d // 2], np.int64))
    zero, end, last = const(np.array([0], np.int64)), const(np.array([d], np.int64)), const(np.array([-1], np.int64))

    def rope(x):  # [seq, n, d]
        first = op("Slice", [x, zero, half, last])
        second = op("Slice", [x, half, end, last])
        rot = op("Concat", [op("Neg", [second]), first], axis=-1)
        return op("Add", [op("Mul", [x, cos_c]), op("Mul", [rot, sin_c])])

    x = op("Gather", [const(w["model.embed_tokens.weight"], "embed"), "input_ids"], axis=0)
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}."
        n = rmsnorm(x, w[p + "input_layernorm.weight"])

        def proj(nm, heads_n):
            y = op("Add", [op("MatMul", [n, const(w[p + f"self_attn.{nm}_proj.weight"].T.copy())]),
                           const(w[p + f"self_attn.{nm}_proj.bias"])])
            return op("Reshape", [y, const(np.array([seq, heads_n, d], np.int64))])

        q = op("Transpose", [rope(proj("q", heads))], perm=[1, 0, 2])  # [heads, seq, d]
        k = op("Transpose", [rope(proj("k", kvh))], perm=[1, 0, 2])  # [kvh, seq, d]
        v = op("Transpose", [proj("v", kvh)], perm=[1, 0, 2])

        def repeat(t):  # [kvh, seq, d] -> [heads, seq, d], head h reading kv head h // group
            t = op("Unsqueeze", [t, const(np.array([1], np.int64))])
            t = op("Expand", [t, const(np.array([kvh, heads // kvh, seq, d], np.int64))])
            return op("Reshape", [t, const(np.array([heads, seq, d], np.int64))])

        k, v = repeat(k), repeat(v)
        scores = op("Mul", [op("MatMul", [q, op("Transpose", [k], perm=[0, 2, 1])]), const(np.float32(1 / np.sqrt(d)))])
        attended = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        attended = op("Reshape", [op("Transpose", [attended], perm=[1, 0, 2]), const(np.array([seq, h], np.int64))])
        x = op("Add", [x, op("MatMul", [attended, const(w[p + "self_attn.o_proj.weight"].T.copy())])])
        n = rmsnorm(x, w[p + "post_attention_layernorm.weight"])
        gate = op("MatMul", [n, const(w[p + "mlp.gate_proj.weight"].T.copy())])
        up = op("MatMul", [n, const(w[p + "mlp.up_proj.weight"].T.copy())])
        act = op("Mul", [op("Mul", [gate, op("Sigmoid", [gate])]), up])
        x = op("Add", [x, op("MatMul", [act, const(w[p + "mlp.down_proj.weight"].T.copy())])])
    hidden = rmsnorm(op("Gather", [x, "rows"], axis=0), w["model.norm.weight"])
    logits = op("MatMul", [hidden, const(w["model.embed_tokens.weight"].T.copy())])
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(
        nodes, "qwen2_bidirectional",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [seq]),
         helper.make_tensor_value_info("rows", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, s["vocab"]])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def time_ort(model_bytes, seq, vocab, threads, iters):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    ids = (np.arange(seq, dtype=np.int64) * 7 + 3) % vocab
    feeds = {"input_ids": ids, "rows": np.array([seq // 2], np.int64)}
    session.run(None, feeds)
    samples = []
    for _ in range(iters):
        started = time.perf_counter()
        session.run(None, feeds)
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def time_unmask(unmask, model_dir, seqs, iters):
    out = subprocess.run(
        [unmask, "bench", "--model", model_dir, "--seq", ",".join(map(str, seqs)), "--iters", str(iters),
         "--engines", "cpu,fast-f32,fast-q8,fast-q4"],
        check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        m = re.match(r"(cpu reference f32|fast cpu f32|fast cpu q8|fast cpu q4)\s+(\d+)\s+([\d.]+)", line)
        if m:
            times[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unmask", help="the unmask binary (a release build)")
    ap.add_argument("--export", metavar="DIR", help="write the models for the browser side-by-side and stop")
    ap.add_argument("--shapes", default="A,B")
    ap.add_argument("--seq", default="64,256,1024")
    ap.add_argument("--iters", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternate the engines this many times and report the median round: on a shared machine "
                         "the load changes within a minute, and alternating gives both sides the same")
    args = ap.parse_args()
    if not args.unmask and not args.export:
        ap.error("give --unmask (time natively) or --export DIR (models for the browser)")
    seqs = [int(x) for x in args.seq.split(",")]
    rows = []
    for shape_name in args.shapes.split(","):
        s = SHAPES[shape_name]
        w = random_weights(s)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = os.path.join(tmp, f"model-{shape_name}")
            write_model_dir(model_dir, s, w, max(seqs))
            # The ONNX graph must compute what the architecture says before its timings mean anything.
            check_ids = (np.arange(16) * 7 + 3) % s["vocab"]
            check_rows = np.array([3, 11])
            want = numpy_forward(s, w, check_ids, check_rows)
            got = ort.InferenceSession(onnx_model(s, w, 16).SerializeToString(), providers=["CPUExecutionProvider"]) \
                .run(None, {"input_ids": check_ids.astype(np.int64), "rows": check_rows.astype(np.int64)})[0]
            error = float(np.abs(got - want).max() / np.abs(want).max())
            assert error < 1e-4, f"the ONNX graph of {shape_name} is off by {error}"
            if args.export:
                shutil.copytree(model_dir, os.path.join(args.export, f"model-{shape_name}"), dirs_exist_ok=True)
                for seq in seqs:
                    onnx.save(onnx_model(s, w, seq), os.path.join(args.export, f"{shape_name}-{seq}.onnx"))
                print(f"wrote model {shape_name} ({', '.join(map(str, seqs))} tokens) to {args.export}")
                continue
            graphs = {seq: onnx_model(s, w, seq).SerializeToString() for seq in seqs}
            rounds = []
            for _ in range(args.rounds):
                ours = time_unmask(args.unmask, model_dir, seqs, args.iters)
                for seq in seqs:
                    ours[("ort 2", seq)] = time_ort(graphs[seq], seq, s["vocab"], 2, args.iters)
                    ours[("ort 1", seq)] = time_ort(graphs[seq], seq, s["vocab"], 1, args.iters)
                rounds.append(ours)
            median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            for seq in seqs:
                rows.append((shape_name, seq, median[("ort 2", seq)], median[("ort 1", seq)], median))
    if args.export:
        return
    print(f"onnxruntime {ort.__version__}; unmask forward = `unmask bench` forward (head on one row); ms, medians "
          f"of {args.iters}, then the median of {args.rounds} alternating rounds\n")
    print("| model | seq | ONNX Runtime 2 thr | ONNX Runtime 1 thr | unmask reference | unmask fast f32 | fast q8 | fast q4 "
          "| ORT 2 thr ÷ fast f32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for shape_name, seq, ort2, ort1, ours in rows:
        get = lambda engine: ours.get((engine, seq), float("nan"))
        print(f"| {shape_name} | {seq} | {ort2:.1f} | {ort1:.1f} | {get('cpu reference f32'):.1f} | "
              f"{get('fast cpu f32'):.1f} | {get('fast cpu q8'):.1f} | {get('fast cpu q4'):.1f} "
              f"| {ort2 / get('fast cpu f32'):.2f}× |")


if __name__ == "__main__":
    main()
