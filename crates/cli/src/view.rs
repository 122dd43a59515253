//! What `generate` shows on stderr while it runs: a progress line, or with `--show-steps` every step's
//! canvas with masked positions drawn as ░, end-of-text as ·, and the step's new tokens highlighted.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::time::Instant;

use unmask_model::{Tokenizer, TraceStep};
use unmask_sampler::Observer;

pub struct StepView<'a> {
    tokenizer: &'a Tokenizer,
    mask: u32,
    /// End-of-text tokens, drawn as · so a run of them stays one character each.
    end_tokens: &'a [u32],
    prompt_len: usize,
    show_steps: bool,
    progress: bool,
    color: bool,
    clock: Instant,
}

impl<'a> StepView<'a> {
    pub fn new(
        tokenizer: &'a Tokenizer,
        mask: u32,
        end_tokens: &'a [u32],
        prompt_len: usize,
        show_steps: bool,
        progress: bool,
    ) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            tokenizer,
            mask,
            end_tokens,
            prompt_len,
            show_steps,
            // A live progress line only makes sense on a terminal, and is replaced by the step view.
            progress: progress && terminal && !show_steps,
            color: terminal && std::env::var_os("NO_COLOR").is_none(),
            clock: Instant::now(),
        }
    }

    pub fn finish(&self) {
        if self.progress {
            eprint!("\r\x1b[2K");
        }
    }

    /// The canvas from the first position that was ever masked (the prompt before it is context).
    fn render(&self, canvas: &[u32], step: &TraceStep) -> String {
        let start = canvas.iter().position(|&t| t == self.mask).unwrap_or(self.prompt_len).min(self.prompt_len);
        let start = step.commits.first().map_or(start, |c| start.min(c.position as usize));
        let mut out = String::new();
        for (q, &token) in canvas.iter().enumerate().skip(start) {
            if token == self.mask {
                out.push('░');
                continue;
            }
            let text = if self.end_tokens.contains(&token) {
                "·".to_owned()
            } else {
                self.tokenizer.decode(&[token]).unwrap_or_else(|_| "�".into())
            };
            let new = step.commits.iter().any(|c| c.position as usize == q);
            if new && self.color {
                out.push_str(&format!("\x1b[1;32m{text}\x1b[0m"));
            } else {
                out.push_str(&text);
            }
        }
        out
    }
}

impl Observer for StepView<'_> {
    fn now_millis(&mut self) -> f64 {
        self.clock.elapsed().as_secs_f64() * 1e3
    }

    fn on_step(&mut self, canvas: &[u32], step: &TraceStep) -> ControlFlow<()> {
        let left = canvas.iter().filter(|&&t| t == self.mask).count();
        if self.show_steps {
            let positions: Vec<String> = step.commits.iter().map(|c| c.position.to_string()).collect();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "── step {} · +{} at [{}] · {} masked left · {:.1} ms",
                step.step + 1,
                step.commits.len(),
                positions.join(" "),
                left,
                step.millis
            );
            let _ = writeln!(err, "{}", self.render(canvas, step));
        } else if self.progress {
            eprint!("\rstep {} · {} masked left", step.step + 1, left);
        }
        ControlFlow::Continue(())
    }
}
