"""Checks the PyTorch decoder on the imported teacher against the independent NumPy forward pass
(tests/fixtures/smollm2_reference.json, written by tools/reference/smollm2_reference.py):

    python tools/train/adapt/check_teacher.py ~/.cache/unmask-train/teacher/smollm2-f32

The directory is `unmask convert SmolLM2-135M-Instruct.Q4_1.gguf --quant f32 --out DIR` (see prepare.sh). Passes
when the greedy continuations match token for token and the held-out loss agrees within 0.01 nats.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import model as M  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "fixtures", "smollm2_reference.json")


def main():
    model = M.load(sys.argv[1]).eval()
    with open(FIXTURE, encoding="utf-8") as fh:
        ref = json.load(fh)
    assert M.parameter_count(model) == ref["parameters"], (M.parameter_count(model), ref["parameters"])
    with torch.no_grad():
        for p in ref["prompts"]:
            ids = list(p["prompt_ids"])
            for _ in p["greedy_ids"]:
                x = torch.tensor([ids])
                logits = model.logits(model.hidden(x, M.attention_mask("causal", 1, len(ids))))
                ids.append(int(logits[0, -1].argmax()))
            got = ids[len(p["prompt_ids"]):]
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
