//! Screen snapshots on ratatui's TestBackend: the demo platform at a fixed
//! seed and clock, drawn with the monochrome theme.

use capdeck::config::{EMBEDDED_EXAMPLE, Origin, parse};
use capdeck::source::{Poller, SourceEvent, build_sources, trigger_queries};
use capdeck::time::{Clock, parse_rfc3339};
use capdeck::tui::keymap::KeyMap;
use capdeck::tui::theme::Theme;
use capdeck::tui::{App, Message, view};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A busy weekday afternoon, so the list shows several states.
const NOW: &str = "2026-12-01T14:00:00Z";

fn demo_app() -> App {
    let now = parse_rfc3339(NOW).unwrap();
    let config = parse(EMBEDDED_EXAMPLE, Origin::Embedded)
        .unwrap()
        .config
        .with_demo(Some(1));
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
    let mut app = App::new(config, keymap, Theme::monochrome(), queries.len(), now);
    for a in answers {
        app.update(Message::Source(SourceEvent::Answered(a)));
    }
    app.settle();
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
