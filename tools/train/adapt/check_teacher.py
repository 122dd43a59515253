"""Checks the PyTorch decoder on an imported teacher against an independent reference:

    python tools/train/adapt/check_teacher.py ~/.cache/unmask-train/teacher/smollm2-f32
    python tools/train/adapt/check_teacher.py ~/.cache/unmask-train/teacher/qwen-f32

The directory is `unmask convert MODEL.gguf --quant f32 --out DIR`. SmolLM2 is checked against the NumPy forward
pass (tests/fixtures/smollm2_reference.json, tools/reference/smollm2_reference.py): greedy continuations token
for token, held-out loss within 0.01 nats. Qwen2.5-Coder against transformers (tests/fixtures/
qwen_coder_reference.json, tools/reference/qwen_coder_reference.py): last-position logits within 0.01, greedy
continuations equal up to near ties (transformers' margin between its two best tokens under 0.05).
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import model as M  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "fixtures")


def greedy(model, prompt_ids, count):
    ids, last = list(prompt_ids), None
    for _ in range(count):
        x = torch.tensor([ids])
        logits = model.logits(model.hidden(x, M.attention_mask("causal", 1, len(ids))))[0, -1]
        last = logits if last is None else last
        ids.append(int(logits.argmax()))
    return ids[len(prompt_ids):], last


def check_qwen(model):
    with open(os.path.join(FIXTURES, "qwen_coder_reference.json"), encoding="utf-8") as fh:
        ref = json.load(fh)
    assert M.parameter_count(model) == ref["parameters"], (M.parameter_count(model), ref["parameters"])
    with torch.no_grad():
        for p in ref["prompts"]:
            got, first = greedy(model, p["prompt_ids"], len(p["greedy_ids"]))
            fixed = first[torch.tensor(ref["fixed_ids"])]
            err = float((fixed - torch.tensor(p["fixed_logits"])).abs().max())
            agree = next((i for i, (a, b) in enumerate(zip(got, p["greedy_ids"])) if a != b), len(got))
            tie = agree < len(got) and p["margins"][agree] < 0.05
            print(f"{p['format']}: max |Δlogit| {err:.4f}; greedy equal for {agree}/{len(got)} tokens"
                  + (" (then a near tie)" if tie else ""))
            assert err < 0.01, err
            assert agree == len(got) or tie, (got, p["greedy_ids"])


def main():
    model = M.load(sys.argv[1]).eval()
    if model.c.attention_bias:
        return check_qwen(model)
    with open(os.path.join(FIXTURES, "smollm2_reference.json"), encoding="utf-8") as fh:
        ref = json.load(fh)
    assert M.parameter_count(model) == ref["parameters"], (M.parameter_count(model), ref["parameters"])
    with torch.no_grad():
        for p in ref["prompts"]:
            got, _ = greedy(model, p["prompt_ids"], len(p["greedy_ids"]))
            print("greedy", "match" if got == p["greedy_ids"] else "DIFFER", repr(p["greedy_text"][:40]))
            assert got == p["greedy_ids"], (got, p["greedy_ids"])
        losses = []
        for cut in ref["held_out"]["cuts"]:
            x = torch.tensor([cut["ids"]])
            logits = model.logits(model.hidden(x, M.attention_mask("causal", 1, x.shape[1])))
            losses.append(F.cross_entropy(logits[0, :-1], x[0, 1:], reduction="none"))
        loss = float(torch.cat(losses).mean())
    print(f"held-out loss {loss:.4f} (NumPy reference {ref['held_out']['loss']:.4f})")
    assert abs(loss - ref["held_out"]["loss"]) < 0.01


if __name__ == "__main__":
    main()
