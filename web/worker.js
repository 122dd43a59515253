// The CPU engine's Web Worker: loads the same wasm module as the page and hands control to
// `worker_main`. Messages that arrive while the module is still loading are kept and replayed.
const early = [];
self.onmessage = (event) => early.push(event);
const { default: init, worker_main } = await import("./unmask-web.js");
await init();
worker_main();
for (const event of early) self.onmessage(event);
