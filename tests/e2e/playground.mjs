// End-to-end test of the playground in Debian's Chromium: open the page, watch a run finish, check the
// decode order, move a slider, scrub, reload from the cache, run once without WebGPU (the CPU worker, with a
// dragged slider, the model menu), once on the automatic choice, switching to WebGPU afterwards, with a damaged cache and a
// full storage quota, through 1,000 slider-driven restarts, with the WebGPU device lost mid-run, the Solve
// mode's sandbox (Pyodide in a worker) judging candidates, a whole Solve run of 8 samples, Compare mode, the
// 0.5B diffusion coder beside its teacher on the CPU worker, and a model split over two workers.
// Usage: node playground.mjs <site URL> <screenshot folder>. Prints the measured times as JSON.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node playground.mjs <site URL> <screenshot folder>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const common = [
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--disable-quic", "--no-sandbox",
];
const RUN_TIMEOUT = 300_000;
const timings = {};
// Every uncaught exception of every page (a Rust panic shows as "RuntimeError: unreachable"): none is allowed.
const exceptions = [];

function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

/** A fresh browser (its own profile, so an empty cache) and a page that reports console errors and records
 * uncaught exceptions. */
async function open(args) {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (m) => m.type() === "error" && console.log(`page error: ${m.text()}`));
  page.on("pageerror", (e) => {
    console.log(`page exception: ${e}`);
    exceptions.push(String(e));
  });
  return { browser, page };
}

/** [pos, step] of every decoded answer cell. */
async function decodedCells(page) {
  return page.$$eval(".tok[data-step]", (cells) => cells.map((c) => [Number(c.dataset.pos), Number(c.dataset.step)]));
}

async function waitDone(page) {
  await page.waitForSelector('.status[data-state="done"]', { timeout: RUN_TIMEOUT });
}

/** Opens `url` and returns ms from navigation to the first decoded cell. */
async function openAndTimeFirstStep(page, url) {
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector(".tok[data-step]", { timeout: RUN_TIMEOUT });
  return Date.now() - started;
}

async function msPerStep(page) {
  return Number(await page.textContent("#ms-per-step"));
}

// The page's mechanics are tested on the smallest model, named in the link (the fastest on every engine);
// section 5 opens the page without a model and checks which one the CPU worker picks.
const settings = "?strategy=entropy&length=32&steps=16&seed=1";
const run = `${settings}&model=unmask-coder`;
// web/src/catalog.rs: the CPU workers get the largest model of at most this many parameters, by the size of the
// pool a large model gets (web/src/exchange.rs: one per core up to 4, one per 2 GB of memory, when isolated).
const cpuWorkerMaxParameters = (workers) => (workers >= 2 ? 700_000_000 : 150_000_000);

// 1. WebGPU (SwiftShader here), forced so the GPU engine is what runs.
{
  const { browser, page } = await open([...common, "--enable-unsafe-webgpu"]);
  timings.cold_first_step_ms = await openAndTimeFirstStep(page, `${base}${run}&backend=webgpu`);
  await waitDone(page);
  check((await page.getAttribute(".badge", "data-engine")) === "webgpu", "the WebGPU engine ran the first run");
  await page.screenshot({ path: join(shots, "1-done-webgpu.png"), fullPage: true });
  timings.webgpu_ms_per_step = await msPerStep(page);

  const cells = await decodedCells(page);
  check(cells.length === 32, `all 32 answer cells decoded (${cells.length})`);
  const order = [...cells].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  const outOfOrder = order.some((c, i) => i > 0 && c[0] < order[i - 1][0] && c[1] > order[i - 1][1]);
  check(outOfOrder, "entropy decoding is not left to right (a later step decoded a position further left)");
  const before = JSON.stringify(cells);

  // 2. A slider change restarts the run, which finishes with a different trace.
  await page.locator("#temperature").fill("1.5");
  await page.waitForFunction(() => location.search.includes("temperature=1.5"));
  await page.waitForSelector('.status[data-state="running"]', { timeout: RUN_TIMEOUT });
  await waitDone(page);
  const after = JSON.stringify(await decodedCells(page));
  check(after !== before, "the run after the temperature change has a different trace");
  const timingLine = await page.textContent("#timings");
  timings.slider_to_first_step_ms = Number((timingLine.match(/last change → first step (\d+) ms/) || [])[1]);
  await page.screenshot({ path: join(shots, "2-after-temperature.png"), fullPage: true });

  // 3. Scrub back to step 1: only the first step's tokens show.
  await page.locator("#scrubber").fill("1");
  const shown = await page.$$eval(".grid .tok.decoded", (c) => c.length);
  const firstStep = await page.$$eval('.tok[data-step="0"]', (c) => c.length);
  check(shown >= 1 && shown === firstStep && shown < 32, `step 1 shows only its own ${shown} tokens`);
  await page.screenshot({ path: join(shots, "3-scrubbed-to-step-1.png"), fullPage: true });

  // 4. A reload takes the model from the cache.
  timings.warm_first_step_ms = await openAndTimeFirstStep(page, `${base}${run}&backend=webgpu`);
  await waitDone(page);
  await browser.close();
}

// 5. No WebGPU at all: the CPU worker runs, and says so.
{
  const { browser, page } = await open(common);
  // Without stopping at the answer's end, so that every cell is decoded whatever the default model writes.
  await page.goto(`${base}${settings}&stop_at_end=false`);
  await waitDone(page);
  check((await page.getAttribute(".badge", "data-engine")) === "cpu", "without WebGPU the CPU worker runs");
  check((await decodedCells(page)).length === 32, "the CPU worker decoded all 32 cells");
  // The Model menu lists what the site ships; the CPU workers got the largest model within their budget (else
  // the smallest), and the link now names it.
  const index = await (await page.request.get(new URL("models/index.json", base).href)).json();
  const larger = (a, b) => (b.parameters > a.parameters ? b : a);
  const pool = await page.evaluate(() => (crossOriginIsolated
    ? Math.max(1, Math.min(4, navigator.hardwareConcurrency, Math.floor((navigator.deviceMemory ?? 8) / 2))) : 1));
  const fitting = index.models.filter((m) => m.parameters <= cpuWorkerMaxParameters(pool));
  const expected = fitting.length ? fitting.reduce(larger) : index.models.reduce((a, b) => (larger(a, b) === a ? b : a));
  const offered = await page.$$eval("#model option", (options) => options.map((o) => o.value));
  check(JSON.stringify(offered) === JSON.stringify(index.models.map((m) => m.name)), `the Model menu offers ${offered}`);
  check((await page.inputValue("#model")) === expected.name, `the CPU workers (${pool}) run ${expected.name}`);
  check(new URL(page.url()).searchParams.get("model") === expected.name, "the link names the model");
  timings.cpu_worker_ms_per_step = await msPerStep(page);
  await page.screenshot({ path: join(shots, "4-cpu-worker.png"), fullPage: true });
  // A slider change, then a drag (ten values in a row): the run of the last value finishes, and the time
  // from the last change to its first step is recorded (reported, not asserted: the machine is shared).
  const sliderToFirstStep = async (values) => {
    for (const value of values) await page.locator("#temperature").fill(value);
    await page.waitForFunction((v) => location.search.includes(`temperature=${v}`), values[values.length - 1]);
    await waitDone(page);
    const line = await page.textContent("#timings");
    return Number((line.match(/last change → first step (\d+) ms/) || [])[1]);
  };
  timings.cpu_slider_to_first_step_ms = await sliderToFirstStep(["1.2"]);
  timings.cpu_drag_to_first_step_ms = await sliderToFirstStep(["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.1"]);
  check((await decodedCells(page)).length === 32, "after a dragged slider the CPU worker decoded all 32 cells");
  await browser.close();
}

// 6. Automatic choice with a software WebGPU adapter: the CPU worker runs (the badge says why); switching to
// WebGPU loads the model there and the run finishes on it.
{
  const { browser, page } = await open([...common, "--enable-unsafe-webgpu"]);
  timings.auto_cold_first_step_ms = await openAndTimeFirstStep(page, `${base}${run}`);
  await waitDone(page);
  check((await page.getAttribute(".badge", "data-engine")) === "cpu", "auto picks the CPU worker over a software adapter");
  check((await page.textContent(".badge .why")).includes("software"), "the badge says the adapter is a software one");
  await page.selectOption("#backend", "webgpu");
  await page.waitForFunction(() => document.querySelector(".badge")?.dataset.engine === "webgpu", null, { timeout: RUN_TIMEOUT });
  await waitDone(page);
  check((await decodedCells(page)).length === 32, "after switching, WebGPU decoded all 32 cells");
  await page.screenshot({ path: join(shots, "5-switched-to-webgpu.png"), fullPage: true });
  await browser.close();
}

// 7. Cache faults: a damaged cached file is found, dropped and downloaded again; a full storage quota is said
// (with the size it needed) and the model runs uncached.
{
  const { browser, page } = await open(common);
  await page.goto(`${base}${run}`);
  await waitDone(page);
  await page.evaluate(async () => {
    const cache = await caches.open("unmask-models-v1");
    for (const request of await cache.keys()) {
      if (request.url.includes("model.safetensors")) await cache.put(request, new Response(new Uint8Array([1, 2, 3])));
    }
  });
  await page.reload();
  await waitDone(page);
  check((await page.textContent(".warnings")).includes("was damaged and was downloaded again"),
    "a damaged cached file is dropped and downloaded again");
  check((await decodedCells(page)).length === 32, "the run after the damaged cache decoded all 32 cells");
  // The right size but other bytes: found by the hash, which the browser computes while the worker loads the
  // copy; the load starts over and downloads it.
  await page.evaluate(async () => {
    const cache = await caches.open("unmask-models-v1");
    for (const request of await cache.keys()) {
      if (!request.url.includes("model.safetensors")) continue;
      const bytes = new Uint8Array(await (await cache.match(request)).arrayBuffer());
      bytes[bytes.length - 1] ^= 0xff;
      await cache.put(request, new Response(bytes));
    }
  });
  await page.reload();
  await waitDone(page);
  check((await page.textContent(".warnings")).includes("was damaged and was downloaded again"),
    "a cached file of the right size with other bytes is found by its hash and downloaded again");
  check((await decodedCells(page)).length === 32, "the run after it decoded all 32 cells");
  await browser.close();
}
{
  const { browser, page } = await open(common);
  await page.addInitScript(() => {
    Cache.prototype.put = () => Promise.reject(new DOMException("simulated", "QuotaExceededError"));
  });
  await page.goto(`${base}${run}`);
  await waitDone(page);
  const warnings = await page.textContent(".warnings");
  check(/storage quota has no room for its [0-9.]+ [kM]B/.test(warnings), "a full storage quota is said, with the size needed");
  check(warnings.split("storage quota").length === 2, "once, not once per file");
  check((await decodedCells(page)).length === 32, "with the quota full the model runs uncached");
  await page.screenshot({ path: join(shots, "6-quota-full.png"), fullPage: true });
  await browser.close();
}

// 8. Soak: 1,000 slider-driven restarts, on the CPU worker and on WebGPU. The last run finishes, the page still
// answers, the JavaScript heap stays within a bound (its growth is reported), and on WebGPU the engine holds as
// many GPU buffers after the restarts as after the first run (the page's debug hook counts them).
async function soak(engine, flags, query) {
  const { browser, page } = await open(flags);
  await page.goto(`${base}${query}`);
  await waitDone(page);
  check((await page.getAttribute(".badge", "data-engine")) === engine, `the ${engine} soak runs on ${engine}`);
  const heap = () => page.evaluate(() => performance.memory.usedJSHeapSize);
  const buffers = () => page.evaluate(async () => (await import("./unmask-web.js")).live_gpu_buffers());
  const heapBefore = await heap();
  const buffersBefore = await buffers();
  const started = Date.now();
  // Values the range input keeps as written (it would turn "1.0" into "1", which fill() reports as malformed).
  const values = ["0.1", "0.3", "0.7", "1.1", "1.5", "1.9"];
  for (let i = 0; i < 1000; i++) await page.locator("#temperature").fill(values[i % values.length]);
  await page.locator("#temperature").fill("1.3");
  await page.waitForFunction(() => location.search.includes("temperature=1.3"));
  await waitDone(page);
  timings[`soak_${engine}_1000_restarts_s`] = (Date.now() - started) / 1000;
  check((await decodedCells(page)).length === 32, `${engine}: after 1,000 restarts the last run decoded all 32 cells`);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  const growth = ((await heap()) - heapBefore) / 1e6;
  timings[`soak_${engine}_heap_growth_mb`] = growth;
  check(growth < 50, `${engine}: the JS heap grew ${growth.toFixed(1)} MB over 1,000 restarts (bound 50)`);
  const buffersAfter = await buffers();
  timings[`soak_${engine}_gpu_buffers`] = [buffersBefore, buffersAfter];
  check(buffersAfter === buffersBefore, `${engine}: ${buffersBefore} GPU buffers before the restarts, ${buffersAfter} after`);
  if (engine === "webgpu") check(buffersBefore > 0, "the WebGPU engine's buffers are counted");
  await page.locator("#scrubber").fill("1");
  check((await page.$$eval(".grid .tok.decoded", (c) => c.length)) < 32, `${engine}: the page still answers its controls`);
  await browser.close();
}
await soak("cpu", common, run);
await soak("webgpu", [...common, "--enable-unsafe-webgpu"], `${run}&backend=webgpu`);

// 9. The WebGPU device is lost in the middle of a run (the page's test hook destroys it): the page says so,
// the same run finishes on the CPU worker, and the Engine menu stops offering WebGPU.
{
  const { browser, page } = await open([...common, "--enable-unsafe-webgpu"]);
  await page.goto(`${base}?strategy=entropy&length=32&steps=32&seed=1&backend=webgpu&model=unmask-coder`);
  await page.waitForSelector(".tok[data-step]", { timeout: RUN_TIMEOUT });
  check((await page.getAttribute(".badge", "data-engine")) === "webgpu", "the run began on WebGPU");
  const lost = await page.evaluate(async () => (await import("./unmask-web.js")).lose_webgpu_device());
  check(lost, "the test hook destroyed the WebGPU device");
  await waitDone(page);
  check((await page.getAttribute(".badge", "data-engine")) === "cpu", "after the device loss the CPU worker runs");
  check((await page.textContent(".notice")).includes("switched to the CPU worker"), "the page says why");
  check((await decodedCells(page)).length === 32, "the run finished: all 32 cells decoded");
  check(await page.$eval('#backend option[value="webgpu"]', (o) => o.disabled), "the Engine menu no longer offers WebGPU");
  await page.screenshot({ path: join(shots, "7-device-lost.png"), fullPage: true });
  await browser.close();
}

// 10. The sandbox for Solve mode: candidate code runs in Pyodide in its own worker (served by our build), is
// judged on the docstring's examples, and a candidate that never ends costs a timeout, after which the sandbox
// works again (a new worker).
{
  const { browser, page } = await open(common);
  await page.goto(`${base}${run}`);
  await waitDone(page);
  const prompt = 'def double(n):\n    """Twice n.\n\n    >>> double(2)\n    4\n    """\n';
  const judge = (completion, limitMs) =>
    page.evaluate(
      async ([p, c, l]) => JSON.parse(await (await import("./unmask-web.js")).run_in_sandbox(p, c, l)),
      [prompt, completion, limitMs],
    );
  let started = Date.now();
  const right = await judge("    return n * 2\n", 5000);
  timings.sandbox_first_run_ms = Date.now() - started;
  check(right.parses && right.error === null && right.examples.length === 1 && right.examples[0].passed, `a correct candidate passes its example in Pyodide (${JSON.stringify(right)})`);
  const wrong = await judge("    return n + 1\n", 5000);
  check(wrong.error === "wrong_answer" && wrong.detail === "double(2) gave 3, expected 4", `a wrong one is a wrong answer (${wrong.detail})`);
  const syntax = await judge("    return (n\n", 5000);
  check(!syntax.parses && syntax.error === "syntax", "a syntax error is told apart");
  const socket = await judge("    import socket\n    socket.socket()\n    return 4\n", 5000);
  check(socket.error === "exception" && /PermissionError|ModuleNotFoundError/.test(socket.detail), `a socket is refused (${socket.detail})`);
  started = Date.now();
  const forever = await judge("    while True:\n        pass\n", 1500);
  timings.sandbox_timeout_ms = Date.now() - started;
  check(forever.error === "timeout", `an endless loop is a timeout (${timings.sandbox_timeout_ms} ms for a 1,500 ms limit)`);
  started = Date.now();
  const after = await judge("    return n * 2\n", 5000);
  timings.sandbox_restart_ms = Date.now() - started;
  check(after.error === null && after.examples[0].passed, "after the timeout a new worker judges the next candidate");
  await browser.close();
}

// 11. Solve mode on the CPU worker: 8 samples of an infilling prompt decode together, each is judged in the
// sandbox, the survivors are grouped, and the chosen one opens in the main view. Every verdict the page shows
// is checked against a re-run of the same program through the sandbox hook.
{
  const { browser, page } = await open(common);
  const prompt = 'def add(a, b):\n    """Return the sum of a and b.\n\n    >>> add(2, 3)\n    5\n    >>> add(-1, 1)\n    0\n    """\n    return a <|mask|> b\n';
  const started = Date.now();
  await page.goto(`${base}?mode=solve&samples=8&length=0&steps=1&temperature=1.5&seed=0&model=unmask-coder&prompt=${encodeURIComponent(prompt)}`);
  await page.waitForSelector('.solve-status[data-state="done"]', { timeout: RUN_TIMEOUT });
  timings.solve_8_samples_ms = Date.now() - started;
  await page.screenshot({ path: join(shots, "8-solve.png"), fullPage: true });
  const report = JSON.parse(await page.evaluate(async () => (await import("./unmask-web.js")).solve_report()));
  check(report.samples.length === 8 && report.samples.every((s) => s.judged), "8 samples decoded and judged");
  check(new Set(report.samples.map((s) => s.program)).size > 1, "the samples differ (one seed each)");
  const cards = await page.$$eval(".samples .candidate", (cs) => cs.map((c) => [c.dataset.verdict, c.dataset.group ?? null, c.classList.contains("chosen")]));
  check(cards.length === 8 && cards.every(([v]) => v === "pass" || v === "fail"), `8 cards, each marked pass or fail (${cards.map((c) => c[0])})`);
  for (const [i, s] of report.samples.entries()) {
    const again = await page.evaluate(
      async ([p]) => JSON.parse(await (await import("./unmask-web.js")).run_in_sandbox(p, "", 5000)),
      [s.program],
    );
    const passed = again.parses && again.error === null && again.examples.every((e) => e.passed);
    check(again.parses === s.parses && again.error === s.error && passed === (cards[i][0] === "pass"),
      `sample ${i + 1}: the card's verdict (${cards[i][0]}, ${s.error}) agrees with a re-run (${again.error})`);
    check((s.cluster === null) === (cards[i][1] === null), `sample ${i + 1}: grouped only if it passed`);
  }
  const chosen = cards.findIndex((c) => c[2]);
  check(chosen === report.chosen[0], `one chosen card, the report's choice (#${chosen + 1})`);
  if (report.clusters.length > 0) {
    check(cards[chosen][0] === "pass" && cards[chosen][1] === "0", "the chosen sample is from the largest group");
  }
  const filled = report.samples[chosen].program.split("return a")[1].trim();
  check((await page.textContent(".grid")).includes(filled), `the main view shows the chosen sample (return a ${filled})`);
  await browser.close();
}

// 12. Compare mode: the same prompt left to right beside the settings' decode (16 steps for 32 cells), on one
// loaded model; both lanes finish, the first writes one token per forward pass, the second more, and the main
// grid follows the second.
{
  const { browser, page } = await open(common);
  await page.goto(`${base}${settings}&model=unmask-coder&backend=cpu&mode=compare`);
  await page.waitForFunction(() => document.querySelectorAll('.lane[data-state="done"]').length === 2, null, { timeout: RUN_TIMEOUT });
  await waitDone(page);
  const lanes = await page.$$eval(".lane", (ls) => ls.map((l) => [Number(l.dataset.passes), Number(l.dataset.mostPerPass)]));
  check(lanes.length === 2, "two lanes");
  const [[arPasses, arMost], [passes, most]] = lanes;
  check(arPasses === 32 && arMost === 1, `left to right: one token per pass (${arPasses} passes, at most ${arMost})`);
  check(passes === 16 && most > 1, `the settings' decode: 16 passes, up to ${most} tokens in one`);
  const decoded = await page.$$eval(".grid .tok[data-step]", (c) => c.map((x) => Number(x.dataset.step)));
  check(decoded.length === 32 && Math.max(...decoded) === 15, "the main grid shows the second lane's decode (16 steps)");
  await page.screenshot({ path: join(shots, "9-compare.png"), fullPage: true });
  await browser.close();
}

// 13. The 0.5B diffusion coder (the fetched base with its adapters, ~420 MiB) on the CPU worker, in Compare mode:
// it loads, renders its chat prompt out of sight (the grid starts at the user's code), and both lanes write the
// one-line body, stopping at the closing fence: left to right (exactly its teacher) one token a pass, and with
// its recommended drafts the same answer (its AR floor) in no more passes.
{
  const { browser, page } = await open(common);
  const query = new URLSearchParams({
    model: "unmask-coder-0.5b", backend: "cpu", mode: "compare", length: "16",
    prompt: 'def sum_list(xs):\n    """Return the sum of the numbers in xs."""\n',
  });
  const started = Date.now();
  await page.goto(`${base}?${query}`);
  await page.waitForFunction(() => document.querySelectorAll('.lane[data-state="done"]').length === 2, null, { timeout: RUN_TIMEOUT });
  await waitDone(page);
  timings.coder_0_5b_cpu_compare_done_ms = Date.now() - started;
  await page.screenshot({ path: join(shots, "10-coder-0.5b-compare.png"), fullPage: true });
  const lanes = await page.$$eval(".lane", (ls) => ls.map((l) => ({
    passes: Number(l.dataset.passes), most: Number(l.dataset.mostPerPass),
    text: [...l.querySelectorAll(".tok")].map((c) => c.textContent).join(""),
  })));
  check(lanes.length === 2, "two lanes");
  const [ar, coder] = lanes;
  const grid = await page.textContent(".grid");
  check(grid.startsWith("def sum_list(xs):"), `the grid starts at the user's code, not the chat markup (${grid.slice(0, 30)})`);
  check(ar.text.includes("return sum(xs)") && ar.most === 1, `left to right (the teacher) writes return sum(xs), one token a pass (${ar.text})`);
  const answer = (text) => text.split(/[·░]/)[0];
  check(answer(coder.text) === answer(ar.text), `the diffusion coder writes the teacher's answer (${answer(coder.text)})`);
  check(coder.passes <= ar.passes, `in no more passes (${coder.passes} against ${ar.passes}; at most ${coder.most} in one)`);
  timings.coder_0_5b_passes = { left_to_right: ar.passes, recommended: coder.passes };
  check((await page.getAttribute(".badge", "data-engine")) === "cpu", "the CPU worker ran the coder");
  const cores = await page.evaluate(() => Math.min(4, navigator.hardwareConcurrency));
  check((await page.getAttribute(".badge", "data-workers")) === String(cores), `on ${cores} workers, one shard each`);
  await browser.close();
}

// 14. The CPU worker's pool: the site is served cross-origin isolated, so a model over 32 MiB can be split over
// several workers (web/src/exchange.rs); on two it writes exactly what it writes on one, step for step.
{
  const { browser, page } = await open(common);
  const traces = {};
  for (const workers of ["1", "2"]) {
    await page.goto(`${base}${settings}&model=unmask-coder-36m&backend=cpu&workers=${workers}`);
    await waitDone(page);
    check(await page.evaluate(() => crossOriginIsolated), "the page is cross-origin isolated");
    check((await page.getAttribute(".badge", "data-workers")) === workers, `the model runs on ${workers} worker(s)`);
    traces[workers] = await page.$$eval(".grid .tok", (cells) => cells.map((c) => `${c.dataset.step}:${c.textContent}`).join("|"));
    timings[`cpu_36m_ms_per_step_${workers}_workers`] = await msPerStep(page);
  }
  check(traces["1"].includes(":") && traces["1"] === traces["2"], "two workers write what one writes, step for step");
  await page.screenshot({ path: join(shots, "11-two-workers.png"), fullPage: true });
  await browser.close();
}

check(exceptions.length === 0, `no page threw an exception (${exceptions.length})`);
writeFileSync(join(shots, "timings.json"), JSON.stringify(timings, null, 2));
console.log(JSON.stringify(timings));
