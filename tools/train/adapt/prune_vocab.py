"""Shrinks a model's vocabulary to the tokens its training split uses, so the embedding (tied with the output
head: 49152 x 576 f32 is a fifth of SmolLM2-135M) gets smaller:

    python tools/train/adapt/prune_vocab.py --model ~/.cache/unmask-train/adapt/b16-model \
        --examples tools/train/.cache/examples --out ~/.cache/unmask-train/adapt/b16-pruned

Kept: the added/special tokens, the 256 byte symbols of the byte-level alphabet (so any text still encodes), every
id the training split's texts (tokenized as rows.py does) use at least --min-count times, and, repeatedly, the two
halves of every kept token's merge, so the BPE with the remaining merges still builds each kept token. Merges whose
result is dropped go too. New ids are the kept old ids in increasing order (so the special ids 0..16, mask and
end-of-text among them, keep their values); OUT/vocab_map.json lists the old id of each new one.

Checked on held-out val.jsonl texts: decoding the pruned encoding gives the text back (else it fails), and how
often the pruned encoding equals the original one mapped to new ids (it differs only where a dropped token would
have been used), with the token-count increase.
"""

import argparse
import collections
import json
import os
import shutil

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
from tokenizers import Tokenizer

TRAINED_KINDS = ("function", "chunk")  # rows.py leaves infill rows out of training
REWRITTEN = ("config.json", "generation_config.json", "tokenizer.json", "model.safetensors")


def byte_symbols():
    """The 256 characters byte-level BPE writes bytes as: printable Latin-1 as itself, the rest shifted past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(shifted))]


def training_texts(path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            ex = json.loads(line)
            if ex["kind"] in TRAINED_KINDS:
                yield ex["prompt"]
                yield ex["answer"]


def heldout_texts(path, rows):
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= rows:
                break
            ex = json.loads(line)
            yield from (ex[k] for k in ("prompt", "answer", "suffix") if ex.get(k))


def kept_ids(tok_json, counts, min_count):
    vocab = tok_json["model"]["vocab"]
    keep = {a["id"] for a in tok_json["added_tokens"]}
    keep |= {vocab[s] for s in byte_symbols() if s in vocab}  # SmolLM2's lacks 21 (0xC0, 0xFF, some controls)
    keep |= {i for i, c in counts.items() if c >= min_count}
    halves = {}  # merge result -> its two halves (each result comes from one merge in this BPE)
    for m in tok_json["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        assert a + b not in halves, f"two merges make {a + b!r}"
        halves[a + b] = (vocab[a], vocab[b])
    token = {i: s for s, i in vocab.items()}
    todo = list(keep)
    while todo:
        parts = halves.get(token.get(todo.pop()), ())
        todo += [p for p in parts if p not in keep]
        keep.update(parts)
    return sorted(keep)


def prune_tokenizer(tok_json, old_of_new):
    new_of = {old: new for new, old in enumerate(old_of_new)}
    model = tok_json["model"]
    model["vocab"] = {s: new_of[i] for s, i in sorted(model["vocab"].items(), key=lambda kv: kv[1]) if i in new_of}
    kept = model["vocab"]

    def survives(m):
        a, b = m.split(" ") if isinstance(m, str) else m
        return a + b in kept

    model["merges"] = [m for m in model["merges"] if survives(m)]
    for a in tok_json["added_tokens"]:
        a["id"] = new_of[a["id"]]
    post = tok_json.get("post_processor")
    if post is not None:  # the only other place a tokenizer.json holds ids
        if post["type"] != "TemplateProcessing":
            raise SystemExit(f"post_processor {post['type']} may hold token ids: not handled")
        for special in post["special_tokens"].values():
            special["ids"] = [new_of[i] for i in special["ids"]]
    if tok_json.get("padding"):
        tok_json["padding"]["pad_id"] = new_of[tok_json["padding"]["pad_id"]]
    return tok_json


def remap_token_ids(config, new_of):
    """Every `*_token_id` field (an id or a list of ids)."""
    for key, value in config.items():
        if key.endswith("_token_id") and value is not None:
            config[key] = [new_of[i] for i in value] if isinstance(value, list) else new_of[value]
    return config


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=indent, ensure_ascii=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model directory (f32 safetensors, tied embeddings)")
    ap.add_argument("--examples", required=True, help="holds train.jsonl (decides) and val.jsonl (checks)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-count", type=int, default=1, help="occurrences in the training split a token needs")
    ap.add_argument("--check-rows", type=int, default=300, help="val.jsonl rows the result is checked on")
    args = ap.parse_args()

    src = lambda name: os.path.join(args.model, name)  # noqa: E731
    with open(src("config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    with open(src("tokenizer.json"), encoding="utf-8") as fh:
        tok_json = json.load(fh)
    vocab_size = config["vocab_size"]
    assert len(tok_json["model"]["vocab"]) == vocab_size, "tokenizer and config disagree on the vocabulary"

    original = Tokenizer.from_file(src("tokenizer.json"))
    counts = collections.Counter()
    for text in training_texts(os.path.join(args.examples, "train.jsonl")):
        counts.update(original.encode(text, add_special_tokens=False).ids)
    old_of_new = kept_ids(tok_json, counts, args.min_count)
    new_of = {old: new for new, old in enumerate(old_of_new)}
    specials = [a["id"] for a in tok_json["added_tokens"]]
    assert all(new_of[i] == i for i in specials), "special ids must keep their values (mask, end-of-text)"
    seen = {i for i, c in counts.items() if c >= args.min_count}
    base = set(specials) | {tok_json["model"]["vocab"].get(s) for s in byte_symbols()} - {None}
    print(f"training split: {sum(counts.values()):,} tokens, {len(counts):,} distinct ids; kept {len(old_of_new):,} "
          f"of {vocab_size:,}: {len(seen):,} seen, {len(base - seen)} special or byte unseen, "
          f"{len(set(old_of_new) - seen - base):,} only as halves of kept merges")

    with safe_open(src("model.safetensors"), "np") as f:
        metadata = f.metadata()
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    rows = np.array(old_of_new)
    vocab_rows = [n for n, t in tensors.items() if t.ndim >= 1 and t.shape[0] == vocab_size]
    for name in vocab_rows:
        # the tied embedding; an untied lm_head would be sliced the same way
        if name not in ("model.embed_tokens.weight", "lm_head.weight"):
            raise SystemExit(f"{name} has {vocab_size} rows and is not an embedding this script knows")
    if "model.embed_tokens.weight" not in vocab_rows:
        raise SystemExit("no model.embed_tokens.weight of vocab_size rows")
    before = sum(tensors[n].nbytes for n in vocab_rows)
    for name in vocab_rows:
        tensors[name] = np.ascontiguousarray(tensors[name][rows])
    after = sum(tensors[n].nbytes for n in vocab_rows)

    os.makedirs(args.out, exist_ok=True)
    dst = lambda name: os.path.join(args.out, name)  # noqa: E731
    save_file(tensors, dst("model.safetensors.tmp"), metadata=metadata)
    os.replace(dst("model.safetensors.tmp"), dst("model.safetensors"))
    write_json(dst("tokenizer.json"), prune_tokenizer(tok_json, old_of_new))
    config["vocab_size"] = len(old_of_new)
    write_json(dst("config.json"), remap_token_ids(config, new_of))
    if os.path.exists(src("generation_config.json")):
        with open(src("generation_config.json"), encoding="utf-8") as fh:
            write_json(dst("generation_config.json"), remap_token_ids(json.load(fh), new_of))
    write_json(dst("vocab_map.json"), old_of_new, indent=None)
    for name in os.listdir(args.model):
        if name not in REWRITTEN and os.path.isfile(src(name)):
            shutil.copy2(src(name), dst(name))

    pruned = Tokenizer.from_file(dst("tokenizer.json"))
    assert pruned.get_vocab_size() == len(old_of_new)
    texts = same = old_tokens = new_tokens = 0
    for text in heldout_texts(os.path.join(args.examples, "val.jsonl"), args.check_rows):
        ids = pruned.encode(text, add_special_tokens=False).ids
        if pruned.decode(ids, skip_special_tokens=False) != text:
            raise SystemExit(f"pruned tokenizer does not round-trip {text[:200]!r}")
        expected = [new_of.get(i, -1) for i in original.encode(text, add_special_tokens=False).ids]
        texts += 1
        same += ids == expected
        old_tokens += len(expected)
        new_tokens += len(ids)
    print(f"val ({texts} texts of {args.check_rows} rows): all round-trip; {same / texts:.2%} encode as before, "
          f"{new_tokens / old_tokens - 1:+.3%} tokens ({old_tokens:,} -> {new_tokens:,})")
    print(f"embedding: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB; wrote {args.out}")


if __name__ == "__main__":
    main()
