//! The examples a prompt's docstring gives, in four written forms:
//!
//! - doctest: `>>> call` (continued by `... ` lines), then the expected output on the following line(s), up to
//!   a blank line, the next `>>>` or the docstring's end; statements with no output (`>>> x = [3, 1]`) are kept
//!   as setup for the examples after them;
//! - `call == expected`, `call -> expected` and `call ➞ expected` on one line, where `call` is a call of the
//!   prompt's function (`entry_point`).
//!
//! Only the docstring of the last `def` is read, so the signature's own `-> int` is never taken for an example.

/// How an example was written in the docstring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Doctest,
    Equals,
    Arrow,
    FancyArrow,
}

/// One stated example: run `setup` then `call`; a correct function's result has the repr `expected` (for a
/// doctest, what the interpreter would print: several lines for a multi-line output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub setup: Vec<String>,
    pub call: String,
    pub expected: String,
    pub form: Form,
}

/// The name of the function the prompt asks for: the last `def NAME(` in it.
pub fn entry_point(prompt: &str) -> Option<String> {
    let line = prompt.lines().rev().find(|l| l.trim_start().starts_with("def "))?;
    let rest = line.trim_start().strip_prefix("def ")?;
    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty() && rest[name.len()..].starts_with('(')).then_some(name)
}

/// Every example the docstring of the prompt's last function states, in order.
pub fn examples(prompt: &str) -> Vec<Example> {
    let Some(doc) = docstring(prompt) else { return Vec::new() };
    let name = entry_point(prompt);
    let lines: Vec<&str> = doc.lines().collect();
    let mut found = Vec::new();
    let mut setup = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        if let Some(first) = line.trim_start().strip_prefix(">>>") {
            let mut call = first.strip_prefix(' ').unwrap_or(first).to_owned();
            i += 1;
            while let Some(more) = lines.get(i).and_then(|l| l.trim_start().strip_prefix("...")) {
                call.push('\n');
                call.push_str(more.strip_prefix(' ').unwrap_or(more));
                i += 1;
            }
            let mut expected = Vec::new();
            while let Some(out) = lines.get(i) {
                let trimmed = out.trim_start();
                if trimmed.is_empty() || trimmed.starts_with(">>>") {
                    break;
                }
                // Keep the output's own indentation beyond the prompt's.
                let own = out.is_char_boundary(indent) && out[..indent].trim().is_empty();
                expected.push(if own { &out[indent..] } else { trimmed });
                i += 1;
            }
            if expected.is_empty() {
                setup.push(call);
            } else {
                found.push(Example { setup: setup.clone(), call, expected: expected.join("\n"), form: Form::Doctest });
            }
            continue;
        }
        if let Some(example) = name.as_deref().and_then(|n| inline_example(line.trim(), n)) {
            found.push(example);
        }
        i += 1;
    }
    found
}

/// The text inside the docstring that follows the last `def` line (without its quotes), if it has one.
fn docstring(prompt: &str) -> Option<&str> {
    let def = prompt.rfind("def ")?;
    let body = &prompt[def..];
    let (open, quote) = ["\"\"\"", "'''"].iter().filter_map(|q| body.find(q).map(|at| (at, *q))).min()?;
    let inside = &body[open + 3..];
    Some(match inside.find(quote) {
        Some(close) => &inside[..close],
        None => inside,
    })
}

/// `name(…) == y`, `name(…) -> y` or `name(…) ➞ y` anywhere on a line (after a bullet or "Example:").
fn inline_example(line: &str, name: &str) -> Option<Example> {
    let start = find_call(line, name)?;
    let close = matching_paren(line, start + name.len())?;
    let call = &line[start..=close];
    let rest = line[close + 1..].trim_start();
    let (form, expected) = [("==", Form::Equals), ("->", Form::Arrow), ("➞", Form::FancyArrow)]
        .iter()
        .find_map(|(op, form)| rest.strip_prefix(op).map(|e| (*form, e.trim())))?;
    let expected = expected.trim_end_matches([',', ';']).trim_end();
    (!expected.is_empty()).then(|| Example {
        setup: Vec::new(),
        call: call.to_owned(),
        expected: expected.into(),
        form,
    })
}

/// Where `name(` starts as a whole identifier.
fn find_call(line: &str, name: &str) -> Option<usize> {
    let pattern = format!("{name}(");
    let mut from = 0;
    while let Some(at) = line[from..].find(&pattern).map(|a| a + from) {
        let before = line[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            return Some(at);
        }
        from = at + pattern.len();
    }
    None
}

/// The index of the `)` closing the `(` at `open`, skipping brackets and string literals inside.
pub(crate) fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in outside_strings(&text[open..]) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == ')').then_some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The characters of `text` (with their byte offsets) that are not inside a `'…'` or `"…"` literal (an
/// opening quote is still outside; escapes inside a literal are skipped).
pub(crate) fn outside_strings(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    text.char_indices().filter(move |&(_, c)| match quote {
        Some(q) => {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            false
        }
        None => {
            if c == '\'' || c == '"' {
                quote = Some(c);
            }
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(call: &str, expected: &str, form: Form) -> Example {
        Example { setup: Vec::new(), call: call.into(), expected: expected.into(), form }
    }

    #[test]
    fn finds_the_function_name() {
        assert_eq!(entry_point("import re\n\ndef split_words(text: str) -> list:\n").as_deref(), Some("split_words"));
        assert_eq!(entry_point("x = 1\n"), None);
    }

    #[test]
    fn reads_doctests_with_continuations_setup_and_multi_line_output() {
        let prompt = r#"def grid(rows, cols):
    """Rows of dots.

    >>> grid(2, 3)
    '...\n...'
    >>> print(grid(2,
    ...            2))
    ..
      ..
    >>> size = 1
    >>> grid(size, size)
    '.'
    """
"#;
        let found = examples(prompt);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0], ex("grid(2, 3)", "'...\\n...'", Form::Doctest));
        assert_eq!(found[1].call, "print(grid(2,\n           2))");
        assert_eq!(found[1].expected, "..\n  ..");
        assert_eq!(found[2].setup, vec!["size = 1".to_owned()]);
        assert_eq!(found[2].call, "grid(size, size)");
        assert_eq!(found[2].expected, "'.'");
    }

    #[test]
    fn reads_the_inline_forms_and_not_the_signature() {
        let prompt = "def double(n: int) -> int:\n    '''Twice n.\n\n    Examples:\n    - double(2) == 4\n    \
                      double(-1) -> -2\n    double(0) ➞ 0,\n    doubled(3) == 6\n    '''\n";
        assert_eq!(
            examples(prompt),
            vec![
                ex("double(2)", "4", Form::Equals),
                ex("double(-1)", "-2", Form::Arrow),
                ex("double(0)", "0", Form::FancyArrow)
            ]
        );
    }

    #[test]
    fn a_call_with_brackets_and_strings_is_read_whole() {
        let prompt = "def f(xs, s):\n    \"\"\"f([1, (2, 3)], ')') == [1, ')']\"\"\"\n";
        assert_eq!(examples(prompt), vec![ex("f([1, (2, 3)], ')')", "[1, ')']", Form::Equals)]);
    }

    #[test]
    fn no_docstring_or_no_examples_gives_none() {
        assert!(examples("def f(x):\n    return x\n").is_empty());
        assert!(examples("def f(x):\n    \"\"\"Return x unchanged.\"\"\"\n").is_empty());
        assert!(examples("no function at all").is_empty());
    }
}
