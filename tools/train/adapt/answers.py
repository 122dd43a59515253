"""The teacher's own answers to the training split's function prompts: the targets the diffusion coder learns.

    python tools/train/adapt/answers.py --teacher ~/.cache/unmask-train/teacher/qwen-f32 \
        --examples tools/train/.cache/examples --out ~/.cache/unmask-train/answers/train.jsonl

Each function example's code (signature, docstring and whatever precedes them in its file) is put in the prompt
format the product uses for this model, chat_opened (crates/model/src/prompt.rs: the chat template, the request,
and the answer opened with a fence and the user's code), and the teacher continues it greedily until a token
opens a line with a fence (the answer's end, as `PromptFormat::token_ends_answer` decides), an end-of-turn token, or
`--max-new` tokens. One JSON line per prompt: the example's index and source, the prompt ids, the answer ids
(ending with the closing token), and whether the answer ended.

Resumable: rerun the same command and it continues after the last line written. Batched greedy decoding with a
key/value cache, in bfloat16 weights when that is faster here (it is with AMX).
"""

import argparse
import json
import os
import random
import sys
import time

import torch
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
import model as M  # noqa: E402
from train import faster_dtype  # noqa: E402

SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
REQUEST = "Complete the following Python function:\n"
FENCE_OPEN = "```python\n"
END_OF_TURN = (151643, 151645)  # <|endoftext|>, <|im_end|>


def chat_opened(code):
    """The prompt text for `code`, as `Prompt::new(PromptFormat::ChatOpened, …)` builds it for ChatML."""
    newline = "" if code.endswith("\n") else "\n"
    user = f"{REQUEST}{FENCE_OPEN}{code}{newline}```"
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            f"<|im_start|>assistant\n{FENCE_OPEN}{code}")


def answer_enders(tok, vocab_size):
    """Which ids end an answer: a token that opens a line with a fence, or an end of turn."""
    ends = torch.zeros(vocab_size, dtype=torch.bool)
    for i in range(tok.get_vocab_size(with_added_tokens=True)):
        text = tok.id_to_token(i)
        if text is not None and text.lstrip("Ċ").startswith("```"):
            ends[i] = True
    ends[list(END_OF_TURN)] = True
    return ends


def greedy_batch(model, prompts, max_new, ends):
    """Greedy answers for a batch of prompt id lists (left-padded, a key/value cache across steps; a row leaves
    the batch when its answer ends, so a long answer does not keep the finished ones computing)."""
    b, width = len(prompts), max(len(p) for p in prompts)
    pad = torch.tensor([width - len(p) for p in prompts])
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    valid = torch.arange(width)[None, :] >= pad[:, None]  # [B, S] real tokens
    positions = (torch.arange(width)[None, :] - pad[:, None]).clamp(min=0)
    causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
    mask = (causal[None] & valid[:, None, :])[:, None]  # [B, 1, S, S]
    mask |= torch.eye(width, dtype=torch.bool)[None, None]  # a padded query attends to itself (no NaN rows)
    hidden, past = model.hidden(ids, mask, positions=positions, keep_kv=True)
    nxt = model.logits(hidden[:, -1]).float().argmax(-1)
    out = [[] for _ in range(b)]
    alive = torch.arange(b)  # the batch rows still answering, in the order of the cache's rows
    lengths = torch.tensor([len(p) for p in prompts])
    for step in range(max_new):
        for row, token in zip(alive.tolist(), nxt.tolist()):
            out[row].append(token)
        going = ~ends[nxt]
        if step == max_new - 1 or not bool(going.any()):
            break
        if not bool(going.all()):
            alive, nxt, valid = alive[going], nxt[going], valid[going]
            past = [(k[going], v[going]) for k, v in past]
        valid = torch.cat([valid, torch.ones(len(alive), 1, dtype=torch.bool)], dim=1)
        hidden, kv = model.hidden(nxt[:, None], valid[:, None, None, :], positions=(lengths[alive] + step)[:, None],
                                  past=past, keep_kv=True)
        past = [(torch.cat([p[0], k], dim=2), torch.cat([p[1], v], dim=2)) for p, (k, v) in zip(past, kv)]
        nxt = model.logits(hidden[:, -1]).float().argmax(-1)
    return out, [bool(ends[a[-1]]) for a in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", required=True, help="the teacher in the Rust layout (unmask convert --quant f32)")
    ap.add_argument("--examples", required=True, help="data_pipeline's examples/ directory")
    ap.add_argument("--split", default="train")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-code", type=int, default=160, help="skip examples whose code is longer (tokens)")
    ap.add_argument("--max-new", type=int, default=160)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many examples of the split (0: all)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    tok = Tokenizer.from_file(os.path.join(args.teacher, "tokenizer.json"))
    model = M.load(args.teacher).eval()
    if faster_dtype() == "bf16":
        model = model.to(torch.bfloat16)
    ends = answer_enders(tok, model.c.vocab_size)

    done = set()
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as fh:
            done = {json.loads(line)["index"] for line in fh if line.endswith("\n")}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    todo = []
    with open(os.path.join(args.examples, f"{args.split}.jsonl"), encoding="utf-8") as fh:
        for index, line in enumerate(fh):
            if args.limit and index >= args.limit:
                break
            ex = json.loads(line)
            if ex["kind"] != "function" or index in done:
                continue
            if len(tok.encode(ex["prompt"], add_special_tokens=False).ids) > args.max_code:
                continue
            todo.append((index, ex["source"], tok.encode(chat_opened(ex["prompt"]), add_special_tokens=False).ids))
    # A fixed random order, so any prefix of the output is a fair sample; similar lengths batched together within
    # windows of eight batches, for less padding.
    random.Random(0).shuffle(todo)
    window = 8 * args.batch
    todo = [t for at in range(0, len(todo), window) for t in sorted(todo[at:at + window], key=lambda t: len(t[2]))]
    print(f"{len(done)} answers already written, {len(todo)} to go", flush=True)
    started, written, tokens = time.time(), 0, 0
    with open(args.out, "a", encoding="utf-8") as out, torch.no_grad():
        for at in range(0, len(todo), args.batch):
            batch = todo[at:at + args.batch]
            answers, ended = greedy_batch(model, [p for _, _, p in batch], args.max_new, ends)
            for (index, source, prompt), answer, end in zip(batch, answers, ended):
                out.write(json.dumps({"index": index, "source": source, "prompt_ids": prompt,
                                      "answer_ids": answer, "ended": end}) + "\n")
                tokens += len(prompt) + len(answer)
            out.flush()
            written += len(batch)
            rate = written / (time.time() - started)
            print(f"{written}/{len(todo)} answers, {tokens / (time.time() - started):.0f} tokens/s, "
                  f"{(len(todo) - written) / rate / 60:.0f} min left", flush=True)


if __name__ == "__main__":
    main()
