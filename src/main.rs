//! capdeck's command line: which command, then hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

use capdeck::cli;

#[derive(Parser, Debug)]
#[command(
    name = "capdeck",
    version,
    about = "Terminal capacity cockpit: headroom, time to breach, scaling steps and runbooks"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Configuration file (default: ./capdeck.toml, then
    /// $XDG_CONFIG_HOME/capdeck/config.toml, then the embedded example).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Let the demo simulator stand in for every source.
    #[arg(long, global = true)]
    demo: bool,
    /// The demo simulator's seed.
    #[arg(long, global = true, value_name = "N")]
    seed: Option<u64>,
    /// Run demo time N times faster than real time (with --now: from that instant).
    #[arg(long, global = true, value_name = "N", value_parser = positive_speed)]
    speed: Option<f64>,
    /// Evaluate at this instant (RFC 3339) instead of now; the clock stands
    /// still unless --speed is given too.
    #[arg(long, global = true, value_name = "TIME")]
    now: Option<String>,
    /// Colour theme: a name from themes/ or a file.
    #[arg(long, global = true, value_name = "NAME")]
    theme: Option<String>,
    /// Draw charts with ASCII instead of Braille.
    #[arg(long, global = true)]
    ascii: bool,
    /// Capture the mouse.
    #[arg(long, global = true)]
    mouse: bool,
    /// Record every request and answer of every source to FILE (gzip JSON lines).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer every query from a recording made with --record: no network.
    /// With --speed N the recording plays N times faster.
    #[arg(long, global = true, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One line per trigger; exit 0 ok, 1 warn, 2 scale or critical, 3 unknown.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Capacity report: headroom, time to breach, due scaling steps, cost.
    Report {
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
    /// Prometheus alerting rules from the trigger definitions (`promtool check rules` passes).
    Rules,
    /// Backtest the forecasters on timestamp,value CSV files (MASE, sMAPE, coverage).
    Backtest {
        #[arg(required = true, value_name = "FILE.csv")]
        files: Vec<PathBuf>,
        /// Season lengths in points: auto (from the step), N, or N,M.
        #[arg(long, default_value = "auto")]
        season: String,
        /// Rows held out at the end: a percentage (10%) or a count.
        #[arg(long, default_value = "10%")]
        holdout: String,
        /// Rolling origins, each one horizon before the next.
        #[arg(long, default_value_t = 1)]
        origins: usize,
        /// Steps forecast per origin (default: the holdout).
        #[arg(long)]
        horizon: Option<usize>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Runbooks: list, lint, runs, journals and exports.
    Runbook {
        #[command(subcommand)]
        command: RunbookCommand,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate a configuration file (default: the one capdeck would use).
    Check { file: Option<PathBuf> },
}

#[derive(Subcommand, Debug)]
enum RunbookCommand {
    /// Every runbook: id, title, kind, objectives, triggers, last drill.
    List {
        /// Runbook folder (default: the configuration's runbooks.dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check runbook files or folders; prints file:line:col: message, exit 1 on any.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Start a run of a runbook (an id from the runbook folder, or a file).
    Start {
        runbook: String,
        /// An input, NAME=VALUE (repeatable).
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Start a drill: a run marked as a drill, commands simulated unless
    /// runbooks.drills_execute is set.
    Drill {
        runbook: String,
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Runs in the state folder, newest first.
    Runs {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Where a run is: its current step and what it waits for.
    Status {
        run: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a run's timeline and follow it live (like `tail -f`), until it finishes.
    Follow { run: String },
    /// Add a note to a run's journal.
    Note { run: String, text: String },
    /// Check a run's journal: every line readable, the hash chain intact.
    Verify { run: String },
    /// A run's timeline from its journal alone.
    Export {
        run: String,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
    /// Internal: the detached child that runs one command of a run.
    #[command(hide = true)]
    ExecChild {
        dir: PathBuf,
        step: String,
        action: usize,
    },
    /// Internal: append N notes to a journal, printing each acknowledged seq
    /// (used by the journal fault tests and benchmarks).
    #[command(hide = true)]
    JournalStress {
        file: PathBuf,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value = "stress")]
        tag: String,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Format {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ReportFormat {
    Md,
    Json,
}

/// A speed is a finite number above zero: 0 would stop the clock, which
/// is what `--now` alone is for.
fn positive_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a number above 0, such as 60".into()),
    }
}

fn options(g: &Global) -> Result<cli::Options> {
    let now_ms = g
        .now
        .as_deref()
        .map(capdeck::time::parse_rfc3339)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    Ok(cli::Options {
        config: g.config.clone(),
        demo: g.demo,
        seed: g.seed,
        speed: g.speed,
        now_ms,
        theme: g.theme.clone(),
        ascii: g.ascii,
        mouse: g.mouse,
        record: g.record.clone(),
        replay: g.replay.clone(),
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let opts = options(&cli.global)?;
    if cli.global.print_config {
        let loaded = cli::load(&opts)?;
        print!("{}", cli::effective_config_text(&loaded));
        return Ok(ExitCode::SUCCESS);
    }
    match cli.command {
        None => cli::tui(&opts),
        Some(Command::Check { format }) => cli::check(&opts, matches!(format, Format::Json)),
        Some(Command::Report { format }) => {
            cli::report(&opts, matches!(format, ReportFormat::Json))
        }
        Some(Command::Rules) => cli::rules(&opts),
        Some(Command::Backtest {
            files,
            season,
            holdout,
            origins,
            horizon,
            format,
        }) => cli::backtest(
            &files,
            &season,
            &holdout,
            origins,
            horizon,
            matches!(format, Format::Json),
        ),
        Some(Command::Runbook { command }) => run_runbook(&opts, command),
        Some(Command::Config {
            command: ConfigCommand::Check { file },
        }) => cli::config_check(file.as_deref().or(opts.config.as_deref())),
    }
}

fn run_runbook(opts: &cli::Options, command: RunbookCommand) -> Result<ExitCode> {
    match command {
        RunbookCommand::List { dir, format } => {
            cli::runbook_list(opts, dir.as_deref(), matches!(format, Format::Json))
        }
        RunbookCommand::Lint { paths } => cli::runbook_lint(opts, &paths),
        RunbookCommand::Start {
            runbook,
            inputs,
            dir,
        } => cli::runbook_start(opts, &runbook, &inputs, dir.as_deref(), false),
        RunbookCommand::Drill {
            runbook,
            inputs,
            dir,
        } => cli::runbook_start(opts, &runbook, &inputs, dir.as_deref(), true),
        RunbookCommand::Runs { format } => cli::runbook_runs(matches!(format, Format::Json)),
        RunbookCommand::Status { run, format } => {
            cli::runbook_status(opts, &run, matches!(format, Format::Json))
        }
        RunbookCommand::Note { run, text } => cli::runbook_note(opts, &run, &text),
        RunbookCommand::Follow { run } => cli::runbook_follow(&run),
        RunbookCommand::Verify { run } => cli::runbook_verify(&run),
        RunbookCommand::Export { run, format } => {
            cli::runbook_export(&run, matches!(format, ReportFormat::Json))
        }
        RunbookCommand::ExecChild { dir, step, action } => {
            cli::runbook_exec_child(&dir, &step, action)
        }
        RunbookCommand::JournalStress { file, count, tag } => {
            cli::runbook_journal_stress(&file, count, &tag)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `check` speaks the Nagios convention: a failure to check is UNKNOWN.
    let failure = if matches!(cli.command, Some(Command::Check { .. })) {
        3
    } else {
        1
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("capdeck: {e:#}");
            ExitCode::from(failure)
        }
    }
}
