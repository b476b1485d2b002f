//! The terminal face: one message loop over terminal events, poll answers,
//! clock ticks and signals; pure render functions over the `App` state.

pub mod app;
pub mod keymap;
pub mod run_view;
pub mod runs;
pub mod theme;
pub mod view;
pub mod widgets;

use std::io::{Stdout, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::Options;
use crate::config::Loaded;
use crate::forecast::ForecastRequest;
use crate::source::{Poller, trigger_queries};

pub use app::{App, Message, Screen, UiEffect};

/// OSC 52: put `text` on the clipboard of the terminal the operator sits
/// at, through SSH; inside tmux, wrapped so tmux passes it on.
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\x1b]52;c;{b64}\x07");
    if std::env::var_os("TMUX").is_some() {
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
    } else {
        seq
    }
}
use keymap::KeyMap;
use theme::{ColorSupport, Theme};

/// Puts the terminal back as it was. Safe to call more than once, and on a
/// terminal that is gone (a dropped SSH session): errors are ignored.
fn restore_terminal(mouse: bool) {
    let mut out = std::io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal when dropped, so every exit path (return, `?`,
/// unwinding) leaves the shell usable.
struct TerminalGuard {
    mouse: bool,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal(self.mouse);
    }
}

fn setup_terminal(mouse: bool) -> Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
    enable_raw_mode().context("cannot put the terminal in raw mode")?;
    let guard = TerminalGuard { mouse };
    let mut out = std::io::stdout();
    execute!(out, EnterAlternateScreen, cursor::Hide)
        .context("cannot enter the alternate screen")?;
    if mouse {
        execute!(out, EnableMouseCapture).context("cannot capture the mouse")?;
    }
    // On panic: restore first, so the message lands on a sane terminal.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal(mouse);
        previous(info);
    }));
    let terminal = Terminal::new(CrosstermBackend::new(out)).context("cannot start drawing")?;
    Ok((guard, terminal))
}

/// Draws one frame inside a synchronized update, so a slow link never shows
/// half a frame.
fn draw(terminal: &mut Terminal<CrosstermBackend<Stdout>>, app: &mut App) -> Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| view::draw(f, app))?;
    queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()?;
    Ok(())
}

/// Reads terminal events until the loop is gone or the terminal is.
fn read_input(tx: mpsc::UnboundedSender<Message>) {
    loop {
        match crossterm::event::poll(Duration::from_millis(250)) {
            Ok(true) => match crossterm::event::read() {
                Ok(e) => {
                    if tx.send(Message::Term(e)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            },
            Ok(false) if tx.is_closed() => return,
            Ok(false) => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Message::Signal("terminal closed"));
}

fn spawn_signal_listeners(tx: &mpsc::UnboundedSender<Message>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
    ] {
        let mut s = signal(kind).with_context(|| format!("cannot listen for {name}"))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            if s.recv().await.is_some() {
                let _ = tx.send(Message::Signal(name));
            }
        });
    }
    Ok(())
}

pub fn run(loaded: Loaded, opts: &Options) -> Result<()> {
    let clock = opts.clock();
    // Recording (--record) and replay (--replay) wrap the sources here.
    let (sources, _recorder) = crate::cli::sources_for(&loaded, opts, &clock)?;
    let runbooks_dir = runs::runbooks_folder(&loaded);
    let config = loaded.config;
    let theme =
        Theme::load(&config.cockpit.theme, ColorSupport::detect()).map_err(anyhow::Error::msg)?;
    let keymap = KeyMap::new(&config.keys).map_err(|e| anyhow!("{}: {e}", loaded.origin))?;
    let (_log_guard, log_path) = crate::logging::init().map_err(anyhow::Error::msg)?;
    let queries = trigger_queries(&config);
    let mouse = config.cockpit.mouse;
    tracing::info!(origin = %loaded.origin, queries = queries.len(), log = %log_path.display(), "cockpit starting");

    let rt = crate::cli::runtime()?;
    rt.block_on(async move {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let cancel = CancellationToken::new();
        spawn_signal_listeners(&tx)?;
        let (_guard, mut terminal) = setup_terminal(mouse)?;

        let mut app = App::new(config.clone(), keymap, theme, queries.len(), clock.now_ms());
        app.clock_speed = clock.speed();
        app.runbooks_dir = runbooks_dir;
        // Runs left open by a killed or disconnected session are offered at once.
        app.reload_catalog();
        draw(&mut terminal, &mut app)?;

        // Terminal input, on a thread of its own rather than an async
        // stream: on a hung-up terminal the reader can spin, and it must
        // never take a runtime worker with it (the clock's redraw then finds
        // the terminal gone and the loop ends).
        let input_tx = tx.clone();
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || read_input(input_tx))
            .context("cannot start the input thread")?;

        // The clock: one tick a second, on the second.
        let tick_tx = tx.clone();
        let tick_cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                let now = clock.now_ms();
                let real_ms = ((1000 - now.rem_euclid(1000)) as f64 / clock.speed().max(1.0))
                    .max(50.0) as u64;
                tokio::select! {
                    _ = tick_cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(real_ms)) => {
                        if tick_tx.send(Message::Tick(clock.now_ms())).is_err() { break; }
                    }
                }
            }
        });

        // The sources.
        let poll_tx = tx.clone();
        let sink: crate::source::Sink = Arc::new(move |e| {
            let _ = poll_tx.send(Message::Source(e));
        });
        let poller = Arc::new(Poller::new(&config, sources));
        poller
            .clone()
            .spawn(queries, clock, sink.clone(), cancel.clone());
        // The open run's watch queries and journal follower.
        let mut watching: Option<(CancellationToken, crate::runbook::journal::Watch)> = None;

        // Forecasts fit on their own thread, one at a time: a slow fit never
        // delays a key press, and results come back as messages.
        let (fit_tx, fit_rx) = std::sync::mpsc::channel::<(String, ForecastRequest)>();
        let fit_out = tx.clone();
        std::thread::Builder::new()
            .name("forecast".into())
            .spawn(move || {
                while let Ok((key, req)) = fit_rx.recv() {
                    let f = crate::forecast::forecast_trigger(&req);
                    drop(req);
                    // A fit allocates megabytes for a moment; hand them back
                    // to the system instead of keeping them in this thread's
                    // malloc arena for the life of the cockpit.
                    // SAFETY: malloc_trim only releases free heap memory.
                    unsafe {
                        libc::malloc_trim(0);
                    }
                    if fit_out.send(Message::Forecast(key, Box::new(f))).is_err() {
                        break;
                    }
                }
            })
            .context("cannot start the forecast thread")?;
        let journal_tx = tx.clone();
        drop(tx);

        // One loop: block for a message, drain the queue, draw once.
        while let Some(msg) = rx.recv().await {
            let mut redraw = app.update(msg);
            while let Ok(more) = rx.try_recv() {
                redraw |= app.update(more);
            }
            if app.quit {
                break;
            }
            app.settle();
            for job in app.jobs.drain(..) {
                let _ = fit_tx.send(job);
            }
            for effect in std::mem::take(&mut app.effects) {
                match effect {
                    UiEffect::Copy(text) => {
                        let _ = write!(terminal.backend_mut(), "{}", osc52(&text));
                        let _ = terminal.backend_mut().flush();
                    }
                    UiEffect::Watch { dir, queries } => {
                        if let Some((token, _)) = watching.take() {
                            token.cancel();
                        }
                        let token = cancel.child_token();
                        poller
                            .clone()
                            .spawn(queries, clock, sink.clone(), token.clone());
                        let journal_tx = journal_tx.clone();
                        let watch = crate::runbook::session::watch_changes(&dir, move || {
                            let _ = journal_tx.send(Message::Journal);
                        });
                        watching = Some((token, watch));
                    }
                    UiEffect::Unwatch => {
                        if let Some((token, _)) = watching.take() {
                            token.cancel();
                        }
                    }
                }
            }
            if redraw && let Err(e) = draw(&mut terminal, &mut app) {
                // A dropped SSH session: nobody is left to show anything to.
                tracing::info!("terminal gone ({e:#}); stopping");
                break;
            }
        }
        cancel.cancel();
        // Colleagues in the run see that this session left.
        if let Some(p) = app.run.as_mut() {
            let _ = p.session.send(crate::runbook::Event::Leave, app.now_ms);
        }
        tracing::info!("cockpit stopped");
        Ok(())
    })
}
