//! Screen snapshots on ratatui's TestBackend: the demo platform at a fixed
//! seed and clock, drawn with the monochrome theme.

use std::sync::OnceLock;

use capdeck::config::{Config, EMBEDDED_EXAMPLE, Origin, parse};
use capdeck::forecast::{TriggerForecast, forecast_trigger};
use capdeck::source::{Answered, Poller, SourceEvent, build_sources, trigger_queries};
use capdeck::time::{Clock, parse_rfc3339};
use capdeck::tui::keymap::KeyMap;
use capdeck::tui::theme::Theme;
use capdeck::tui::{App, Message, view};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A busy weekday afternoon, so the list shows several states.
const NOW: &str = "2026-12-01T14:00:00Z";

fn config() -> Config {
    parse(EMBEDDED_EXAMPLE, Origin::Embedded)
        .unwrap()
        .config
        .with_demo(Some(1))
}

type Fixture = (Vec<Answered>, Vec<(String, TriggerForecast)>);

/// The demo's answers and the forecasts fitted on them, computed once for
/// all tests (fitting is the slow part).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = parse_rfc3339(NOW).unwrap();
        let config = config();
        let clock = Clock::fixed(now);
        let sources = build_sources(&config, &clock).unwrap();
        let queries = trigger_queries(&config);
        let poller = Poller::new(&config, sources);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answers = rt.block_on(poller.collect_once(&queries, &clock));
        let keymap = KeyMap::new(&Default::default()).unwrap();
        let mut app = App::new(config, keymap, Theme::monochrome(), 0, now);
        for a in answers.clone() {
            app.update(Message::Source(SourceEvent::Answered(a)));
        }
        app.settle();
        let fits = app
            .jobs
            .drain(..)
            .map(|(k, r)| (k, forecast_trigger(&r)))
            .collect();
        (answers, fits)
    })
}

fn demo_app() -> App {
    let now = parse_rfc3339(NOW).unwrap();
    let (answers, fits) = fixture();
    let keymap = KeyMap::new(&Default::default()).unwrap();
    let mut app = App::new(
        config(),
        keymap,
        Theme::monochrome(),
        answers.len() / 2,
        now,
    );
    for a in answers.clone() {
        app.update(Message::Source(SourceEvent::Answered(a)));
    }
    app.settle();
    app.jobs.clear();
    for (k, f) in fits {
        app.update(Message::Forecast(k.clone(), Box::new(f.clone())));
    }
    app.settle();
    assert!(app.jobs.is_empty(), "no refit is due right after a fit");
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Message::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
    app.settle();
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn overview_80x24() {
    let mut app = demo_app();
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn overview_160x48() {
    let mut app = demo_app();
    insta::assert_snapshot!(screen(&mut app, 160, 48));
}

#[test]
fn overview_grouped_by_domain() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('g'));
    insta::assert_snapshot!(screen(&mut app, 100, 30));
}

#[test]
fn trigger_detail() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!(screen(&mut app, 100, 30));
}

#[test]
fn trigger_detail_ascii_with_rows() {
    let mut app = demo_app();
    app.ascii = true;
    // The first row at this time is the per-tenant quota, a `by` trigger.
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!(screen(&mut app, 80, 30));
}

#[test]
fn help_screen() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(screen(&mut app, 80, 24));
}

#[test]
fn sources_screen() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('s'));
    insta::assert_snapshot!(screen(&mut app, 100, 12));
}

#[test]
fn filter_narrows_the_list() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('/'));
    for c in "storage".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("Database storage"), "{text}");
    assert!(text.contains("Object storage"), "{text}");
    assert!(!text.contains("Pooled connections"), "{text}");
}

#[test]
fn too_small_says_so() {
    let mut app = demo_app();
    let text = screen(&mut app, 50, 10);
    assert!(text.contains("terminal too small"), "{text}");
}
