// The page's sandbox for candidate code: Pyodide (CPython in WebAssembly, served by our own build under
// ./pyodide/) in a Worker of its own, never on the page's thread (web/src/sandbox.rs drives it).
// It says {kind: "ready"} once Python is up, then answers each [harness, job] with {kind: "done", output}:
// everything the harness printed (the page reads the answer line from it). The page enforces each job's time
// limit by terminating this worker and starting another.
importScripts("./pyodide/pyodide.js");

let output = "";
let input = null;

async function start() {
  const pyodide = await loadPyodide({ indexURL: new URL("./pyodide/", self.location).href });
  pyodide.setStdout({ batched: (line) => (output += line + "\n") });
  pyodide.setStderr({ batched: () => {} });
  // The job arrives on stdin, in one read; after it, end of file.
  pyodide.setStdin({ stdin: () => { const text = input; input = null; return text ?? undefined; } });
  return pyodide;
}

const ready = start();
ready.then(
  () => self.postMessage({ kind: "ready" }),
  (error) => self.postMessage({ kind: "failed", message: `Pyodide did not start: ${error}` }),
);

self.onmessage = async ({ data: [harness, job] }) => {
  const pyodide = await ready;
  output = "";
  input = job;
  try {
    await pyodide.runPythonAsync(harness);
  } catch (error) {
    // The harness catches what the candidate raises; this is the harness itself failing.
    self.postMessage({ kind: "failed", message: `the sandbox's harness failed: ${error}` });
    return;
  }
  self.postMessage({ kind: "done", output });
};
