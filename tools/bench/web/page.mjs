// One measurement per page load (onnxruntime-web fixes its thread count when its wasm starts):
// ?engine=ort-wasm|ort-webgpu|unmask-fast-f32|…|unmask-webgpu-f32|…&threads=1&shape=A&seq=256&iters=5
// Writes window.result = { samples } (milliseconds per forward pass, after one warm-up) or { error }.
const params = new URLSearchParams(location.search);
const engine = params.get("engine");
const shape = params.get("shape") ?? "A";
const seq = Number(params.get("seq") ?? 256);
const iters = Number(params.get("iters") ?? 5);
const threads = Number(params.get("threads") ?? 1);

async function bytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The ONNX graph takes the token ids and the row whose logits to compute: the same canvas and row as
// unmask's bench_forward ((i * 7 + 3) % vocab, the middle row).
async function timeOrt(executionProvider) {
  // The wasm-only build for the wasm provider; the WebGPU build (JSEP) only where it is needed.
  const ort = await import(executionProvider === "webgpu" ? "/ort/ort.webgpu.min.mjs" : "/ort/ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = threads;
  const config = await (await fetch(`/models/model-${shape}/config.json`)).json();
  const session = await ort.InferenceSession.create(await bytes(`/models/${shape}-${seq}.onnx`), {
    executionProviders: [executionProvider],
    graphOptimizationLevel: "all",
  });
  const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 7 + 3) % config.vocab_size));
  const feeds = {
    input_ids: new ort.Tensor("int64", ids, [seq]),
    rows: new ort.Tensor("int64", BigInt64Array.from([BigInt(seq >> 1)]), [1]),
  };
  const samples = [];
  for (let run = 0; run <= iters; run++) {
    const started = performance.now();
    const out = await session.run(feeds);
    await out[session.outputNames[0]].getData();
    if (run > 0) samples.push(performance.now() - started);
  }
  return samples;
}

async function timeUnmask(which) {
  const { default: init, bench_forward } = await import("/pkg/unmask-web.js");
  await init();
  const config = await (await fetch(`/models/model-${shape}/config.json`)).text();
  const weights = await bytes(`/models/model-${shape}/model.safetensors`);
  return Array.from(await bench_forward(config, weights, which, seq, iters));
}

try {
  let samples;
  if (engine === "ort-wasm") samples = await timeOrt("wasm");
  else if (engine === "ort-webgpu") samples = await timeOrt("webgpu");
  else if (engine.startsWith("unmask-")) samples = await timeUnmask(engine.slice("unmask-".length));
  else throw new Error(`unknown engine ${engine}`);
  window.result = { samples, crossOriginIsolated };
} catch (error) {
  window.result = { error: String(error?.stack ?? error) };
}
document.getElementById("status").textContent = JSON.stringify(window.result);
