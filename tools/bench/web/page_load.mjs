// Measures models on the page as a visitor meets them, in Debian's Chromium: for each model and engine, a fresh
// browser profile (an empty cache, on disk so a 0.5B model fits its quota) opens the page, downloads the model
// and runs the prompt; then a reload takes the model from the cache and runs it again. Prints one JSON line per
// case, with the time each loading phase the page showed began, and writes a screenshot of each.
// Usage (after `npm ci` here): node page_load.mjs <site URL> <screenshot folder> <model>:<cpu|webgpu>[:<answer length>[:<workers>]] ...
// e.g.   node page_load.mjs http://localhost:8080/ target/measure qwen2.5-coder-0.5b-instruct:cpu:24
// (QUERY="&prompt=…" adds link parameters to every case.)
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shots, ...cases] = process.argv.slice(2);
if (!base || !shots || cases.length === 0) {
  console.error("usage: node page_load.mjs <site URL> <screenshot folder> <model>:<cpu|webgpu>[:<length>] ...");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const TIMEOUT = 1_800_000;
const args = [
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--disable-quic", "--no-sandbox", "--enable-unsafe-webgpu",
];

/** Opens `url`; ms to the first decoded cell and to the finished run, and the page's own numbers. */
async function runOnce(page, url) {
  const started = Date.now();
  // What the page says while it works, every 30 s, so a slow case shows where it is.
  const ticker = setInterval(async () => {
    const says = await page.evaluate(() => [".model-panel", ".status"]
      .map((s) => document.querySelector(s)?.textContent?.trim()).filter(Boolean).join(" | ")).catch(() => "");
    console.error(`  ${Math.round((Date.now() - started) / 1000)} s: ${says}`);
  }, 30_000);
  try {
    return await timed(page, url, started);
  } finally {
    clearInterval(ticker);
  }
}

// Every text the model panel shows while loading, with ms since navigation began (the page's own clock).
const RECORD_PHASES = () => {
  window.__phases = [];
  new MutationObserver(() => {
    const panel = document.querySelector(".model-panel");
    const starting = panel?.querySelector(".starting")?.textContent?.trim();
    const phase = starting ?? (panel?.querySelector(".progress") ? "downloading"
      : panel?.querySelector(".badge") ? "ready" : null);
    const last = window.__phases[window.__phases.length - 1];
    if (phase && last?.[1] !== phase) window.__phases.push([Math.round(performance.now()), phase]);
  }).observe(document, { subtree: true, childList: true, characterData: true });
};

async function timed(page, url, started) {
  await page.goto(url);
  await page.waitForSelector(".tok[data-step]", { timeout: TIMEOUT });
  const firstStep = Date.now() - started;
  await page.waitForSelector('.status[data-state="done"], .status[data-state="error"]', { timeout: TIMEOUT });
  const done = Date.now() - started;
  const state = await page.getAttribute(".status", "data-state");
  const status = await page.textContent(".status");
  if (state !== "done") throw new Error(`the run ended in an error: ${status}`);
  const stats = await page.$$eval(".stats dt", (dts) =>
    Object.fromEntries(dts.map((dt) => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()])));
  return {
    first_step_ms: firstStep, done_ms: done, status, engine: await page.getAttribute(".badge", "data-engine"),
    stats, answer: await page.$$eval(".grid .tok.decoded", (cells) => cells.map((c) => c.textContent).join("")),
    phases: await page.evaluate(() => window.__phases),
  };
}

for (const spec of cases) {
  const [model, backend, length, workers] = spec.split(":");
  const url = `${base}?model=${model}&backend=${backend}${length ? `&length=${length}` : ""}` +
    `${workers ? `&workers=${workers}` : ""}${process.env.QUERY ?? ""}`;
  const profile = mkdtempSync(join(tmpdir(), "unmask-page-load-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", args, viewport: { width: 1400, height: 1000 },
  });
  await browser.addInitScript(RECORD_PHASES);
  const page = await browser.newPage();
  page.on("console", (m) => m.type() === "error" && console.error(`page error: ${m.text()}`));
  page.on("pageerror", (e) => console.error(`page exception: ${e}`));
  const cold = await runOnce(page, url);
  await page.screenshot({ path: join(shots, `${model}-${backend}${workers ? `-${workers}` : ""}.png`), fullPage: true });
  const cached = await runOnce(page, url);
  const download = await page.evaluate(() => performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/models/")).map((e) => ({ name: e.name.split("/models/")[1], ms: e.duration })));
  console.log(JSON.stringify({ model, backend, workers, cold, cached, download }));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
