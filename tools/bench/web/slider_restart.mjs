// Measures what a visitor sees when a setting changes while a step is in flight, in Debian's Chromium: the page
// opens MODEL on ENGINE with a 64-cell answer, lets a few tokens land, moves the confidence threshold, and reports
// how long the grid took to show the restart (no decoded answer cell left) and the new run's first tokens.
// Usage (after `npm ci` here): node slider_restart.mjs <site URL> <model> [cpu|webgpu]
// e.g.   node slider_restart.mjs http://localhost:8080/ unmask-coder-0.5b cpu
import { chromium } from "playwright-core";

const [base, model, backend = "cpu"] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node slider_restart.mjs <site URL> <model> [cpu|webgpu]");
  process.exit(2);
}
const TIMEOUT = 1_800_000;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-quic", "--enable-unsafe-webgpu"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const query = new URLSearchParams({
  model, backend, length: "64", prompt: 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
});
await page.goto(`${base}?${query}`);
const decoded = () => document.querySelectorAll(".grid .tok.decoded").length;
await page.waitForFunction((d) => new Function(`return (${d})()`)() >= 6, decoded.toString(), { timeout: TIMEOUT });
const before = await page.evaluate(decoded);
const changed = Date.now();
await page.locator("#threshold").fill("0.3");
await page.waitForFunction((d) => new Function(`return (${d})()`)() === 0, decoded.toString(), { timeout: TIMEOUT });
const restartShown = Date.now() - changed;
await page.waitForFunction((d) => new Function(`return (${d})()`)() > 0, decoded.toString(), { timeout: TIMEOUT });
const firstNewTokens = Date.now() - changed;
await page.waitForSelector('.status[data-state="done"]', { timeout: TIMEOUT });
console.log(JSON.stringify({
  model, backend, decoded_before_change: before, restart_shown_ms: restartShown, first_new_tokens_ms: firstNewTokens,
  page_timings: await page.textContent("#timings"),
}));
await browser.close();
