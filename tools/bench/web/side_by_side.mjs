// Side-by-side forward-pass timings in headless Chromium: unmask's page engines (the fast CPU engine as wasm,
// one thread; the WGSL engine on WebGPU) and onnxruntime-web (wasm with 1 and 2 threads; WebGPU) on the same
// model files, in one run. Prints a Markdown table of medians with ratios.
// Usage (cargo xtask bench-web --onnxruntime does all of it):
//   node side_by_side.mjs <site dir with unmask-web.js> <models dir from ort_side_by_side.py --export> [iters]
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const [site, models, itersArg] = process.argv.slice(2);
if (!site || !models) {
  console.error("usage: node side_by_side.mjs <site dir> <models dir> [iters]");
  process.exit(2);
}
const iters = Number(itersArg ?? 5);
const here = fileURLToPath(new URL(".", import.meta.url));
const roots = {
  "/ort/": join(here, "node_modules/onnxruntime-web/dist"),
  "/pkg/": site,
  "/models/": models,
  "/": here,
};
const types = { ".html": "text/html", ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
  ".json": "application/json" };

// Cross-origin isolated (COOP + COEP), so onnxruntime-web may start threads.
const server = createServer(async (request, response) => {
  const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
  const prefix = Object.keys(roots).find((p) => path.startsWith(p));
  const file = normalize(join(roots[prefix], path.slice(prefix.length) || "index.html"));
  try {
    const body = await readFile(file);
    response.writeHead(200, {
      "Content-Type": types[extname(file)] ?? "application/octet-stream",
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
    });
    response.end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--no-first-run", "--enable-unsafe-webgpu"],
});
async function measure(query) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}index.html?${query}&iters=${iters}`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 600_000 });
  const result = await page.evaluate(() => window.result);
  await context.close();
  if (result.error) return { error: result.error.split("\n")[0] };
  const sorted = [...result.samples].sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1], isolated: result.crossOriginIsolated };
}

const only = process.env.ENGINES?.split(",");
const allColumns = [
  ["onnxruntime-web wasm, 1 thread", "engine=ort-wasm&threads=1"],
  ["onnxruntime-web wasm, 2 threads", "engine=ort-wasm&threads=2"],
  ["unmask fast f32 (wasm, 1 thread)", "engine=unmask-fast-f32"],
  ["unmask fast q8", "engine=unmask-fast-q8"],
  ["unmask fast q4", "engine=unmask-fast-q4"],
  ["onnxruntime-web WebGPU", "engine=ort-webgpu"],
  ["unmask WebGPU f32", "engine=unmask-webgpu-f32"],
  ["unmask WebGPU q8", "engine=unmask-webgpu-q8"],
];
// ENGINES=ort-wasm,unmask-fast-f32 (the query's engine names) measures a subset.
const columns = allColumns.filter(([, query]) => !only || only.some((e) => query.includes(`engine=${e}&`) || query.endsWith(`engine=${e}`)));
const runs = [["A", 64], ["A", 256]];
const rows = [];
for (const [shape, seq] of runs) {
  const cells = [];
  for (const [name, query] of columns) {
    const cell = await measure(`${query}&shape=${shape}&seq=${seq}`);
    console.error(`${shape}@${seq} ${name}: ${cell.error ?? `${cell.median.toFixed(1)} ms${cell.isolated ? "" : " (not cross-origin isolated)"}`}`);
    cells.push(cell);
  }
  rows.push([shape, seq, cells]);
}
const version = browser.version();
await browser.close();
server.close();

const show = (cell) => (cell.error ? "failed" : cell.median.toFixed(1));
const ratios = [
  ["ORT wasm 1 thr ÷ unmask fast f32", "ort-wasm&threads=1", "unmask-fast-f32"],
  ["ORT WebGPU ÷ unmask WebGPU f32", "ort-webgpu", "unmask-webgpu-f32"],
];
const cellOf = (cells, engine) => cells[columns.findIndex(([, query]) => query === `engine=${engine}`)];
const ratio = (cells, a, b) => {
  const [x, y] = [cellOf(cells, a), cellOf(cells, b)];
  return !x || !y || x.error || y.error ? "–" : `${(x.median / y.median).toFixed(2)}×`;
};
console.log(`\nms per forward pass (head on one row), medians of ${iters} after a warm-up; Chromium ${version}\n`);
console.log(`| model | seq | ${columns.map(([name]) => name).join(" | ")} | ${ratios.map(([name]) => name).join(" | ")} |`);
console.log(`|---|---|${columns.map(() => "---:").join("|")}|${ratios.map(() => "---:").join("|")}|`);
for (const [shape, seq, cells] of rows) {
  const shown = ratios.map(([, a, b]) => ratio(cells, a, b));
  console.log(`| ${shape} | ${seq} | ${cells.map(show).join(" | ")} | ${shown.join(" | ")} |`);
}
