//! `unmask`: inspect a model directory, generate with any decoding algorithm, benchmark the engine, convert
//! (quantize) a model's weights.
//!
//! Output contract: `generate` prints the completion alone on stdout; everything for people (progress,
//! step views, summaries) goes to stderr. Any failure exits non-zero with one line on stderr.

mod backend;
mod bench;
mod convert;
mod generate;
mod inspect;
mod sandbox;
mod solve;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "unmask", version, about = "Watch a masked-diffusion model write code.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a model directory: architecture, parameters, dtypes, size.
    Inspect(inspect::Args),
    /// Fill the masked answer (and any <|mask|> holes in the prompt) and print the completion.
    Generate(generate::Args),
    /// Time the forward pass and a decoding step.
    Bench(bench::Args),
    /// Write a copy of a model with its weights in another format: q8/q4 quantized, f16 or f32.
    Convert(convert::Args),
    /// Sample many completions, keep those that pass the docstring's examples (run in a sandbox), group them by
    /// behaviour and print the best.
    Solve(solve::Args),
}

fn main() -> ExitCode {
    exit_quietly_when_stdout_closes();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = err.print();
                return if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            eprintln!("{}", one_line_clap_error(&err));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Solve(args) => solve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` joins the context chain on one line: "reading prompt.txt: No such file or directory".
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `unmask bench | head` closes stdout while unmask still prints, and the standard library's print macros
/// panic on the broken pipe. Exit instead, with the status a shell gives a process that SIGPIPE stopped
/// (128 + 13), as command-line tools do when their reader goes away.
fn exit_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// clap's first line ("error: invalid value 'x' for '--alg <ALG>'") plus the list of valid values where clap
/// gives one, without the usage block.
fn one_line_clap_error(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut first = lines.next().unwrap_or("error: invalid arguments").to_owned();
    if first.ends_with(':') {
        // "the following required arguments were not provided:" is followed by the arguments.
        let missing: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:")).collect();
        first = format!("{first} {}", missing.join(" "));
    }
    let detail = rendered
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("[possible values:") || l.starts_with("tip:"))
        .map(|l| format!(" {l}"))
        .unwrap_or_default();
    format!("{first}{detail}")
}
