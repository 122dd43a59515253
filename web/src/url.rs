//! The page URL ⇄ [`Settings`]: read once at start-up, rewritten (without a history entry) on every change.

use crate::settings::Settings;

/// The page URL's query as (name, value) pairs, for [`Settings::from_pairs`] (read again over the model's
/// defaults once the model is known).
pub fn read_pairs() -> Result<Vec<(String, String)>, String> {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search)
        .map_err(|_| "the link's parameters could not be read".to_owned())?;
    let pairs = js_sys::try_iter(&params)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = js_sys::Array::from(&entry.ok()?);
            Some((entry.get(0).as_string()?, entry.get(1).as_string()?))
        })
        .collect();
    Ok(pairs)
}

/// `settings` read from `pairs` over `defaults`.
pub fn settings_from(defaults: Settings, pairs: &[(String, String)]) -> (Settings, Vec<String>) {
    Settings::from_pairs(defaults, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The query string for `settings` (with the leading `?`), leaving out what equals `defaults`.
pub fn query(settings: &Settings, defaults: &Settings) -> String {
    let params = web_sys::UrlSearchParams::new().expect("URLSearchParams exists");
    for (name, value) in settings.to_pairs(defaults) {
        params.append(name, &value);
    }
    format!("?{}", String::from(params.to_string()))
}

/// Puts `settings` in the address bar, replacing the current history entry.
pub fn write_settings(settings: &Settings, defaults: &Settings) {
    let Some(window) = web_sys::window() else { return };
    let path = window.location().pathname().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{}", query(settings, defaults))),
        );
    }
}
