"""The logs and stop signal of a resumable training run (train.py, train_gated.py).

OUT/log.csv gets one line per step and OUT/eval.csv one per evaluation, each starting with the step. A run resumed
from its checkpoint redoes the steps logged after it, so their lines are dropped first.
"""

import csv
import os
import signal


class RunLog:
    def __init__(self, out, step, step_columns, eval_columns):
        for name in ("log.csv", "eval.csv"):
            path = os.path.join(out, name)
            if step > 0 and os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    lines = fh.readlines()
                with open(path, "w", encoding="utf-8") as fh:
                    fh.writelines(lines[:1] + [ln for ln in lines[1:] if int(ln.split(",")[0]) <= step])
        self._files = [open(os.path.join(out, name), "a", newline="") for name in ("log.csv", "eval.csv")]
        self._steps, self._evals = (csv.writer(f) for f in self._files)
        if step == 0:
            self._steps.writerow(step_columns)
            self._evals.writerow(eval_columns)

    def step(self, values):
        self._steps.writerow(values)
        self._files[0].flush()

    def eval(self, values):
        self._evals.writerow(values)
        self._files[1].flush()


def stop_on_sigterm():
    """A list that becomes non-empty on SIGTERM (`kill`): the loop finishes its step, checkpoints and exits."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    return stop
