//! Downloading a model directory with progress, kept in the browser's Cache API so a reload does not
//! download again.
//!
//! **Invariant:** a file is used, and cached, only after its size and SHA-256 match `manifest.json`; a cached
//! copy that fails the check is deleted and fetched again. So an interrupted download, a full disk or a changed
//! model on the server can never leave a broken cache behind. (A cached copy of the weights is handed to the
//! engines while its hash is computed, [`PendingCheck`]; nothing runs on it before [`confirm`] says it matched.)

use js_sys::{Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

/// The Cache API bucket; bump the suffix if the caching scheme ever changes.
const CACHE_NAME: &str = "unmask-models-v1";
/// Network attempts per file before giving up.
const ATTEMPTS: u32 = 2;

/// `manifest.json`, written beside the model files by the site build.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// The weight format, e.g. "q8".
    pub quant: String,
    pub parameters: u64,
    pub files: Vec<FileEntry>,
    /// Base weights the model is composed over, shared with the other models over the same base: a file in
    /// the site's `models/base/` (so every model's manifest names the same URL, downloaded and cached once).
    #[serde(default)]
    pub base: Option<FileEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The largest file the page accepts: a wasm module addresses 4 GiB in all, and the weights are copied once
/// into the engines, so a bigger file could only end in an aborted allocation.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// How a full storage quota is reported (the rest of the model is then not cached either).
const QUOTA_FULL: &str = "the browser's storage quota has no room";

fn human_bytes(bytes: usize) -> String {
    if bytes < 1_000_000 { format!("{:.1} kB", bytes as f64 / 1e3) } else { format!("{:.1} MB", bytes as f64 / 1e6) }
}

/// The files a model needs.
const REQUIRED: [&str; 2] = ["config.json", "tokenizer.json"];
/// The model's own weights: all of them, or what it adds to its base.
const WEIGHTS: &str = "model.safetensors";
/// Where a base's weights live, from a model's directory.
const BASE_DIR: &str = "../base/";
/// The file with a model's recommended decoding settings, which a model may leave out.
const GENERATION_CONFIG: &str = "generation_config.json";
/// The model's chat template (a chat model's; the page needs it for the chat prompt formats).
const CHAT_TEMPLATE: &str = "chat_template.jinja";

impl Manifest {
    /// Parses `manifest.json` and checks what the page will allocate or fetch from it: the files a model
    /// needs (config, tokenizer, and weights of its own or a base), each listed once by a plain name, sizes
    /// within [`MAX_FILE_BYTES`] (and their sum), and a SHA-256 of 64 hex digits. A manifest that fails is an
    /// error, never a download of an unbounded size.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut total = 0u64;
        for (i, file) in manifest.files.iter().chain(&manifest.base).enumerate() {
            let name = &file.name;
            if name.is_empty() || name.contains(['/', '\\', '?', '#']) || name.starts_with('.') {
                return Err(format!("file name {name:?} is not a plain file name"));
            }
            // Against the files before it (the base, last, against them all).
            if manifest.files[..i.min(manifest.files.len())].iter().any(|f| &f.name == name) {
                return Err(format!("{name} is listed twice"));
            }
            if file.bytes > MAX_FILE_BYTES {
                return Err(format!("{name} is {} bytes, more than the page can hold ({MAX_FILE_BYTES})", file.bytes));
            }
            if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!("{name}: sha256 {:?} is not 64 lowercase hex digits", file.sha256));
            }
            total += file.bytes;
        }
        if total > MAX_FILE_BYTES {
            return Err(format!("the files add up to {total} bytes, more than the page can hold ({MAX_FILE_BYTES})"));
        }
        if let Some(missing) = REQUIRED.iter().find(|r| !manifest.files.iter().any(|f| f.name == **r)) {
            return Err(format!("it lists no {missing}"));
        }
        if manifest.base.is_none() && !manifest.files.iter().any(|f| f.name == WEIGHTS) {
            return Err(format!("it lists no {WEIGHTS} and no base"));
        }
        Ok(manifest)
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().chain(&self.base).map(|f| f.bytes).sum()
    }
}

/// How far the download is; `loaded` counts bytes of all files, cached ones included.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub loaded: u64,
    pub total: u64,
    /// Bytes per second from the network so far (0 until something has arrived).
    pub rate: f64,
}

impl Progress {
    /// Seconds until the rest arrives at the rate so far, once there is a rate.
    pub fn seconds_left(&self) -> Option<f64> {
        (self.rate > 0.0).then(|| self.total.saturating_sub(self.loaded) as f64 / self.rate)
    }
}

/// The model's files, checked.
pub struct ModelFiles {
    pub manifest: Manifest,
    pub config_json: String,
    pub tokenizer_json: Vec<u8>,
    /// The weights' files (a shared base's first, then the model's own), outside the page's wasm memory (which
    /// never shrinks): moved to the CPU worker as they are, and copied in only while WebGPU uploads them.
    pub weights: Vec<(String, Uint8Array)>,
    /// The model's recommended decoding settings, if it ships them.
    pub generation_json: Option<String>,
    /// The model's chat template, if it has one.
    pub chat_template: Option<String>,
    /// True when every file came from the cache.
    pub from_cache: bool,
    /// Hashes of cached weights still being computed: await [`confirm`] before trusting what they load.
    pub pending: Vec<PendingCheck>,
    /// Things the user should know that did not stop the load (e.g. the cache is full).
    pub warnings: Vec<String>,
}

/// Downloads (or takes from the cache) the model under `base` (a URL ending in `/`).
pub async fn load_model(base: &str, on_progress: &dyn Fn(Progress)) -> Result<ModelFiles, String> {
    let window = web_sys::window().ok_or("no window")?;
    let manifest_url = format!("{base}manifest.json");
    let text = fetch_text(&manifest_url).await.map_err(|e| format!("cannot load the model: {e}"))?;
    let manifest = Manifest::parse(&text).map_err(|e| format!("{manifest_url} is not a usable model manifest: {e}"))?;
    let mut warnings = Vec::new();
    let mut cache = match open_cache(&window).await {
        Ok(cache) => Some(cache),
        Err(e) => {
            warnings.push(format!("the model will not be cached ({e})"));
            None
        }
    };
    let total = manifest.total_bytes();
    let (mut done, mut fetched) = (0, 0);
    let started = js_sys::Date::now();
    let mut from_cache = true;
    let mut files = Vec::new();
    // The base (if any) and the model's own weights, in that order.
    let mut weights: Vec<(String, Uint8Array)> = Vec::new();
    let mut pending = Vec::new();
    // The shared base first, at one URL for every model over it (resolved, so its cache key is one too).
    let base_url = |entry: &FileEntry| {
        let relative = format!("{base}{BASE_DIR}{}", entry.name);
        web_sys::Url::new_with_base(&relative, &page_href()).map(|u| u.href()).unwrap_or(relative)
    };
    let sources = manifest.base.iter().map(|e| (base_url(e), e, true));
    for (url, entry, is_base) in sources.chain(manifest.files.iter().map(|e| (format!("{base}{}", e.name), e, false))) {
        let rate = |fetched: u64| fetched as f64 / ((js_sys::Date::now() - started).max(1.0) / 1e3);
        let progress =
            |loaded: u64| on_progress(Progress { loaded: done + loaded, total, rate: rate(fetched + loaded) });
        // The weights are most of the bytes: a cached copy is hashed while the engines load it.
        let is_weights = is_base || entry.name == WEIGHTS;
        let (bytes, cached, check) =
            load_file(&window, cache.as_ref(), &url, entry, is_weights, &progress, &mut warnings).await?;
        pending.extend(check);
        if warnings.last().is_some_and(|w| w.contains(QUOTA_FULL)) {
            cache = None; // the other files would not fit either: one warning, no more attempts
        }
        from_cache &= cached;
        done += entry.bytes;
        if !cached {
            fetched += entry.bytes;
        }
        on_progress(Progress { loaded: done, total, rate: rate(fetched) });
        let name = if is_base { format!("{BASE_DIR}{}", entry.name) } else { entry.name.clone() };
        if is_weights { weights.push((name, bytes)) } else { files.push((name, bytes)) }
    }
    let mut take = |name: &str| {
        let at = files.iter().position(|(n, _)| n == name).ok_or_else(|| format!("the manifest lists no {name}"))?;
        Ok::<_, String>(files.swap_remove(at).1.to_vec())
    };
    let config_json = String::from_utf8(take("config.json")?).map_err(|_| "config.json is not UTF-8".to_owned())?;
    let tokenizer_json = take("tokenizer.json")?;
    let mut optional_text = |name: &str| match take(name) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| format!("{name} is not UTF-8")),
        Err(_) => Ok(None),
    };
    let generation_json = optional_text(GENERATION_CONFIG)?;
    let chat_template = optional_text(CHAT_TEMPLATE)?;
    Ok(ModelFiles {
        manifest,
        config_json,
        tokenizer_json,
        weights,
        generation_json,
        chat_template,
        from_cache,
        pending,
        warnings,
    })
}

/// The weights read into the page's memory, for WebGPU to upload.
pub fn page_weights(files: &[(String, Uint8Array)]) -> Result<unmask_model::Weights, String> {
    unmask_model::Weights::from_bytes(files.iter().map(|(name, data)| (name.clone(), data.to_vec())).collect())
        .map_err(|e| format!("the model's weights: {e}"))
}

/// The weights of the model under `base` again (from the cache, unless it was lost), for WebGPU when it is
/// chosen after the load: the page keeps no copy of its own.
pub async fn reload_weights(base: &str) -> Result<unmask_model::Weights, String> {
    let files = load_model(base, &|_| {}).await?;
    let weights = page_weights(&files.weights)?;
    confirm(files.pending).await.map_err(|e| e.message)?;
    Ok(weights)
}

/// A cached file's SHA-256 being computed by the browser (off the page's thread) while the file is used.
pub struct PendingCheck {
    name: String,
    key: String,
    sha256: String,
    digest: JsFuture,
}

/// Why [`confirm`] failed.
pub struct Unconfirmed {
    pub message: String,
    /// The damaged copy is out of the cache, so loading again downloads it (false: it could not be removed, and
    /// loading again would only meet it again).
    pub load_again: bool,
}

/// Waits for the pending hashes. A mismatch deletes the cached copy and is an error saying so.
pub async fn confirm(pending: Vec<PendingCheck>) -> Result<(), Unconfirmed> {
    for check in pending {
        let fatal = |message: String| Unconfirmed { message, load_again: false };
        let digest = check.digest.await.map_err(|e| fatal(format!("hashing {}: {}", check.name, js_error(e))))?;
        if hex(&digest) != check.sha256 {
            let window = web_sys::window().ok_or_else(|| fatal("no window".into()))?;
            let removed = match open_cache(&window).await {
                Ok(cache) => JsFuture::from(cache.delete_with_str(&check.key)).await.is_ok_and(|r| r.is_truthy()),
                Err(_) => false,
            };
            return Err(match removed {
                true => Unconfirmed {
                    message: format!("the cached {} was damaged and was downloaded again", check.name),
                    load_again: true,
                },
                false => fatal(format!("the cached {} is damaged and could not be removed from the cache", check.name)),
            });
        }
    }
    Ok(())
}

/// One file, from the cache when a checked copy is there, otherwise from the network (then cached); with
/// `defer`, a cached copy of the right size comes back at once with its hash still being computed.
async fn load_file(
    window: &web_sys::Window,
    cache: Option<&Cache>,
    url: &str,
    entry: &FileEntry,
    defer: bool,
    progress: &dyn Fn(u64),
    warnings: &mut Vec<String>,
) -> Result<(Uint8Array, bool, Option<PendingCheck>), String> {
    // The hash is part of the key: a new model version never meets an old copy.
    let key = format!("{url}?sha256={}", entry.sha256);
    if let Some(cache) = cache
        && let Some(data) = cached(cache, &key).await
    {
        if defer && check_size(&data, entry).is_ok() {
            let digest = start_digest(window, &data)?;
            let (name, sha256) = (entry.name.clone(), entry.sha256.clone());
            return Ok((data, true, Some(PendingCheck { name, key, sha256, digest })));
        }
        if check(window, &data, entry).await.is_ok() {
            return Ok((data, true, None));
        }
        warnings.push(format!("the cached {} was damaged and was downloaded again", entry.name));
        let _ = JsFuture::from(cache.delete_with_str(&key)).await;
    }
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        match download(url, entry.bytes, progress).await {
            Ok(data) => match check(window, &data, entry).await {
                Ok(()) => {
                    if let Some(cache) = cache
                        && let Err(e) = store(cache, url, &entry.sha256, &data).await
                    {
                        warnings.push(format!("{} was not cached: {e}", entry.name));
                    }
                    return Ok((data, false, None));
                }
                Err(e) => last_error = e,
            },
            Err(e) => last_error = e,
        }
    }
    Err(format!("downloading {}: {last_error}", entry.name))
}

async fn open_cache(window: &web_sys::Window) -> Result<Cache, String> {
    let storage = window.caches().map_err(|_| "this page has no Cache API (it needs https or localhost)")?;
    let cache = JsFuture::from(storage.open(CACHE_NAME)).await.map_err(js_error)?;
    Ok(cache.unchecked_into())
}

async fn cached(cache: &Cache, key: &str) -> Option<Uint8Array> {
    let found = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: Response = found.dyn_into().ok()?;
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buffer))
}

/// Puts a checked file in the cache and removes other versions of the same file.
async fn store(cache: &Cache, url: &str, sha256: &str, data: &Uint8Array) -> Result<(), String> {
    let key = format!("{url}?sha256={sha256}");
    let response = Response::new_with_opt_buffer_source(Some(data)).map_err(js_error)?;
    JsFuture::from(cache.put_with_str(&key, &response)).await.map_err(|e| {
        match dom_error_name(&e).as_deref() {
            Some("QuotaExceededError") => format!(
                "{QUOTA_FULL} for its {} (the model runs uncached and downloads again next time; free space in \
                 the site settings to keep it)",
                human_bytes(data.length() as usize)
            ),
            // Chrome's answer when a private window's in-memory storage cannot hold the file.
            Some("UnknownError") => format!(
                "the browser would not store its {} (a private window keeps little; the model runs uncached and \
                 downloads again next time)",
                human_bytes(data.length() as usize)
            ),
            _ => js_error(e),
        }
    })?;
    // Older versions of this file under another hash are dead weight.
    let keys = JsFuture::from(cache.keys()).await.map_err(js_error)?;
    let absolute = web_sys::Url::new_with_base(url, &page_href()).map(|u| u.href()).unwrap_or_default();
    let this_file = format!("{absolute}?sha256=");
    for request in js_sys::Array::from(&keys).iter() {
        let other = Reflect::get(&request, &"url".into()).ok().and_then(|u| u.as_string()).unwrap_or_default();
        if other.starts_with(&this_file) && !other.ends_with(sha256) {
            let _ = JsFuture::from(cache.delete_with_str(&other)).await;
        }
    }
    Ok(())
}

fn page_href() -> String {
    web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// The body of a small text file (a manifest, the model list).
pub async fn fetch_text(url: &str) -> Result<String, String> {
    let response = fetch(url).await?;
    let text = JsFuture::from(response.text().map_err(js_error)?).await.map_err(js_error)?;
    Ok(text.as_string().unwrap_or_default())
}

async fn fetch(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str(url)).await.map_err(|e| format!("{url}: {}", js_error(e)))?;
    let response: Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {} {}", response.status(), response.status_text()));
    }
    Ok(response)
}

/// `new Uint8Array(length)`, a failed allocation returned as an error instead of thrown through the page.
fn allocate_bytes(length: u32) -> Result<Uint8Array, JsValue> {
    let constructor: js_sys::Function = Reflect::get(&js_sys::global(), &"Uint8Array".into())?.dyn_into()?;
    Ok(Reflect::construct(&constructor, &js_sys::Array::of1(&length.into()))?.unchecked_into())
}

/// The body of `url`, streamed so that progress moves while it arrives, into an array outside the page's
/// memory; short of `expected` bytes only if the server sent fewer (the size check then says so).
async fn download(url: &str, expected: u64, progress: &dyn Fn(u64)) -> Result<Uint8Array, String> {
    let response = fetch(url).await?;
    let body = response.body().ok_or_else(|| format!("{url}: empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    // `expected` is bounded by `Manifest::parse` (under 4 GiB); allocating it can still fail when memory is short.
    let bytes =
        allocate_bytes(expected as u32).map_err(|_| format!("{url}: not enough memory for its {expected} bytes"))?;
    let mut received = 0u32;
    loop {
        let chunk =
            JsFuture::from(reader.read()).await.map_err(|e| format!("download interrupted: {}", js_error(e)))?;
        if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            break;
        }
        let value = Uint8Array::new(&Reflect::get(&chunk, &"value".into()).map_err(js_error)?);
        if u64::from(received) + u64::from(value.length()) > expected {
            return Err(format!("{url}: the server sent more than the manifest's {expected} bytes"));
        }
        bytes.set(&value, received);
        received += value.length();
        progress(u64::from(received));
    }
    Ok(bytes.subarray(0, received))
}

/// Size and SHA-256 against the manifest.
async fn check(window: &web_sys::Window, data: &Uint8Array, entry: &FileEntry) -> Result<(), String> {
    check_size(data, entry)?;
    let hex = hex(&start_digest(window, data)?.await.map_err(js_error)?);
    if hex != entry.sha256 {
        return Err(format!("its SHA-256 is {hex}, the manifest says {}", entry.sha256));
    }
    Ok(())
}

fn check_size(data: &Uint8Array, entry: &FileEntry) -> Result<(), String> {
    if u64::from(data.length()) != entry.bytes {
        return Err(format!("got {} bytes, the manifest says {}", data.length(), entry.bytes));
    }
    Ok(())
}

/// The browser's SHA-256 of `data` (it copies the bytes when called, so `data` may move on meanwhile).
fn start_digest(window: &web_sys::Window, data: &Uint8Array) -> Result<JsFuture, String> {
    let subtle = window.crypto().map_err(js_error)?.subtle();
    Ok(JsFuture::from(subtle.digest_with_str_and_buffer_source("SHA-256", data).map_err(js_error)?))
}

fn hex(digest: &JsValue) -> String {
    Uint8Array::new(digest).to_vec().iter().map(|b| format!("{b:02x}")).collect()
}

fn dom_error_name(e: &JsValue) -> Option<String> {
    e.dyn_ref::<web_sys::DomException>().map(|d| d.name())
}

/// A JavaScript error as text.
pub fn js_error(e: JsValue) -> String {
    if let Some(d) = e.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", d.name(), d.message());
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
