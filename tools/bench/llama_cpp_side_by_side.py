#!/usr/bin/env python3
"""unmask's fast CPU engine beside llama.cpp on the same GGUF file, in one run: the prompt pass, left-to-right
generation and a diffusion-shaped step (a block of 16 / 32 positions after the cached prompt), on 1 and 2
threads. Prints a markdown table with unmask ÷ llama.cpp ratios (docs/performance.md keeps the results).

    python tools/bench/llama_cpp_side_by_side.py --unmask target/release/unmask [--gguf FILE] [--threads 1,2]

llama.cpp comes from `llama-cpp-python` built from its sdist in a virtual environment of its own (a build for this
CPU's own flags may crash; a generic AVX2 one works):

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \\
        pip install --no-binary llama-cpp-python llama-cpp-python

Each llama.cpp figure is the median of `--iters` runs after one warm-up, as `unmask bench` takes its own:
  - prompt pass: the prompt's tokens evaluated from an empty cache (logits of the last row);
  - generation: 64 tokens, each evaluated alone after the prompt, the next chosen greedily from its logits;
  - block step: B tokens evaluated at once after the cached prompt with the logits of every row (the diffusion
    step's shape: B rows through every layer, the head on each), the cache then cut back to the prompt.
"""

import argparse
import os
import re
import statistics
import subprocess
import time

import numpy as np
from llama_cpp import Llama

GENERATED = 64
BLOCKS = (16, 32)


def prompt_tokens(n, vocab):
    """The same synthetic prompt `unmask bench --decoding` uses."""
    return [(i * 7919 + 13) % min(vocab, 100_000) for i in range(n)]


def llama_cpp(path, threads, prompt_len, iters):
    def load(logits_all):
        return Llama(model_path=path, n_ctx=prompt_len + GENERATED + max(BLOCKS) + 8, n_threads=threads,
                     n_threads_batch=threads, n_batch=512, logits_all=logits_all, verbose=False)

    # The head on the last row only, as unmask's prompt pass and generation steps have it.
    llm = load(False)
    prompt = prompt_tokens(prompt_len, llm.n_vocab())
    passes = []
    for i in range(iters + 1):
        llm.reset()
        started = time.perf_counter()
        llm.eval([i % 2 + 1] + prompt[1:])
        passes.append((time.perf_counter() - started) * 1e3)
    started = time.perf_counter()
    for _ in range(GENERATED):
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        llm.eval([token])
    generation = GENERATED / (time.perf_counter() - started)
    # The head on every row of a block, as a diffusion step has it on every masked position.
    del llm
    llm = load(True)
    llm.eval(prompt)
    blocks = {}
    for block in BLOCKS:
        times = []
        for i in range(iters + 1):
            llm.n_tokens = prompt_len
            started = time.perf_counter()
            llm.eval([i % 2 + 1] + prompt[:block - 1])
            times.append((time.perf_counter() - started) * 1e3)
        blocks[block] = statistics.median(times[1:])
    return {"pass": statistics.median(passes[1:]), "generation": generation, "blocks": blocks}


def unmask(binary, path, threads, prompt_len, iters):
    out = subprocess.run([binary, "bench", "--model", path, "--decoding", str(prompt_len), "--threads", str(threads),
                          "--iters", str(iters)], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(exact|int8) .*?\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+16: ([\d.]+), 32: ([\d.]+)$", line)
        if m:
            rows[m.group(1)] = {"pass": float(m.group(2)), "generation": float(m.group(4)),
                                "blocks": {16: float(m.group(5)), 32: float(m.group(6))}}
    if len(rows) != 2:
        raise RuntimeError("unexpected `unmask bench --decoding` output:\n" + out)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unmask", required=True)
    ap.add_argument("--gguf")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    path = args.gguf or subprocess.run(["cargo", "xtask", "qwen-coder", "--fetch"], capture_output=True, text=True,
                                       check=True).stdout.strip()
    print(f"model {os.path.basename(path)}, prompt {args.prompt} tokens, median of {args.iters}")
    print("| threads | engine | prompt pass ms | prompt tok/s | generation tok/s | block 16 ms | block 32 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for threads in [int(t) for t in args.threads.split(",")]:
        ours = unmask(args.unmask, path, threads, args.prompt, args.iters)
        theirs = llama_cpp(path, threads, args.prompt, args.iters)
        rows = [("llama.cpp", theirs), ("unmask", ours["exact"]), ("unmask, int8_everywhere", ours["int8"])]
        for name, r in rows:
            print(f"| {threads} | {name} | {r['pass']:.0f} | {args.prompt / r['pass'] * 1e3:.0f} | "
                  f"{r['generation']:.1f} | {r['blocks'][16]:.1f} | {r['blocks'][32]:.1f} |")
        for name, r in rows[1:]:
            print(f"| {threads} | {name} ÷ llama.cpp (speed) | {theirs['pass'] / r['pass']:.2f}× | | "
                  f"{r['generation'] / theirs['generation']:.2f}× | {theirs['blocks'][16] / r['blocks'][16]:.2f}× | "
                  f"{theirs['blocks'][32] / r['blocks'][32]:.2f}× |")


if __name__ == "__main__":
    main()
