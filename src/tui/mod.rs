//! The terminal face: one message loop over terminal events, poll answers,
//! clock ticks and signals; pure render functions over the `App` state.

pub mod app;
pub mod keymap;
pub mod theme;
pub mod view;
pub mod widgets;

use std::io::{Stdout, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::Options;
use crate::config::Loaded;
use crate::forecast::ForecastRequest;
use crate::source::{Poller, trigger_queries};

pub use app::{App, Message, Screen};
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
        draw(&mut terminal, &mut app)?;

        // Terminal input.
        let input_tx = tx.clone();
        let input_cancel = cancel.clone();
        tokio::spawn(async move {
            let mut events = EventStream::new();
            loop {
                tokio::select! {
                    _ = input_cancel.cancelled() => break,
                    ev = events.next() => match ev {
                        Some(Ok(e)) => { let _ = input_tx.send(Message::Term(e)); }
                        // The terminal is gone: treat it like a hang-up.
                        Some(Err(_)) | None => { let _ = input_tx.send(Message::Signal("terminal closed")); break; }
                    }
                }
            }
        });

        // The clock: one tick a second, on the second.
        let tick_tx = tx.clone();
        let tick_cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                let now = clock.now_ms();
                let real_ms = ((1000 - now.rem_euclid(1000)) as f64 / clock.speed().max(1.0)).max(50.0) as u64;
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
        Arc::new(Poller::new(&config, sources)).spawn(queries, clock, sink, cancel.clone());

        // Forecasts fit on their own thread, one at a time: a slow fit never
        // delays a key press, and results come back as messages.
        let (fit_tx, fit_rx) = std::sync::mpsc::channel::<(String, ForecastRequest)>();
        let fit_out = tx.clone();
        std::thread::Builder::new()
            .name("forecast".into())
            .spawn(move || {
                while let Ok((key, req)) = fit_rx.recv() {
                    let f = crate::forecast::forecast_trigger(&req);
                    if fit_out.send(Message::Forecast(key, Box::new(f))).is_err() {
                        break;
                    }
                }
            })
            .context("cannot start the forecast thread")?;
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
            if redraw {
                draw(&mut terminal, &mut app)?;
            }
        }
        cancel.cancel();
        tracing::info!("cockpit stopped");
        Ok(())
    })
}
