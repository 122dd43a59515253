//! The page URL ⇄ [`Settings`]: read once at start-up, rewritten (without a history entry) on every change.

use crate::settings::Settings;

/// The settings in the page's URL, and warnings about values that could not be used.
pub fn read_settings() -> (Settings, Vec<String>) {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return (Settings::default(), vec!["the link's parameters could not be read".into()]);
    };
    let pairs: Vec<(String, String)> = js_sys::try_iter(&params)
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = js_sys::Array::from(&entry.ok()?);
            Some((entry.get(0).as_string()?, entry.get(1).as_string()?))
        })
        .collect();
    Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The query string for `settings` (with the leading `?`).
pub fn query(settings: &Settings) -> String {
    let params = web_sys::UrlSearchParams::new().expect("URLSearchParams exists");
    for (name, value) in settings.to_pairs() {
        params.append(name, &value);
    }
    format!("?{}", String::from(params.to_string()))
}

/// Puts `settings` in the address bar, replacing the current history entry.
pub fn write_settings(settings: &Settings) {
    let Some(window) = web_sys::window() else { return };
    let path = window.location().pathname().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{}", query(settings))),
        );
    }
}
