#!/usr/bin/env python3
"""Independent reference implementation of crates/sampler/SAMPLING.md, and the golden sampler traces.

Written from the specification only, as literally as possible: float64 math (numpy), 32-bit hashing with
explicit masking to 0xffffffff. Logits come from the tiny HF model in tests/fixtures/tiny-qwen2 (float32,
bidirectional: an explicit all-zeros additive 4-D attention mask), one forward pass of the whole canvas per step,
with the logit shift of section 8 (row q <- row max(q-1, 0)), as the model's config.json sets shift_logits.

Writes tests/fixtures/sampler_cases.json. Run tools/reference/make_tiny_model.py first.
"""

import json
import math
import os

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import Qwen2ForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = "tests/fixtures/tiny-qwen2"
OUT = "tests/fixtures/sampler_cases.json"

U32 = 0xFFFFFFFF

# Section 2 purposes.
TOKEN, GUMBEL, TRANSFER, POSITION, SCORE = 1, 2, 3, 4, 5

# Chosen by looking at the actual probabilities of the tiny model: with 0.1 the threshold case has steps that
# commit several positions, steps that commit one above the threshold, and a step where none is above it.
THRESHOLD = 0.1
MASK_ID = 1  # checked against config.json in main()


# ------------------------------------------------------------------------------------------ 2. randomness


def mix(h):
    h &= U32
    h ^= h >> 16
    h = (h * 0x7FEB352D) & U32
    h ^= h >> 15
    h = (h * 0x846CA68B) & U32
    h ^= h >> 16
    return h


def bits(seed, step, position, purpose, lane):
    seed &= 0xFFFFFFFFFFFFFFFF
    h = mix((seed & U32) ^ 0x9E3779B9)
    h = mix(h ^ (seed >> 32))
    h = mix(h ^ (step & U32))
    h = mix(h ^ (position & U32))
    h = mix(h ^ (purpose & U32))
    h = mix(h ^ (lane & U32))
    return h


def uniform(seed, step, position, purpose, lane):
    return ((bits(seed, step, position, purpose, lane) >> 8) + 0.5) / 2.0**24


def _mix_vec(h):
    # uint64 holding 32-bit values; products of two 32-bit values fit, then mask.
    m = np.uint64(U32)
    h = h & m
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x7FEB352D)) & m
    h = h ^ (h >> np.uint64(15))
    h = (h * np.uint64(0x846CA68B)) & m
    h = h ^ (h >> np.uint64(16))
    return h


def uniform_lanes(seed, step, position, purpose, n_lanes):
    """uniform(seed, step, position, purpose, lane) for lane = 0..n_lanes-1, as a float64 array."""
    seed &= 0xFFFFFFFFFFFFFFFF
    h = mix((seed & U32) ^ 0x9E3779B9)
    h = mix(h ^ (seed >> 32))
    h = mix(h ^ (step & U32))
    h = mix(h ^ (position & U32))
    h = mix(h ^ (purpose & U32))
    lanes = np.arange(n_lanes, dtype=np.uint64)
    hv = _mix_vec(np.uint64(h) ^ lanes)
    return ((hv >> np.uint64(8)).astype(np.float64) + 0.5) / 2.0**24


# ------------------------------------------------------------------------------------------ model / logits


class Model:
    def __init__(self, model_dir):
        path = os.path.join(ROOT, model_dir)
        with open(os.path.join(path, "config.json")) as fh:
            self.config = json.load(fh)
        self.shift = bool(self.config.get("shift_logits", False))
        self.mask_id = int(self.config["mask_token_id"])
        assert self.mask_id == MASK_ID, "MASK_ID must match config.json"
        self.model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.model.eval()
        self.vocab_size = int(self.config["vocab_size"])
        self.forwards = 0

    @torch.no_grad()
    def logits(self, canvas):
        """[len(canvas), V] float64 logits, row q already the row used for position q (section 8)."""
        n = len(canvas)
        ids = torch.tensor([canvas], dtype=torch.long)
        mask = torch.zeros((1, 1, n, n), dtype=torch.float32)  # bidirectional, no padding
        raw = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits[0]
        raw = raw.to(torch.float64).numpy()
        self.forwards += 1
        if not self.shift:
            return raw
        return raw[[max(q - 1, 0) for q in range(n)]]


def softmax(l):
    m = np.max(l)
    e = np.exp(l - m)  # exp(-inf) = 0 for dropped tokens
    return e / np.sum(e)


# ------------------------------------------------------------------------------------------ 3. proposal


class Proposal:
    __slots__ = ("token", "probability", "margin", "neg_entropy", "logit_gap", "draw_margin")


def propose(l, temperature, top_p, top_k, seed, step, pos):
    l = np.array(l, dtype=np.float64)
    l[MASK_ID] = -np.inf  # the mask token is never proposed (section 3)
    V = l.shape[0]
    if temperature > 0:
        l = l / temperature
    if top_p < 1:
        order = np.argsort(-l, kind="stable")  # descending, ties: lower id first
        p_sorted = softmax(l)[order]
        c = np.zeros(V)
        c[1:] = np.cumsum(p_sorted)[:-1]  # exclusive prefix sums
        l[order[c > top_p]] = -np.inf
    if top_k > 0:
        remaining = np.sort(l[np.isfinite(l)])[::-1]
        if top_k <= remaining.shape[0]:
            v = remaining[top_k - 1]
            l[l < v] = -np.inf
        # fewer than top_k tokens remain: nothing to drop
    p = softmax(l)
    pr = Proposal()
    kept_logits = np.sort(l[np.isfinite(l)])[::-1]
    pr.logit_gap = float(kept_logits[0] - kept_logits[1]) if kept_logits.shape[0] > 1 else math.inf
    pr.draw_margin = None
    if temperature > 0:
        u = uniform(seed, step, pos, TOKEN, 0)
        cum = np.cumsum(p)  # increasing id order
        hit = np.nonzero(cum >= u)[0]
        if hit.shape[0] > 0:
            t = int(hit[0])
        else:
            t = int(np.nonzero(p > 0)[0][-1])  # last kept token
        lo = cum[t - 1] if t > 0 else 0.0
        pr.draw_margin = float(min(u - lo, cum[t] - u))
    else:
        t = int(np.argmax(p))  # first maximum = lowest id
    top2 = np.sort(p)[::-1]
    pr.token = t
    pr.probability = float(p[t])
    pr.margin = float(top2[0] - top2[1]) if np.count_nonzero(np.isfinite(l)) > 1 else 0.0
    pr.neg_entropy = float(np.sum(p * np.log(p + 1e-10)))
    return pr


def score_of(pr, alg):
    return {"maskgit_plus": pr.probability, "topk_margin": pr.margin, "entropy": pr.neg_entropy,
            "origin": pr.probability}[alg]


# ------------------------------------------------------------------------------------------ tracing helpers


class Trace:
    def __init__(self, canvas, mask_id):
        self.canvas = list(canvas)
        self.mask_id = mask_id
        self.initial_masked = self.masked()
        self.steps = []
        # margins that tell how robust the trace is to float rounding (smaller = more fragile)
        self.m = {
            "min_token_logit_gap": math.inf,   # committed token: logit(top1) - logit(top2), greedy choices
            "min_commit_score_gap": math.inf,  # last committed vs first uncommitted eligible ranking value
            "min_transfer_margin": math.inf,   # origin: |u - (1 - s/t)|
            "min_k_fraction_margin": math.inf,  # dream: distance of n(1 - s/t) to the nearest integer
            "min_threshold_margin": math.inf,  # threshold: |probability - threshold|
            "min_draw_margin": math.inf,       # sampled tokens: distance of u to the chosen token's cdf bounds
        }

    def masked(self):
        return [q for q, v in enumerate(self.canvas) if v == self.mask_id]

    def gap(self, key, value):
        if value is not None and value < self.m[key]:
            self.m[key] = value

    def boundary_gap(self, ranked_values, k):
        """ranked_values sorted best first; k of them committed."""
        if 0 < k < len(ranked_values):
            self.gap("min_commit_score_gap", ranked_values[k - 1] - ranked_values[k])

    def commit(self, step, commits):
        commits = sorted(commits)
        for q, t, _ in commits:
            assert self.canvas[q] == self.mask_id
            self.canvas[q] = t
        self.steps.append({"step": step, "commits": [[q, t, s] for q, t, s in commits]})

    def margins(self):
        return {k: (None if v == math.inf else v) for k, v in self.m.items()}


def top_by(items, count):
    """items: (value, position, ...) ; best = highest value, ties lower position first."""
    return sorted(items, key=lambda it: (-it[0], it[1]))[:count]


# ------------------------------------------------------------------------------------------ 4. Dream


def run_dream(model, canvas, p):
    tr = Trace(canvas, model.mask_id)
    N, eps, alg = p["steps"], p["eps"], p["alg"]
    T, seed, alg_temp = p["temperature"], p["seed"], p["alg_temp"]
    ts = [1.0 + (eps - 1.0) * k / N for k in range(N + 1)]
    for i in range(N):
        t, s = ts[i], ts[i + 1]
        last = i == N - 1
        masked = tr.masked()
        n = len(masked)
        commits = []
        if n > 0:
            logits = model.logits(tr.canvas)
            props = {q: propose(logits[q], T, p["top_p"], p["top_k"], seed, i, q) for q in masked}
            frac = 1.0 - s / t
            if alg == "origin":
                for q in masked:
                    u = uniform(seed, i, q, TRANSFER, 0)
                    if not last:
                        tr.gap("min_transfer_margin", abs(u - frac))
                    if last or u < frac:
                        commits.append((q, props[q].token, props[q].probability))
            else:
                if last:
                    k = n
                else:
                    x = n * frac
                    k = int(math.floor(x))
                    tr.gap("min_k_fraction_margin", abs(x - round(x)))
                scored = [(score_of(props[q], alg), q) for q in masked]
                if alg_temp == 0:
                    ranked = top_by(scored, n)
                else:
                    keyed = [(sc / alg_temp - math.log(-math.log(uniform(seed, i, q, POSITION, 0))), q)
                             for sc, q in scored]
                    ranked = top_by(keyed, n)
                tr.boundary_gap([v for v, _ in ranked], k)
                for _, q in ranked[:k]:
                    commits.append((q, props[q].token, score_of(props[q], alg)))
            for q, _, _ in commits:
                if T == 0:
                    tr.gap("min_token_logit_gap", props[q].logit_gap)
                else:
                    tr.gap("min_draw_margin", props[q].draw_margin)
        tr.commit(i, commits)
    return tr


# ------------------------------------------------------------------------------------------ 5./7. blocks


def decoded_blocks(canvas, mask_id, B):
    masked = [q for q, v in enumerate(canvas) if v == mask_id]
    if not masked:
        return []
    f, end = masked[0], len(canvas)
    blocks = []
    j = 0
    while f + j * B < end:
        a, e = f + j * B, min(f + (j + 1) * B, end)
        if any(canvas[q] == mask_id for q in range(a, e)):
            blocks.append((a, e))
        j += 1
    return blocks


# ------------------------------------------------------------------------------------------ 5./6. LLaDA


def llada_choice(l, temperature, seed, step, pos):
    l = np.array(l, dtype=np.float64)
    l[MASK_ID] = -np.inf  # the mask token is never proposed (section 3)
    V = l.shape[0]
    u = uniform_lanes(seed, step, pos, GUMBEL, V)
    g = l - temperature * np.log(-np.log(u))
    t = int(np.argmax(g))  # ties: lowest id
    srt = np.sort(g)[::-1]
    return t, float(softmax(l)[t]), float(srt[0] - srt[1])


def run_llada(model, canvas, p):
    tr = Trace(canvas, model.mask_id)
    N, B, T, seed = p["steps"], p["block_length"], p["temperature"], p["seed"]
    blocks = decoded_blocks(tr.canvas, model.mask_id, B)
    nb = len(blocks)
    assert N >= nb, "steps must be >= number of decoded blocks"
    g = 0
    for j, (a, e) in enumerate(blocks):
        S = N // nb + (1 if j < N % nb else 0)
        m = sum(1 for q in range(a, e) if tr.canvas[q] == model.mask_id)
        for r in range(S):
            cnt = m // S + (1 if r < m % S else 0)
            masked = tr.masked()
            logits = model.logits(tr.canvas)
            props = {}
            for q in masked:  # every masked position gets a proposal
                tok, prob, ggap = llada_choice(logits[q], T, seed, g, q)
                sc = prob if p["remasking"] == "low_confidence" else uniform(seed, g, q, SCORE, 0)
                props[q] = (tok, sc, ggap)
            eligible = [(props[q][1], q) for q in masked if a <= q < e]
            ranked = top_by(eligible, len(eligible))
            tr.boundary_gap([v for v, _ in ranked], cnt)
            commits = []
            for sc, q in ranked[:cnt]:
                commits.append((q, props[q][0], sc))
                tr.gap("min_token_logit_gap" if T == 0 else "min_draw_margin", props[q][2])
            tr.commit(g, commits)
            g += 1
    return tr


# ------------------------------------------------------------------------------------------ 7. threshold / L2R


def run_threshold(model, canvas, p):
    tr = Trace(canvas, model.mask_id)
    B, T, seed, thr = p["block_length"], p["temperature"], p["seed"], p["threshold"]
    g = 0
    for a, e in decoded_blocks(tr.canvas, model.mask_id, B):
        while any(tr.canvas[q] == model.mask_id for q in range(a, e)):
            logits = model.logits(tr.canvas)
            cand = [q for q in range(a, e) if tr.canvas[q] == model.mask_id]
            props = {q: propose(logits[q], T, p["top_p"], p["top_k"], seed, g, q) for q in cand}
            for q in cand:
                tr.gap("min_threshold_margin", abs(props[q].probability - thr))
            chosen = [q for q in cand if props[q].probability > thr]
            if not chosen:
                ranked = top_by([(props[q].probability, q) for q in cand], len(cand))
                tr.boundary_gap([v for v, _ in ranked], 1)
                chosen = [ranked[0][1]]
            for q in chosen:
                tr.gap("min_token_logit_gap" if T == 0 else "min_draw_margin",
                       props[q].logit_gap if T == 0 else props[q].draw_margin)
            tr.commit(g, [(q, props[q].token, props[q].probability) for q in chosen])
            g += 1
    return tr


def run_left_to_right(model, canvas, p):
    tr = Trace(canvas, model.mask_id)
    T, seed = p["temperature"], p["seed"]
    g = 0
    while tr.masked():
        q = tr.masked()[0]
        logits = model.logits(tr.canvas)
        pr = propose(logits[q], T, p["top_p"], p["top_k"], seed, g, q)
        tr.gap("min_token_logit_gap" if T == 0 else "min_draw_margin",
               pr.logit_gap if T == 0 else pr.draw_margin)
        tr.commit(g, [(q, pr.token, pr.probability)])
        g += 1
    return tr


# ------------------------------------------------------------------------------------------ 9. metrics


def decode_order(steps):
    order = []
    for st in steps:
        order.extend(q for q, _, _ in sorted(st["commits"]))
    return order


def local_ar(order, k):
    n = len(order)
    if n <= k:
        return 1.0
    hits = 0
    for i in range(k + 1, n + 1):  # 1-based i
        if all(order[j - 1] == order[j - 2] + 1 for j in range(i - k + 1, i + 1)):
            hits += 1
    return hits / (n - k)


def global_ar(order, initial_masked, k):
    n = len(order)
    if n == 0:
        return 1.0
    still = sorted(initial_masked)
    hits = 0
    for q in order:
        if q in still[:k]:
            hits += 1
        still.remove(q)
    return hits / n


def metrics(trace):
    order = decode_order(trace.steps)
    return {
        "local_ar_1": local_ar(order, 1),
        "local_ar_2": local_ar(order, 2),
        "global_ar_1": global_ar(order, trace.initial_masked, 1),
        "global_ar_2": global_ar(order, trace.initial_masked, 2),
    }


# ------------------------------------------------------------------------------------------ cases


PARAM_KEYS = ["algorithm", "alg", "remasking", "steps", "max_new_tokens", "temperature", "top_p", "top_k",
              "alg_temp", "eps", "block_length", "threshold", "seed"]


def params(algorithm, **kw):
    p = dict.fromkeys(PARAM_KEYS)
    p["algorithm"] = algorithm
    if algorithm == "dream":
        p.update(top_p=1.0, top_k=0, alg_temp=0.0, eps=1e-3, seed=0)
    elif algorithm == "llada":
        p.update(seed=0)
    else:  # threshold, left_to_right
        p.update(top_p=1.0, top_k=0, seed=0)
    for k, v in kw.items():
        assert k in p, k
        p[k] = v
    return p


def case_list(prompt, infill_prompt):
    C = []
    for alg in ("origin", "maskgit_plus", "topk_margin", "entropy"):
        C.append(("dream_%s_greedy" % alg, prompt,
                  params("dream", alg=alg, steps=8, max_new_tokens=16, temperature=0.0)))
    C.append(("dream_entropy_greedy_alg_temp", prompt,
              params("dream", alg="entropy", steps=8, max_new_tokens=16, temperature=0.0, alg_temp=0.5)))
    C.append(("dream_entropy_sampled_top_p_top_k", prompt,
              params("dream", alg="entropy", steps=8, max_new_tokens=16, temperature=0.7, top_p=0.9, top_k=20,
                     seed=7)))
    C.append(("dream_origin_sampled", prompt,
              params("dream", alg="origin", steps=8, max_new_tokens=16, temperature=1.0, seed=3)))
    C.append(("llada_low_confidence_greedy", prompt,
              params("llada", remasking="low_confidence", steps=8, block_length=8, max_new_tokens=16,
                     temperature=0.0)))
    C.append(("llada_random_greedy", prompt,
              params("llada", remasking="random", steps=8, block_length=8, max_new_tokens=16, temperature=0.0)))
    C.append(("llada_low_confidence_sampled", prompt,
              params("llada", remasking="low_confidence", steps=8, block_length=8, max_new_tokens=16,
                     temperature=0.8, seed=5)))
    C.append(("threshold_greedy", prompt,
              params("threshold", block_length=8, max_new_tokens=16, temperature=0.0, threshold=THRESHOLD)))
    C.append(("left_to_right_greedy", prompt,
              params("left_to_right", max_new_tokens=12, temperature=0.0)))
    C.append(("dream_entropy_infill", infill_prompt,
              params("dream", alg="entropy", steps=4, max_new_tokens=0, temperature=0.0)))
    return C


RUNNERS = {"dream": run_dream, "llada": run_llada, "threshold": run_threshold, "left_to_right": run_left_to_right}


def rng_vectors():
    out = []
    for seed, step, pos, purpose, lane in [
        (0, 0, 0, 0, 0), (0, 0, 0, TOKEN, 0), (0, 3, 17, GUMBEL, 511), (7, 1, 12, TRANSFER, 0),
        (5, 2, 9, POSITION, 0), (3, 7, 26, SCORE, 0), (0xFFFFFFFF, 1, 2, 3, 4),
        (0x0123456789ABCDEF, 4294967295, 4294967295, 4294967295, 4294967295), (2**64 - 1, 9, 8, 7, 6),
    ]:
        out.append({"seed": seed, "step": step, "position": pos, "purpose": purpose, "lane": lane,
                    "bits": bits(seed, step, pos, purpose, lane), "uniform": uniform(seed, step, pos, purpose, lane)})
    # the vectorised lane path must agree with the scalar one
    for seed, step, pos in [(0, 3, 17), (2**40 + 5, 2, 9)]:
        vec = uniform_lanes(seed, step, pos, GUMBEL, 512)
        assert all(vec[v] == uniform(seed, step, pos, GUMBEL, v) for v in range(512))
    return out


def main():
    torch.set_num_threads(1)
    model = Model(MODEL_DIR)
    tok = Tokenizer.from_file(os.path.join(ROOT, MODEL_DIR, "tokenizer.json"))
    M = model.mask_id
    prompt_text = "def add(a, b):\n"
    prompt = tok.encode(prompt_text, add_special_tokens=False).ids
    suffix_text = "\n    return a\n"
    infill = prompt + [M] * 4 + tok.encode(suffix_text, add_special_tokens=False).ids
    assert M not in prompt

    out = {
        "description": "Golden traces for crates/sampler/SAMPLING.md, produced by tools/reference/sampler_ref.py. "
                       "Logits: %s in float32, bidirectional (all-zeros additive 4-D mask), one forward of the "
                       "whole canvas per step, shifted (row q <- row max(q-1,0)). Canvas = prompt ++ "
                       "[mask_id] * max_new_tokens. 'margins' are robustness diagnostics, not part of the spec."
                       % MODEL_DIR,
        "model_dir": MODEL_DIR,
        "mask_id": M,
        "vocab_size": model.vocab_size,
        "rng_vectors": rng_vectors(),
        "cases": [],
    }

    print("%-36s %5s %6s  %-10s %-10s %-10s %-10s %-10s" % (
        "case", "steps", "fwd", "tok_gap", "score_gap", "k_frac", "transfer", "thr_margin"))
    for name, pr, p in case_list(prompt, infill):
        canvas = list(pr) + [M] * p["max_new_tokens"]
        model.forwards = 0
        tr = RUNNERS[p["algorithm"]](model, canvas, p)
        assert M not in tr.canvas, name
        for q in range(len(canvas)):
            if canvas[q] != M:
                assert tr.canvas[q] == canvas[q]
        mg = tr.margins()
        rec = {
            "name": name,
            "params": p,
            "prompt": list(pr),
            "steps": tr.steps,
            "final": tr.canvas,
            "metrics": metrics(tr),
            "margins": mg,
        }
        out["cases"].append(rec)

        def f(key):
            v = mg[key]
            return "-" if v is None else "%.3g" % v
        print("%-36s %5d %6d  %-10s %-10s %-10s %-10s %-10s" % (
            name, len(tr.steps), model.forwards, f("min_token_logit_gap"), f("min_commit_score_gap"),
            f("min_k_fraction_margin"), f("min_transfer_margin"), f("min_threshold_margin")))
        if p["temperature"] == 0:
            small = [k for k in ("min_token_logit_gap", "min_commit_score_gap") if mg[k] is not None and mg[k] < 1e-4]
            if small:
                print("    WARNING: near tie (< 1e-4) in", small)
        else:
            print("    sampled: min draw margin %s" % f("min_draw_margin"))
        if p["algorithm"] == "threshold":
            sizes = [len(s["commits"]) for s in tr.steps]
            print("    threshold %.3g: commits per step %s" % (p["threshold"], sizes))
            assert any(c > 1 for c in sizes) and any(c == 1 for c in sizes), "pick another threshold"
            fallback = [s["step"] for s in tr.steps if all(c[2] <= p["threshold"] for c in s["commits"])]
            print("    steps that fell back to the single most probable position:", fallback)
            assert fallback, "pick a threshold that also exercises the fallback"
        print("    final:", repr(tok.decode(tr.canvas, skip_special_tokens=False)))
        print("    metrics:", rec["metrics"])

    path = os.path.join(ROOT, OUT)
    with open(path, "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print("wrote", OUT, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
