// The playground's time per denoising step on its CPU worker (wasm, one thread; Chromium without WebGPU) for a
// 63-token prompt and a 64-token answer written one token per step, as the page itself reports it ("ms / step":
// the whole run, prompt included, over its steps). One page load, then `runs` runs with different seeds (the
// model comes from the page's cache after the first); prints each and the median as JSON.
// Usage: node page_step.mjs <site URL, e.g. from `cargo xtask serve`> <model name> [runs, default 3]
import { chromium } from "playwright-core";

const [base, model, runsArg] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node page_step.mjs <site URL> <model name> [runs]");
  process.exit(2);
}
const runs = Number(runsArg || 3);
const prompt = `def merge_intervals(intervals):
    """Merge overlapping closed intervals of numbers.

    intervals is a list of (start, end) pairs in any order, each with
    start <= end. Return a new list of disjoint intervals sorted by start;
    touching intervals merge too.
    """
`;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-quic"] });
const page = await browser.newPage();
page.on("pageerror", (e) => console.error(`page exception: ${e}`));
const times = [];
for (let seed = 1; seed <= runs; seed++) {
  // Every step runs (no stop at the answer's end), so each run decodes all 64 tokens.
  const query = new URLSearchParams({
    model, backend: "cpu", length: "64", steps: "64", stop_at_end: "false", seed: String(seed), prompt,
  });
  await page.goto(`${base}?${query}`);
  await page.waitForSelector('.status[data-state="done"]', { timeout: 600_000 });
  const engine = await page.getAttribute(".badge", "data-engine");
  if (engine !== "cpu") throw new Error(`expected the CPU worker, the page ran ${engine}`);
  times.push(Number(await page.textContent("#ms-per-step")));
}
await browser.close();
const sorted = [...times].sort((a, b) => a - b);
console.log(JSON.stringify({ model, ms_per_step: times, median: sorted[Math.floor(sorted.length / 2)] }));
