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
fn an_urgent_trigger_says_so_first_in_its_detail_at_80_columns() {
    let mut app = demo_app();
    let title = app
        .snapshot
        .triggers
        .iter()
        .find(|t| t.urgent && !t.state.is_breach())
        .map(|t| t.title.clone())
        .expect("the demo has an urgent trigger that is not in breach");
    press(&mut app, KeyCode::Char('/'));
    for c in title.chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    let text = screen(&mut app, 80, 24);
    let head = text.lines().nth(1).unwrap_or_default();
    assert!(head.contains("URGENT"), "{text}");
    assert!(head.contains(&title[..20]), "{text}");
}

#[test]
fn a_crowded_header_drops_words_not_digits() {
    use capdeck::capacity::State;
    let mut app = demo_app();
    let states = [State::Critical, State::Scale, State::Scale, State::Stale]
        .into_iter()
        .chain(std::iter::repeat_n(State::Warn, 12));
    for (tr, st) in app.snapshot.triggers.iter_mut().zip(states) {
        tr.state = st;
    }
    let ok = app.snapshot.triggers.len() - 16;
    let wide = screen(&mut app, 160, 48);
    let head = wide.lines().next().unwrap_or_default().to_string();
    for want in [
        "1 CRIT",
        "2 SCALE",
        "12 WARN",
        "1 STALE",
        &format!("{ok} OK"),
        "sources ok",
    ] {
        assert!(head.contains(want), "{want:?} in {head}");
    }
    let narrow = screen(&mut app, 80, 24);
    let head = narrow.lines().next().unwrap_or_default().to_string();
    for want in [
        "✖1",
        "◆2",
        "▲12",
        "◌1",
        &format!("●{ok}"),
        "2026-12-01 14:00:00 UTC",
    ] {
        assert!(head.contains(want), "{want:?} in {head}");
    }
}

#[test]
fn every_state_word_and_the_pending_mark_fit_the_state_column_at_80_columns() {
    use capdeck::capacity::State;
    let mut app = demo_app();
    // The least headroom first: the first rows are the ones forced here.
    let forced = [
        (State::Warn, Some(State::Scale)),
        (State::Scale, Some(State::Critical)),
        (State::Unknown, None),
        (State::Stale, None),
    ];
    let titles: Vec<String> = app.snapshot.triggers[..forced.len()]
        .iter()
        .map(|t| t.title.chars().take(12).collect())
        .collect();
    for (tr, (st, pending)) in app.snapshot.triggers.iter_mut().zip(forced) {
        tr.state = st;
        tr.pending = pending;
        tr.urgent = false;
    }
    let text = screen(&mut app, 80, 24);
    for (title, want) in titles
        .iter()
        .zip(["◆ SCALE… ", "✖ CRIT… ", "? UNKN ", "◌ STALE "])
    {
        let row = text
            .lines()
            .find(|l| l.contains(title.as_str()))
            .unwrap_or_else(|| panic!("no row for {title}: {text}"));
        assert!(row.starts_with(want), "{want:?} in {row:?}");
    }
}

#[test]
fn a_source_that_went_down_says_for_how_long_and_since_when_within_80_columns() {
    let mut app = demo_app();
    // The demo answered at 14:00:00; five minutes on, three polls have
    // failed, the first at 14:01:40.
    let now = parse_rfc3339(NOW).unwrap() + 300_000;
    app.update(Message::Tick(now));
    for ago_s in [200, 100, 0] {
        app.update(Message::Source(SourceEvent::Answered(Answered {
            query: "database/pool".into(),
            source: "prom".into(),
            result: Err(capdeck::source::SourceError::Connect(
                "GET http://127.0.0.1:9090/api/v1/query: connection refused".into(),
            )),
            latency: std::time::Duration::from_millis(1),
            at_ms: now - ago_s * 1000,
            backfill: false,
            refill: false,
        })));
    }
    app.settle();
    let text = screen(&mut app, 80, 24);
    let banner = text.lines().nth(1).unwrap_or_default();
    assert!(
        banner.starts_with(" ⚠ prom down 3m  since 14:01:40 UTC · cannot connect"),
        "{banner:?}"
    );
}

#[test]
fn too_small_says_so() {
    let mut app = demo_app();
    let text = screen(&mut app, 50, 10);
    assert!(text.contains("terminal too small"), "{text}");
}

// The app's state machine, key by key (no terminal needed).

fn selected(app: &App) -> String {
    app.selected.clone().unwrap_or_default()
}

#[test]
fn selection_moves_and_follows_its_trigger() {
    let mut app = demo_app();
    let rows = app.rows();
    assert_eq!(app.selected_index(&rows), 0);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('j'));
    let key = selected(&app);
    assert_eq!(app.selected_index(&app.rows()), 2);
    // Grouping reorders the rows; the selection stays on the same trigger.
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(selected(&app), key);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Home);
    assert_eq!(app.selected_index(&app.rows()), 0);
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected_index(&app.rows()), app.rows().len() - 1);
    press(&mut app, KeyCode::Down);
    assert_eq!(
        app.selected_index(&app.rows()),
        app.rows().len() - 1,
        "the end stays the end"
    );
}

#[test]
fn open_back_and_domains() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, capdeck::tui::Screen::Trigger(_)));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, capdeck::tui::Screen::Overview);
    // Grouped, the first row is a domain: enter opens it, back returns.
    press(&mut app, KeyCode::Char('g'));
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, capdeck::tui::Screen::Domain(_)));
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, capdeck::tui::Screen::Trigger(_)));
    press(&mut app, KeyCode::Esc);
    assert!(
        matches!(app.screen, capdeck::tui::Screen::Domain(_)),
        "back goes where it came from"
    );
    press(&mut app, KeyCode::Char('h'));
    assert_eq!(app.screen, capdeck::tui::Screen::Overview);
}

#[test]
fn help_closes_on_any_key_and_quit_quits() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    press(&mut app, KeyCode::Char('j'));
    assert!(!app.help);
    assert_eq!(
        app.selected_index(&app.rows()),
        0,
        "the key that closed help did nothing else"
    );
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn filter_edits_keeps_and_clears() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Char('/'));
    assert!(app.editing_filter);
    for c in "lagx".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, "lag");
    assert!(!app.editing_filter);
    // q is a letter while typing, not quit.
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.quit);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "", "esc while typing clears");
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Char('z'));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "", "back clears a kept filter");
}

#[test]
fn zoom_stays_within_its_range() {
    let mut app = demo_app();
    press(&mut app, KeyCode::Enter);
    for _ in 0..20 {
        press(&mut app, KeyCode::Char('-'));
    }
    assert_eq!(app.zoom, capdeck::tui::app::ZOOMS.len() - 1);
    for _ in 0..20 {
        press(&mut app, KeyCode::Char('+'));
    }
    assert_eq!(app.zoom, 0);
    // Zoom keys do nothing on the overview.
    press(&mut app, KeyCode::Esc);
    assert!(!app.update(Message::Term(Event::Key(KeyEvent::new(
        KeyCode::Char('-'),
        KeyModifiers::NONE
    )))));
}

#[test]
fn releases_and_repeats_are_not_presses() {
    let mut app = demo_app();
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = crossterm::event::KeyEventKind::Release;
    app.update(Message::Term(Event::Key(release)));
    assert!(!app.quit);
}

#[test]
fn a_signal_quits() {
    let mut app = demo_app();
    app.update(Message::Signal("SIGHUP"));
    assert!(app.quit);
}

const EXTERNAL_CONFIG: &str = r#"
[[source]]
name = "billing"
kind = "json"
url = "http://127.0.0.1:9/"

[[domain]]
id = "images"
title = "Image generation"

  [[domain.trigger]]
  id = "spend"
  title = "Replicate spend today"
  source = "billing"
  query = "/v1/usage"
  pointer = "/spend"
  unit = "USD"
  capacity = 200
  scale = 0.8
  forecast = "none"
  external_forecast = { source = "billing", path = "/forecasts/spend.json", pointer = "/points" }
"#;

fn answered(query: &str, series: Vec<capdeck::source::SeriesData>, at_ms: i64) -> Message {
    Message::Source(SourceEvent::Answered(Answered {
        query: query.into(),
        source: "billing".into(),
        result: Ok(capdeck::source::Answer {
            series,
            ..Default::default()
        }),
        latency: std::time::Duration::from_millis(20),
        at_ms,
        backfill: true,
        refill: false,
    }))
}

#[test]
fn trigger_detail_with_an_external_forecast() {
    use capdeck::series::{Labels, Sample};
    use capdeck::source::SeriesData;
    let now = parse_rfc3339(NOW).unwrap();
    let config = parse(EXTERNAL_CONFIG, Origin::Embedded).unwrap().config;
    let keymap = KeyMap::new(&Default::default()).unwrap();
    let mut app = App::new(config, keymap, Theme::monochrome(), 0, now);
    let hour = 3_600_000;
    // A day of spend climbing from 100 to 130 USD…
    let history = (0..=24)
        .map(|h| Sample::new(now - (24 - h) * hour, 100.0 + 30.0 * h as f64 / 24.0))
        .collect();
    app.update(answered(
        "images/spend",
        vec![SeriesData {
            labels: Labels::new(),
            samples: history,
        }],
        now,
    ));
    // …and a nightly job's forecast that reaches the 160 USD scale line in
    // 8 h, its upper band in 5 h.
    let band = |name: &str, f: fn(f64) -> f64| {
        let mut labels = Labels::new();
        labels.insert("band".into(), name.into());
        SeriesData {
            labels,
            samples: (1..=12)
                .map(|h| Sample::new(now + h * hour, f(h as f64)))
                .collect(),
        }
    };
    app.update(answered(
        "images/spend#external",
        vec![
            band("value", |h| 130.0 + 3.75 * h),
            band("lower", |h| 130.0 + 2.0 * h),
            band("upper", |h| 130.0 + 6.0 * h),
        ],
        now,
    ));
    app.settle();
    press(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 100, 30);
    assert!(
        shown.contains("external forecast billing  reaches scale in 8h"),
        "{shown}"
    );
    insta::assert_snapshot!(shown);
}

#[test]
fn the_chance_of_breaching_within_the_lead_time_goes_with_the_eta() {
    use capdeck::forecast::Breach;
    let app = demo_app();
    let md = capdeck::report::markdown(&app.snapshot);
    let forecast: Vec<_> = app
        .snapshot
        .triggers
        .iter()
        .filter(|t| {
            t.lead_time_seconds > 0.0
                && matches!(
                    t.forecast.as_ref().map(|f| &f.breach),
                    Some(Breach::Forecast { .. })
                )
        })
        .collect();
    assert!(!forecast.is_empty(), "the demo forecasts some crossings");
    for t in forecast {
        let row = md
            .lines()
            .find(|l| l.contains(&format!("({})", t.key())))
            .expect("a row per trigger");
        let chance = capdeck::report::breach_chance_text(t).expect("a chance");
        assert!(chance.ends_with("lead time"), "{chance}");
        assert!(row.contains(&chance), "{row}");
    }
}
