//! The playground's site: the shipped models as the page downloads them, with their manifests and index, the wasm module bound for the
//! web, the page shell, and a small static file server for it.
//!
//! `index.html` carries Trunk's `data-trunk` directives; this build reads the same four (`rust`, `css`,
//! `copy-file`, `copy-dir`), so one page shell serves both `cargo xtask serve` and `trunk serve`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::page_model::{self, PAGE_FILES, PageModel};
use crate::{MODELS_DIR, WASM_TARGET, path_str, run, step, target_dir};

/// Where what the page downloads besides its code is written (index.html copies `models/` and `pyodide/` from
/// here).
fn assets_root() -> PathBuf {
    target_dir().join("site-assets")
}

/// Where the built site goes.
pub fn site_dir() -> PathBuf {
    target_dir().join("site")
}

/// What the page downloads besides its code: the model and the Pyodide runtime (`site-assets`, Trunk's
/// pre-build hook).
pub fn build_assets() -> Result<()> {
    build_models()?;
    copy_pyodide()
}

/// The files Pyodide loads when it starts (its JavaScript and wasm, the standard library, the package index).
const PYODIDE_FILES: &[&str] =
    &["pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"];

/// Pyodide for the sandbox worker: installed into `web/pyodide` by `npm ci` (pinned, from the npm registry),
/// then its runtime files copied beside the model.
fn copy_pyodide() -> Result<()> {
    let project = Path::new("web/pyodide");
    let package = project.join("node_modules/pyodide");
    if !PYODIDE_FILES.iter().all(|file| package.join(file).exists()) {
        crate::run_in("npm", &["ci", "--no-audit", "--no-fund"], project)?;
    }
    let out = assets_root().join("pyodide");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for file in PYODIDE_FILES {
        std::fs::copy(package.join(file), out.join(file)).with_context(|| format!("copying Pyodide's {file}"))?;
    }
    println!("  Pyodide for the page: {}", out.display());
    Ok(())
}

/// Every shipped model as the page downloads it (`models/NAME/`, see [`page_model`]), and `models/index.json`
/// listing them for the page's picker. Each directory holds the weights, config, tokenizer, optionally the
/// recommended decoding and chat template, and `manifest.json` with every file's size and SHA-256 (the page
/// checks both before using a file).
fn build_models() -> Result<()> {
    let root = assets_root().join("models");
    if root.exists() {
        // A model removed from `models/` must not linger on the page.
        std::fs::remove_dir_all(&root).with_context(|| format!("clearing {}", root.display()))?;
    }
    let mut index = Vec::new();
    // A shared base's entry, hashed once however many models name it (it is hundreds of megabytes).
    let mut base_entries: Vec<(PathBuf, serde_json::Value)> = Vec::new();
    for source in shipped_models()? {
        let name = source.file_name().and_then(|n| n.to_str()).context("model name")?.to_owned();
        let out = root.join(&name);
        let Some(PageModel { quant, parameters, base }) = page_model::write(&source, &out)? else { continue };
        let mut files = Vec::new();
        for file in PAGE_FILES {
            if out.join(file).exists() {
                files.push(manifest_entry(&out.join(file))?); // the optional ones only when present
            }
        }
        let base = match base {
            None => None,
            Some(path) => match base_entries.iter().find(|(p, _)| *p == path) {
                Some((_, known)) => Some(known.clone()),
                None => {
                    let fresh = manifest_entry(&path)?;
                    base_entries.push((path, fresh.clone()));
                    Some(fresh)
                }
            },
        };
        let size = |entry: &serde_json::Value| entry["bytes"].as_u64().unwrap_or(0);
        let bytes_total: u64 = files.iter().chain(&base).map(size).sum();
        let mut manifest =
            serde_json::json!({ "name": name, "quant": quant, "parameters": parameters, "files": files });
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        let mut shared = String::new();
        if let Some(base) = base {
            shared = format!(", {:.1} MiB of it the shared {}", mib(size(&base)), base["name"].as_str().unwrap_or(""));
            manifest["base"] = base;
        }
        std::fs::write(out.join("manifest.json"), serde_json::to_string_pretty(&manifest)?)?;
        println!("  model for the page: {} ({quant}, {:.1} MiB{shared})", out.display(), mib(bytes_total));
        index.push(serde_json::json!({ "name": name, "quant": quant, "parameters": parameters, "bytes": bytes_total }));
    }
    let index = serde_json::json!({ "models": index });
    std::fs::write(root.join("index.json"), serde_json::to_string_pretty(&index)?).context("writing index.json")
}

/// A file's line in a manifest: its name, size and SHA-256.
fn manifest_entry(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let sha256: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let name = path.file_name().and_then(|n| n.to_str()).context("file name")?;
    Ok(serde_json::json!({ "name": name, "bytes": bytes.len(), "sha256": sha256 }))
}

/// The model directories under `models/` (those with a `config.json`), sorted by name.
pub fn shipped_models() -> Result<Vec<PathBuf>> {
    let mut models = Vec::new();
    for entry in std::fs::read_dir(MODELS_DIR).with_context(|| format!("reading {MODELS_DIR}"))? {
        let path = entry?.path();
        if path.join("config.json").is_file() {
            models.push(path);
        }
    }
    models.sort();
    if models.is_empty() {
        bail!("no model under {MODELS_DIR} (a directory with a config.json)");
    }
    Ok(models)
}

/// Builds the whole site into `target/site`.
pub fn build() -> Result<PathBuf> {
    step("model files (weights, manifests, index) and Pyodide for the page", build_assets)?;
    let site = site_dir();
    step("playground wasm (release)", || {
        run("cargo", &["build", "--locked", "--release", "--target", WASM_TARGET, "-p", "unmask-web"])?;
        let wasm = target_dir().join(WASM_TARGET).join("release/unmask_web.wasm");
        if site.exists() {
            std::fs::remove_dir_all(&site).context("clearing the old site")?;
        }
        // Named after the package, as Trunk names them.
        let out_dir = path_str(&site)?;
        run(
            "wasm-bindgen",
            &["--target", "web", "--no-typescript", "--out-name", "unmask-web", "--out-dir", out_dir, path_str(&wasm)?],
        )
    })?;
    step("page shell and assets", || write_shell(&site))?;
    Ok(site)
}

/// Where `trunk build` puts the site (Trunk.toml's `dist`).
fn trunk_dist() -> PathBuf {
    target_dir().join("trunk-dist")
}

/// Builds the site with Trunk, as `trunk build --release` does for a user (its pre-build hook writes the assets).
fn build_with_trunk() -> Result<PathBuf> {
    let dist = trunk_dist();
    step("the site with Trunk (trunk build --release)", || {
        run("trunk", &["build", "--release", "--dist", path_str(&dist)?])
    })?;
    Ok(dist)
}

/// The site built by Trunk, after checking that `build` (what `cargo xtask serve` serves) makes the same one.
pub fn build_both() -> Result<PathBuf> {
    let trunks = build_with_trunk()?;
    let ours = build()?;
    step("`cargo xtask serve` and Trunk build the same site", || check_same_site(&ours, &trunks))?;
    Ok(trunks)
}

/// Both builds of the page must ship the same files with the same bytes, but for the page shell itself
/// (Trunk writes its own loader script into index.html) and the generated bindings, whose text differs by
/// wasm-bindgen's flags.
fn check_same_site(ours: &Path, trunks: &Path) -> Result<()> {
    let (a, b) = (list_files(ours)?, list_files(trunks)?);
    if a.iter().map(|(name, _)| name).ne(b.iter().map(|(name, _)| name)) {
        let names = |files: &[(String, PathBuf)]| files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        bail!("the sites differ in files:\n  {}: {}\n  {}: {}", ours.display(), names(&a), trunks.display(), names(&b));
    }
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let generated = name == "index.html" || name.starts_with("unmask-web");
        if !generated && std::fs::read(x)? != std::fs::read(y)? {
            bail!("{name} differs between {} and {}", ours.display(), trunks.display());
        }
    }
    println!("  {} files, the same in both", a.len());
    Ok(())
}

/// Every file under `root` as (path relative to `root`, full path), sorted.
fn list_files(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root)?.to_string_lossy().into_owned();
                files.push((relative, path));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies what index.html's `data-trunk` links name and writes the page with them resolved.
fn write_shell(site: &Path) -> Result<()> {
    let shell = std::fs::read_to_string("index.html").context("index.html")?;
    let mut page = String::new();
    for line in shell.lines() {
        let Some(directive) = line.trim().strip_prefix("<link data-trunk ") else {
            page.push_str(line);
            page.push('\n');
            continue;
        };
        let attribute = |name: &str| {
            directive.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
        };
        let rel = attribute("rel").context("a data-trunk link without rel")?;
        let href = attribute("href").context("a data-trunk link without href")?;
        // index.html names build outputs under `target/`; follow CARGO_TARGET_DIR when it is set.
        let href = match href.strip_prefix("target/") {
            Some(inside) => target_dir().join(inside),
            None => PathBuf::from(href),
        };
        let file_name = href.file_name().context("href without a file name")?.to_owned();
        match rel.as_str() {
            "css" => {
                std::fs::copy(&href, site.join(&file_name)).with_context(|| href.display().to_string())?;
                page.push_str(&format!("    <link rel=\"stylesheet\" href=\"{}\" />\n", file_name.to_string_lossy()));
            }
            "copy-file" => {
                std::fs::copy(&href, site.join(&file_name)).with_context(|| href.display().to_string())?;
            }
            "copy-dir" => copy_dir(&href, &site.join(&file_name))?,
            "rust" => {
                page.push_str("    <script type=\"module\">import init from \"./unmask-web.js\"; init();</script>\n")
            }
            other => bail!("index.html: unsupported data-trunk rel {other:?}"),
        }
    }
    std::fs::write(site.join("index.html"), page).context("writing index.html")
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Listens on localhost (`port` 0: any free port).
pub fn listen(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).with_context(|| format!("port {port} is taken; choose another with --port"))
}

/// Serves `root` from `listener` until the process ends.
pub fn serve(root: &Path, listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        let root = root.to_owned();
        std::thread::spawn(move || {
            let _ = answer(&root, stream);
        });
    }
}

/// The end-to-end test: the built site served on a free port, driven by Playwright in Debian's Chromium
/// (tests/e2e/playground.mjs), screenshots and timings left in `target/e2e`.
pub fn end_to_end(site: &Path) -> Result<()> {
    let e2e = Path::new("tests/e2e");
    if !e2e.join("node_modules/playwright-core").exists() {
        crate::run_in("npm", &["ci", "--no-audit", "--no-fund"], e2e)?;
    }
    let listener = listen(0)?;
    let url = format!("http://localhost:{}/", listener.local_addr()?.port());
    let root = site.to_owned();
    std::thread::spawn(move || serve(&root, listener));
    let shots = std::fs::canonicalize(target_dir())?.join("e2e");
    crate::run_in("node", &["playground.mjs", &url, path_str(&shots)?], e2e)?;
    println!("  screenshots and timings: {}", shots.display());
    Ok(())
}

fn answer(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Drain the headers.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = path.trim_start_matches('/');
    let file = if relative.is_empty() { root.join("index.html") } else { root.join(relative) };
    let safe = !relative.split('/').any(|part| part == "..");
    let (status, body, kind) = match (method, safe, std::fs::read(&file)) {
        ("GET" | "HEAD", true, Ok(body)) => ("200 OK", body, content_type(&file)),
        ("GET" | "HEAD", _, _) => ("404 Not Found", b"not found".to_vec(), "text/plain"),
        _ => ("405 Method Not Allowed", Vec::new(), "text/plain"),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\n{ISOLATED}Connection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}

/// The page is cross-origin isolated, which gives it shared memory for the CPU worker's pool (web/src/exchange.rs);
/// every file it loads is its own, so requiring that of embedded resources costs nothing. Trunk.toml sends the same.
const ISOLATED: &str = "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n";

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "json" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}
