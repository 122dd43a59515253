"""Executable evaluation of a model through the Rust CLI: the held-out function-writing tasks of
tools/train/eval_tasks (written for this project), each completion run against the task's tests in a sandboxed
child process (eval_tasks/score.py).

    python tools/train/adapt/evaluate.py --model DIR_OR_GGUF --unmask target/release/unmask \
        --tasks tools/train/eval_tasks/tasks.jsonl --out eval.json [--samples 10 --temperature 0.8] \
        [--limit 40] [-- extra unmask generate flags]

Greedy (one completion per task, at the model's recommended settings with temperature 0) gives pass@1, parse and
clean-end rates; --samples K adds K sampled completions per task (seeds 1..K) for pass@k. `--prompt-format`
(bare, chat, chat_opened) is handed to the CLI, which renders the model's chat template and reads the code out of
the answer (crates/model/src/prompt.rs); without it the model's own default applies. A chat answer repeats the
function, so its header and docstring are cut off before the body is scored.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "eval_tasks"))
import score as S  # noqa: E402

def body_from_chat(prompt, answer):
    """The function body from a chat answer: the fenced code, with the header the model repeated removed."""
    m = re.search(r"```(?:python)?\n(.*?)(```|$)", answer, re.S)
    code = m.group(1) if m else answer
    header = prompt.split("\n", 1)[0]
    if header in code:
        code = code.split(header, 1)[1]
        # Drop a repeated docstring: everything up to the closing quotes that end the prompt's docstring.
        if '"""' in code:
            parts = code.split('"""')
            if len(parts) >= 3:
                code = '"""'.join(parts[2:])
        code = code.lstrip("\n")
    return code


def generate(unmask, model, tasks, flags, work):
    """Every task's prompt through one `unmask generate --prompts` run (one model load): (trace, seconds) per
    task, in order."""
    path = os.path.join(work, "prompts.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for task in tasks:
            fh.write(json.dumps({"id": task["id"], "prompt": task["prompt"]}) + "\n")
    started = time.time()
    proc = subprocess.Popen([unmask, "generate", "--model", model, "--prompts", path] + flags,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    for line in proc.stdout:
        now = time.time()
        out.append((json.loads(line)["trace"], now - started))
        started = now
        print(f"[{len(out)}/{len(tasks)}] {tasks[len(out) - 1]['id']}", file=sys.stderr, flush=True)
    err = proc.stderr.read()
    if proc.wait() != 0 or len(out) != len(tasks):
        raise RuntimeError(f"unmask generate failed: {err.strip()[-400:]}")
    return out


def clean_end(trace, end_ids):
    """Whether the answer stopped on its own: an end-of-text token somewhere after the prompt, or, with
    stop_at_end, masked cells left after it (the decode stopped at an end: the model's, or the closing fence of a
    chat_opened answer)."""
    answer = trace["tokens"][trace["prompt_len"]:]
    return any(t in end_ids for t in answer) or trace["mask_token_id"] in answer


def written_tokens(trace, end_ids):
    """The answer's tokens up to its end (or its first still-masked cell): what the decode's passes produced.
    End-of-text filler committed after the end, and drafts corrected on the way (`verify_drafts`), count nothing."""
    written = 0
    for t in trace["tokens"][trace["prompt_len"]:]:
        if t in end_ids or t == trace["mask_token_id"]:
            break
        written += 1
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--unmask", required=True)
    ap.add_argument("--tasks", default=os.path.join(os.path.dirname(__file__), "..", "eval_tasks", "tasks.jsonl"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--samples", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--prompt-format", choices=["bare", "chat", "chat_opened"])
    ap.add_argument("--end-ids", default="0,2", help="token ids that end an answer (SmolLM2: 0 and 2)")
    ap.add_argument("flags", nargs="*", help="extra `unmask generate` flags (after --)")
    args = ap.parse_args()

    by_id = S.load_tasks(args.tasks)
    tasks = list(by_id.values())
    if args.limit:
        tasks = tasks[:args.limit]
    end_ids = {int(x) for x in args.end_ids.split(",")}
    rows = []
    work = tempfile.mkdtemp(prefix="unmask-eval-")
    runs = [("greedy", ["--temperature", "0"])]
    runs += [(f"sample{seed}", ["--temperature", str(args.temperature), "--seed", str(seed)])
             for seed in range(1, args.samples + 1)]
    fmt = ["--prompt-format", args.prompt_format] if args.prompt_format else []
    for name, flags in runs:
        print(f"run {name}", file=sys.stderr, flush=True)
        for task, (trace, seconds) in zip(tasks, generate(args.unmask, args.model, tasks, flags + fmt + args.flags,
                                                          work)):
            text = trace["completion"]
            completion = body_from_chat(task["prompt"], text) if args.prompt_format == "chat" else text
            rows.append({"id": task["id"], "run": name, "completion": completion,
                         "clean_end": clean_end(trace, end_ids), "steps": len(trace["steps"]),
                         "answer_tokens": sum(len(s["commits"]) for s in trace["steps"]),
                         "written_tokens": written_tokens(trace, end_ids),
                         "ar_local_1": trace["ar_ness"]["local_1"], "ar_global_1": trace["ar_ness"]["global_1"],
                         "seconds": round(seconds, 2)})

    sandbox = S.Sandbox()
    scored = S.score_items(by_id, [{"id": r["id"], "completion": r["completion"]} for r in rows], sandbox)
    for r, s in zip(rows, scored):
        r.update({k: s[k] for k in ("parses", "passed", "tests_passed", "tests_total", "error", "truncated")})
    greedy = [r for r in rows if r["run"] == "greedy"]
    summary = {
        "model": args.model, "prompt_format": args.prompt_format, "tasks": len(tasks), "flags": args.flags,
        "sandbox": sandbox.describe(),
        "greedy": {
            "pass@1": sum(r["passed"] for r in greedy) / len(greedy),
            "parse": sum(r["parses"] for r in greedy) / len(greedy),
            "clean_end": sum(r["clean_end"] for r in greedy) / len(greedy),
            "seconds_per_task": sum(r["seconds"] for r in greedy) / len(greedy),
            "answer_tokens_median": sorted(r["answer_tokens"] for r in greedy)[len(greedy) // 2],
            # Forward passes are steps; filler committed after the end does not count as written.
            "tokens_per_pass": sum(r["written_tokens"] for r in greedy) / max(1, sum(r["steps"] for r in greedy)),
            "ar_local_1": sum(r["ar_local_1"] for r in greedy) / len(greedy),
            "ar_global_1": sum(r["ar_global_1"] for r in greedy) / len(greedy),
        },
    }
    if args.samples:
        sampled = [r for r in rows if r["run"] != "greedy"]
        stats, _ = S.summarize(sampled, by_id)
        summary["sampled"] = {"temperature": args.temperature, "samples": args.samples,
                              "pass_at_k": {k: v["value"] for k, v in stats["pass_at_k"].items()},
                              "parse": stats["parses"] / len(sampled)}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"summary": summary, "completions": rows}, fh, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
