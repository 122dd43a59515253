//! Extra inputs for telling candidates apart: each example call with one argument changed (numbers moved,
//! strings reversed or emptied, lists reordered or shortened, booleans flipped). Candidates that agree on the
//! stated examples but compute different functions disagree on some of these. Only literal arguments are
//! changed; a call that is not `name(literals…)` gives nothing.

use crate::examples::{matching_paren, outside_strings};

/// At most `limit` distinct calls derived from `calls` (each a call of `name`), in a fixed order: for each call,
/// each argument, each change. None of them equals one of `calls`.
pub fn variants(calls: &[&str], name: &str, limit: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for call in calls {
        let Some(args) = arguments(call, name) else { continue };
        for (i, arg) in args.iter().enumerate() {
            let (key, value) = split_keyword(arg);
            for changed in changes(value) {
                let mut new_args = args.clone();
                new_args[i] = format!("{key}{changed}");
                let variant = format!("{name}({})", new_args.join(", "));
                if !calls.contains(&variant.as_str()) && !out.contains(&variant) {
                    out.push(variant);
                }
                if out.len() == limit {
                    return out;
                }
            }
        }
    }
    out
}

/// The top-level arguments of `name(…)` (the whole string), trimmed.
fn arguments(call: &str, name: &str) -> Option<Vec<String>> {
    let call = call.trim();
    let inner = call.strip_prefix(name)?;
    if !inner.starts_with('(') || matching_paren(call, name.len())? != call.len() - 1 {
        return None;
    }
    let inner = &inner[1..inner.len() - 1];
    Some(split_top_level(inner).into_iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect())
}

/// `text` cut at commas outside brackets and strings.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in outside_strings(text) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `("key=", value)` for a keyword argument, `("", arg)` otherwise.
fn split_keyword(arg: &str) -> (&str, &str) {
    let ident_end = arg.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(arg.len());
    match arg[ident_end..].strip_prefix('=') {
        Some(value) if ident_end > 0 && !value.starts_with('=') => (&arg[..=ident_end], value.trim()),
        _ => ("", arg),
    }
}

/// The changed versions of one literal argument, or none when it is not a literal this understands.
fn changes(value: &str) -> Vec<String> {
    if let Ok(n) = value.parse::<i64>() {
        let mut v = vec![n.saturating_add(1), n.saturating_sub(1), 0, n.saturating_neg(), n.saturating_mul(2)];
        v.retain(|&m| m != n);
        v.dedup();
        return v.into_iter().map(|m| m.to_string()).collect();
    }
    if value.contains('.') && value.parse::<f64>().is_ok_and(f64::is_finite) {
        let x: f64 = value.parse().unwrap_or(0.0);
        return [x + 0.5, -x, 0.0].iter().filter(|&&y| y != x).map(|y| format!("{y:?}")).collect();
    }
    match value {
        "True" => return vec!["False".into()],
        "False" => return vec!["True".into()],
        _ => {}
    }
    if let Some(text) = plain_string(value) {
        let quote = &value[..1];
        let reversed: String = text.chars().rev().collect();
        let mut v = vec![reversed, String::new(), format!("{text}{text}"), text.to_uppercase()];
        v.retain(|s| s != text);
        v.dedup();
        return v.into_iter().map(|s| format!("{quote}{s}{quote}")).collect();
    }
    if let Some(items) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let items: Vec<&str> = split_top_level(items).into_iter().map(str::trim).filter(|s| !s.is_empty()).collect();
        let list = |xs: &[&str]| format!("[{}]", xs.join(", "));
        let mut reversed = items.clone();
        reversed.reverse();
        let mut v = vec![list(&reversed)];
        if let Some((_, init)) = items.split_last() {
            v.push(list(init));
            v.push(list(&[&[items[0]], items.as_slice()].concat()));
        }
        v.push("[]".into());
        v.retain(|s| *s != list(&items));
        v.dedup();
        return v;
    }
    Vec::new()
}

/// The contents of a simple string literal (`'…'` or `"…"`, no prefix, no escapes or inner quotes).
fn plain_string(value: &str) -> Option<&str> {
    let quote = value.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = value.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains(quote) && !inner.contains('\\')).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_lists_and_booleans_change_one_at_a_time() {
        let got = variants(&["f(3, 'ab', [1, 2], flag=True)"], "f", 100);
        let expect = [
            "f(4, 'ab', [1, 2], flag=True)",
            "f(2, 'ab', [1, 2], flag=True)",
            "f(0, 'ab', [1, 2], flag=True)",
            "f(-3, 'ab', [1, 2], flag=True)",
            "f(6, 'ab', [1, 2], flag=True)",
            "f(3, 'ba', [1, 2], flag=True)",
            "f(3, '', [1, 2], flag=True)",
            "f(3, 'abab', [1, 2], flag=True)",
            "f(3, 'AB', [1, 2], flag=True)",
            "f(3, 'ab', [2, 1], flag=True)",
            "f(3, 'ab', [1], flag=True)",
            "f(3, 'ab', [1, 1, 2], flag=True)",
            "f(3, 'ab', [], flag=True)",
            "f(3, 'ab', [1, 2], flag=False)",
        ];
        assert_eq!(got, expect);
    }

    #[test]
    fn stated_calls_repeats_and_non_literals_are_left_out_and_the_limit_holds() {
        // f(1) and f(2) are stated: f(2)'s own variants must not include f(1) again.
        let got = variants(&["f(1)", "f(2)"], "f", 100);
        assert_eq!(got, ["f(0)", "f(-1)", "f(3)", "f(-2)", "f(4)"]);
        assert!(variants(&["f(x)", "g(1)", "f(1) + 1"], "f", 100).is_empty());
        assert_eq!(variants(&["f(1, 2)"], "f", 3).len(), 3);
        assert_eq!(variants(&["f(2.5)"], "f", 10), ["f(3.0)", "f(-2.5)", "f(0.0)"]);
    }
}
