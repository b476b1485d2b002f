//! Render functions: pure, from the `App` view model to a frame. No IO, no
//! clock reads, no locks: what is drawn depends on the state alone.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};

use crate::capacity::{State, TriggerStatus, value_query};
use crate::report::eta_text;
use crate::time::human_secs;
use crate::units::{format_value, money, percent};

use super::app::{App, ListRow, Screen, ZOOMS};
use super::keymap::{ACTIONS, Action, Scope};
use super::widgets::{ascii_chart, bar, bucket_max, sparkline};

/// Smallest terminal the cockpit draws in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format_value(v, unit))
        .unwrap_or_else(|| "—".into())
}

/// The whole screen.
///
/// ```text
/// ┌ header: platform · state counts · sources · clock ─────────────┐
/// │ banner (only when a source fails)                             │
/// │ body: overview list | trigger detail | domain | sources       │
/// │ footer: this screen's keys, or the filter being typed         │
/// └────────────────────────────────────────────────────────────────┘
/// ```
pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small: {}×{}, capdeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg)
                .wrap(Wrap { trim: true })
                .style(app.theme.warn),
            area,
        );
        return;
    }
    let failing: Vec<_> = app.snapshot.sources.iter().filter(|s| !s.ok).collect();
    let drill = app
        .run
        .as_ref()
        .filter(|p| p.session.run.drill && p.session.run.finished.is_none());
    let banner_h = failing.len().min(2) as u16 + u16::from(drill.is_some());
    let [header, banner, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app);
    if banner_h > 0 {
        let mut lines: Vec<Line> = failing
            .iter()
            .take(2)
            .map(|s| {
                // How long and since when first, the error after: at 80
                // columns the error's tail is what gets cut.
                let since = s.down_since.or(s.last_error_at);
                let down = since
                    .map(|t| format!(" down {}", human_secs(((app.now_ms - t) / 1000) as f64)))
                    .unwrap_or_else(|| " failing".into());
                let at = since
                    .map(|t| {
                        let long = app.now_ms - t >= 86_400_000;
                        format!(" since {} ·", time_of_day_text(app, t, long))
                    })
                    .unwrap_or_default();
                Line::from(vec![
                    Span::styled(
                        format!(" {} {}{down} ", app.theme_glyph_down(), s.name),
                        app.theme.critical,
                    ),
                    Span::styled(
                        format!("{at} {}", s.last_error.as_deref().unwrap_or("failing")),
                        app.theme.text,
                    ),
                ])
            })
            .collect();
        if let Some(p) = drill {
            lines.push(Line::from(Span::styled(
                format!(
                    " DRILL in progress: {} — commands are simulated unless drills_execute ",
                    p.session.run.runbook.meta.id
                ),
                app.theme.warn.add_modifier(Modifier::REVERSED),
            )));
        }
        f.render_widget(Paragraph::new(lines), banner);
    }
    match app.screen.clone() {
        Screen::Overview | Screen::Domain(_) => draw_list(f, body, app),
        Screen::Trigger(key) => draw_detail(f, body, app, &key),
        Screen::Sources => draw_sources(f, body, app),
        Screen::Runbooks => super::run_view::draw_runbooks(f, body, app),
        Screen::Run => super::run_view::draw_run(f, body, app),
    }
    draw_footer(f, footer, app);
    if app.start_form.is_some() {
        super::run_view::draw_start_form(f, area, app);
    }
    if app.help {
        draw_help(f, area, app);
    }
}

impl App {
    fn theme_glyph_down(&self) -> &'static str {
        if self.ascii { "!!" } else { "⚠" }
    }
}

/// `2026-12-03 14:05:09 UTC` in the configured zone.
fn clock_text(app: &App, ms: i64) -> String {
    time_of_day_text(app, ms, true)
}

/// `14:05:09 UTC` in the configured zone; with the date in front when
/// `with_date`.
fn time_of_day_text(app: &App, ms: i64, with_date: bool) -> String {
    let utc = crate::time::to_datetime(ms);
    let fmt = if with_date {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%H:%M:%S"
    };
    match app.config.cockpit.timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => utc
            .with_timezone(&tz)
            .format(&format!("{fmt} %Z"))
            .to_string(),
        Err(_) => format!("{} UTC", utc.format(fmt)),
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App) {
    // Full words when they fit; otherwise glyphs and counts only, so a
    // narrow terminal loses words, never a digit of a count.
    let (mut left, mut right) = (header_left(app, false), header_right(app, false));
    if left.width() + right.width() > area.width as usize {
        (left, right) = (header_left(app, true), header_right(app, true));
    }
    let rw = right.width() as u16;
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(rw)]).areas(area);
    f.render_widget(Paragraph::new(left), l);
    f.render_widget(Paragraph::new(right), r);
}

/// The platform, the count of triggers per state, open runs and backfill.
fn header_left(app: &App, compact: bool) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![Span::styled(
        format!(" {} ", app.snapshot.platform),
        t.title.add_modifier(Modifier::BOLD),
    )];
    let count = |st: State| {
        app.snapshot
            .triggers
            .iter()
            .filter(|x| x.state == st)
            .count()
    };
    let state_text = |st: State, n: usize| {
        if compact {
            format!(" {}{n}", st.glyph(app.ascii))
        } else {
            format!(" {} {n} {} ", st.glyph(app.ascii), st.word())
        }
    };
    for st in [State::Critical, State::Scale, State::Warn, State::Stale] {
        let n = count(st);
        if n > 0 {
            spans.push(Span::styled(state_text(st, n), t.state(st)));
        }
    }
    spans.push(Span::styled(state_text(State::Ok, count(State::Ok)), t.ok));
    let open_runs = app
        .catalog
        .iter()
        .filter(|r| matches!(r, super::runs::CatalogRow::Run(_)))
        .count();
    if open_runs > 0 {
        let text = if compact {
            format!(" ▶{open_runs}")
        } else {
            format!(
                " ▶ {open_runs} open run{} ({}) ",
                if open_runs == 1 { "" } else { "s" },
                app.keymap.first_key(Action::Runbooks)
            )
        };
        spans.push(Span::styled(text, t.warn));
    }
    if app.backfilling > 0 {
        let done = app.queries - app.backfilling;
        let text = if compact {
            format!(" bf {done}/{}", app.queries)
        } else {
            format!(" backfilling {done}/{} ", app.queries)
        };
        spans.push(Span::styled(text, t.muted));
    }
    Line::from(spans)
}

/// Source health, the clock and its speed.
fn header_right(app: &App, compact: bool) -> Line<'static> {
    let t = &app.theme;
    let down = app.snapshot.sources.iter().filter(|s| !s.ok).count();
    let sources = match (down, compact) {
        (0, true) => Span::raw(" "),
        (0, false) => Span::styled(
            format!("sources ok ({}) ", app.snapshot.sources.len()),
            t.muted,
        ),
        (n, true) => Span::styled(format!(" {n} down "), t.critical),
        (n, false) => Span::styled(format!("{n} source(s) down "), t.critical),
    };
    let speed = if app.clock_speed > 1.0 {
        format!(" ×{}", app.clock_speed)
    } else {
        String::new()
    };
    Line::from(vec![
        sources,
        Span::styled(format!("{}{speed} ", clock_text(app, app.now_ms)), t.header),
    ])
}

fn footer_items(app: &App) -> Vec<(String, &'static str)> {
    let k = |a: Action| app.keymap.first_key(a);
    let mut items = Vec::new();
    match &app.screen {
        Screen::Overview | Screen::Domain(_) => {
            items.push((format!("{}{}", k(Action::Up), k(Action::Down)), "move"));
            items.push((k(Action::Open), "open"));
            items.push((k(Action::Filter), "filter"));
            if matches!(app.screen, Screen::Overview) {
                items.push((k(Action::Group), if app.grouped { "sort" } else { "group" }));
            }
            items.push((k(Action::Sources), "sources"));
            items.push((k(Action::Runbooks), "runbooks"));
            if app.rows().get(app.selected_index(&app.rows())).is_some_and(
                |r| matches!(r, ListRow::Trigger(i) if app.snapshot.triggers[*i].runbook.is_some()),
            ) {
                items.push((k(Action::TriggerRunbook), "its runbook"));
            }
        }
        Screen::Trigger(_) => {
            items.push((
                format!("{}{}", k(Action::ZoomIn), k(Action::ZoomOut)),
                "zoom",
            ));
            items.push((k(Action::Refit), "refit"));
            items.push((k(Action::TriggerRunbook), "runbook"));
        }
        Screen::Sources => {}
        Screen::Runbooks => {
            items.push((format!("{}{}", k(Action::Up), k(Action::Down)), "move"));
            items.push((k(Action::Open), "start/resume"));
            items.push((k(Action::Drill), "drill"));
        }
        Screen::Run => {
            for (key, what) in [
                ("enter", "do"),
                ("x", "run"),
                ("c", "copy"),
                ("o", "override"),
                ("n", "note"),
                ("m", "mark"),
            ] {
                items.push((key.to_string(), what));
            }
        }
    }
    if !matches!(app.screen, Screen::Overview) || !app.filter.is_empty() {
        items.push((k(Action::Back), "back"));
    }
    items.push((k(Action::Help), "help"));
    items.push((k(Action::Quit), "quit"));
    items
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    if app.editing_filter {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.accent),
            Span::styled(format!("{}▏", app.filter), t.text),
            Span::styled("  enter keep · esc clear", t.muted),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    if let Some(n) = &app.notice {
        spans.push(Span::styled(format!(" {n} "), t.critical));
    }
    if !app.filter.is_empty() {
        spans.push(Span::styled(format!(" filter “{}” ", app.filter), t.accent));
    }
    for (key, what) in footer_items(app) {
        spans.push(Span::styled(format!(" {key}"), t.accent));
        spans.push(Span::styled(format!(" {what} "), t.muted));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The series a trigger's line and chart are drawn from: for `by`
/// triggers, the row shown first (the most utilised).
fn shown_series<'a>(app: &'a App, t: &TriggerStatus) -> Option<&'a crate::series::Series> {
    let (d, tr) = app
        .config
        .triggers()
        .find(|(d, tr)| d.id == t.domain && tr.id == t.id)?;
    let series = app.obs.store.of_query(&value_query(d, tr));
    let by = tr.by.as_deref();
    let first_row = t.rows.first().map(|r| r.label.as_str());
    series
        .iter()
        .find(|(labels, _)| by.is_some_and(|b| labels.get(b).map(String::as_str) == first_row))
        .or(series.first())
        .map(|(_, s)| *s)
}

/// The sparkline's text for a trigger: its value over the last day.
fn trend(app: &App, t: &TriggerStatus, width: usize) -> String {
    let Some(s) = shown_series(app, t) else {
        return " ".repeat(width);
    };
    let to = app.now_ms;
    let from = to - 86_400_000;
    let buckets = bucket_max(s.since(from), from, to, width);
    sparkline(&buckets, t.capacity.unwrap_or(1.0), app.ascii)
}

fn draw_list(f: &mut Frame, area: Rect, app: &mut App) {
    let rows = app.rows();
    let t = app.theme.clone();
    let wide = area.width >= 140;
    let mid = area.width >= 90;
    let title = match &app.screen {
        Screen::Domain(d) => app
            .snapshot
            .domains
            .iter()
            .find(|x| &x.id == d)
            .map(|x| format!(" {} ", x.title))
            .unwrap_or_default(),
        _ if app.grouped => " Triggers by domain ".into(),
        _ => " Triggers, least headroom first ".into(),
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(t.border)
        .title(Span::styled(title, t.header));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if rows.is_empty() {
        let msg = if app.filter.is_empty() {
            "no triggers configured"
        } else {
            "no trigger matches the filter"
        };
        f.render_widget(Paragraph::new(format!(" {msg}")).style(t.muted), inner);
        return;
    }
    let visible = inner.height.saturating_sub(1) as usize;
    app.page = visible.max(1);
    let sel = app.selected_index(&rows);
    let offset = if sel >= visible { sel + 1 - visible } else { 0 };

    let bar_w = if wide { 10 } else { 5 };
    let mut widths = vec![
        // Glyph, a word of up to five letters and the pending ellipsis.
        Constraint::Length(8), // state
        if wide {
            Constraint::Min(30)
        } else {
            Constraint::Min(16)
        }, // trigger
        Constraint::Length(if wide {
            22
        } else if mid {
            17
        } else {
            15
        }), // value / capacity
        Constraint::Length(bar_w as u16 + 6), // used
        Constraint::Length(if wide { 18 } else { 8 }), // headroom
    ];
    let value_head = if mid {
        "VALUE / CAPACITY"
    } else {
        "VALUE / CAP"
    };
    let mut header = vec!["STATE", "TRIGGER", value_head, "USED", "HEADROOM"];
    if mid {
        widths.push(Constraint::Length(if wide { 20 } else { 17 }));
        header.push("ETA p50 [p10–p90]");
    } else {
        widths.push(Constraint::Length(6));
        header.push("ETA");
    }
    let spark_w = if wide {
        16
    } else if mid {
        12
    } else {
        8
    };
    widths.push(Constraint::Length(spark_w as u16));
    header.push("LAST 24H");
    // The scaling step needs room to be read; below that it is left out.
    let with_step = wide && area.width >= 150;
    if with_step {
        widths.push(Constraint::Length(
            (area
                .width
                .saturating_sub(30 + 22 + 16 + 18 + 20 + 16 + 7 + 8))
            .max(20),
        ));
        header.push("SCALING STEP");
    }

    let mut table_rows = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(offset).take(visible) {
        let selected = i == sel;
        let row = match r {
            ListRow::Domain(d) => {
                let dom = app.snapshot.domains.iter().find(|x| &x.id == d);
                let (title, st, n) = dom
                    .map(|x| (x.title.clone(), x.state, x.triggers))
                    .unwrap_or((String::new(), State::Unknown, 0));
                Row::new(vec![
                    Cell::from(Span::styled(
                        format!("{} {}", st.glyph(app.ascii), st.short()),
                        t.state(st),
                    )),
                    Cell::from(Span::styled(format!("{title} ({n})"), t.header)),
                ])
            }
            ListRow::Trigger(idx) => {
                let tr = &app.snapshot.triggers[*idx];
                let muted = matches!(tr.state, State::Stale | State::Unknown);
                let base = if muted { t.muted } else { t.text };
                // A worse state waiting for `for` is shown as that state with an
                // ellipsis: the threshold is crossed, the hold has not passed.
                let (shown, state_text) = match tr.pending {
                    _ if tr.urgent && !tr.state.is_breach() => (
                        State::Scale,
                        format!("{} URG", State::Scale.glyph(app.ascii)),
                    ),
                    Some(p) if !muted => (p, format!("{} {}…", p.glyph(app.ascii), p.short())),
                    _ => (
                        tr.state,
                        format!("{} {}", tr.state.glyph(app.ascii), tr.state.short()),
                    ),
                };
                let name = if app.grouped || matches!(app.screen, Screen::Domain(_)) {
                    format!("  {}", tr.title)
                } else if wide {
                    format!("{} · {}", tr.title, tr.domain_title)
                } else {
                    tr.title.clone()
                };
                let value = match (tr.value, tr.capacity) {
                    (Some(_), _) | (_, Some(_)) => {
                        value_of_capacity(tr.value, tr.capacity, &tr.unit, wide)
                    }
                    _ => tr.error.clone().unwrap_or_else(|| "no data yet".into()),
                };
                let used = match tr.utilization {
                    Some(u) => format!("{} {:>5}", bar(u, bar_w, app.ascii), percent(u)),
                    None => "—".into(),
                };
                let headroom = match (tr.headroom, tr.headroom_pct) {
                    (Some(h), Some(p)) if wide => {
                        format!("{} ({})", format_value(h, &tr.unit), percent(p))
                    }
                    (_, Some(p)) => percent(p),
                    _ => "—".into(),
                };
                let mut cells = vec![
                    Cell::from(Span::styled(
                        state_text,
                        if shown == tr.state {
                            t.state(shown)
                        } else {
                            t.state(shown).remove_modifier(Modifier::BOLD)
                        },
                    )),
                    Cell::from(Span::styled(name, base)),
                    Cell::from(Span::styled(value, base)),
                    Cell::from(Span::styled(
                        used,
                        if muted { t.muted } else { t.state(tr.state) },
                    )),
                    Cell::from(Span::styled(headroom, base)),
                ];
                if !mid {
                    cells.push(Cell::from(Span::styled(
                        crate::report::eta_short(tr),
                        if tr.urgent { t.scale } else { t.forecast },
                    )));
                }
                if mid {
                    cells.push(Cell::from(Span::styled(
                        eta_text(tr),
                        if tr.urgent { t.scale } else { t.forecast },
                    )));
                }
                cells.push(Cell::from(Span::styled(
                    trend(app, tr, spark_w),
                    if muted { t.muted } else { t.state(tr.state) },
                )));
                if with_step {
                    let step = tr
                        .policy
                        .as_ref()
                        .map(|p| {
                            if p.due {
                                format!("DUE: {}", p.action)
                            } else {
                                p.action.clone()
                            }
                        })
                        .unwrap_or_default();
                    let due = tr.policy.as_ref().is_some_and(|p| p.due);
                    cells.push(Cell::from(Span::styled(
                        step,
                        if due { t.scale } else { t.muted },
                    )));
                }
                Row::new(cells)
            }
        };
        table_rows.push(if selected {
            row.style(t.selection)
        } else {
            row
        });
    }
    let table = Table::new(table_rows, widths)
        .header(Row::new(
            header
                .into_iter()
                .map(|h| Cell::from(Span::styled(h, t.muted))),
        ))
        .column_spacing(1);
    f.render_widget(table, inner);
}

/// `386 GiB / 500 GiB`, or `11.4k / 25.0k sessions` with the unit once
/// (left out when narrow; bytes keep their prefixes, which carry meaning).
fn value_of_capacity(v: Option<f64>, c: Option<f64>, unit: &str, wide: bool) -> String {
    let bytes = unit == "B" || unit.starts_with("B/");
    if !wide
        && bytes
        && let (Some(v), Some(c)) = (v, c)
    {
        return format!("{}{}", crate::units::iec_pair(v, c), &unit[1..]);
    }
    if bytes || (wide && unit == "%") {
        return format!("{} / {}", opt(v, unit), opt(c, unit));
    }
    let bare = |x: Option<f64>| x.map(|x| format_value(x, "")).unwrap_or_else(|| "—".into());
    if wide && !unit.is_empty() {
        format!("{} / {} {unit}", bare(v), bare(c))
    } else {
        format!("{} / {}", bare(v), bare(c))
    }
}

fn draw_detail(f: &mut Frame, area: Rect, app: &App, key: &str) {
    let t = &app.theme;
    let Some(tr) = app.snapshot.trigger(key) else {
        f.render_widget(
            Paragraph::new(format!(" trigger {key} is no longer configured")).style(t.muted),
            area,
        );
        return;
    };
    let mut head = vec![Span::styled(
        format!(" {} {} ", tr.state.glyph(app.ascii), tr.state.word()),
        t.state(tr.state),
    )];
    // Urgent goes first, where an 80-column screen still shows it: the
    // forecast line it explains is the one that gets cut.
    if tr.urgent && !tr.state.is_breach() {
        head.push(Span::styled(
            format!(" {} URGENT ", State::Scale.glyph(app.ascii)),
            t.scale,
        ));
    }
    head.push(Span::styled(format!(" {} ", tr.title), t.title));
    head.push(Span::styled(
        format!("{} · source {}", tr.key(), tr.source),
        t.muted,
    ));
    let mut lines = vec![Line::from(head)];
    let age = tr
        .age_seconds
        .map(|a| format!("{} ago", human_secs(a)))
        .unwrap_or_else(|| "never".into());
    lines.push(Line::from(vec![
        Span::styled(" value ", t.muted),
        Span::styled(
            format!(
                "{} / {}",
                opt(tr.value, &tr.unit),
                opt(tr.capacity, &tr.unit)
            ),
            t.text,
        ),
        Span::styled("  used ", t.muted),
        Span::styled(
            tr.utilization.map(percent).unwrap_or_else(|| "—".into()),
            t.state(tr.state),
        ),
        Span::styled("  headroom ", t.muted),
        Span::styled(
            format!(
                "{} ({})",
                opt(tr.headroom, &tr.unit),
                tr.headroom_pct.map(percent).unwrap_or_else(|| "—".into())
            ),
            t.text,
        ),
        Span::styled(format!("  newest sample {age}"), t.muted),
    ]));
    let mut th = vec![
        Span::styled(" thresholds ", t.muted),
        Span::styled(
            format!(
                "warn {} · scale {} · critical {}",
                percent(tr.thresholds.warn),
                percent(tr.thresholds.scale),
                percent(tr.thresholds.critical)
            ),
            t.threshold,
        ),
    ];
    if tr.lead_time_seconds > 0.0 {
        th.push(Span::styled(
            format!("  lead time {}", human_secs(tr.lead_time_seconds)),
            t.muted,
        ));
    }
    if let Some(p) = tr.pending {
        th.push(Span::styled(
            format!("  pending {} (waiting for `for`)", p.word()),
            t.state(p),
        ));
    }
    lines.push(Line::from(th));
    let mut fc = vec![
        Span::styled(" time to breach ", t.muted),
        Span::styled(eta_text(tr), if tr.urgent { t.scale } else { t.forecast }),
    ];
    if let Some(c) = crate::report::breach_chance_text(tr) {
        fc.push(Span::styled(format!("  {c}"), t.text));
    }
    if let Some(f) = &tr.forecast {
        fc.push(Span::styled(format!("  model {}", f.model), t.muted));
        if let Some(m) = f.mase {
            fc.push(Span::styled(format!(" (MASE {m:.3})"), t.muted));
        }
    }
    lines.push(Line::from(fc));
    if let Some(x) = &tr.external {
        lines.push(external_line(x, app));
    }
    if let Some(p) = &tr.policy {
        let cost = match (p.cost_month_now, p.cost_month_after) {
            (Some(a), Some(b)) if (a - b).abs() > 0.005 => {
                format!("  {} → {}", money(a, &p.currency), money(b, &p.currency))
            }
            (Some(a), _) => format!("  {}", money(a, &p.currency)),
            _ => String::new(),
        };
        lines.push(Line::from(vec![
            Span::styled(" scaling step ", t.muted),
            Span::styled(if p.due { "DUE " } else { "" }, t.scale),
            Span::styled(p.action.clone(), if p.due { t.scale } else { t.text }),
            Span::styled(cost, t.muted),
        ]));
    }
    if let Some(rb) = &tr.runbook {
        lines.push(Line::from(vec![
            Span::styled(" runbook ", t.muted),
            Span::styled(rb.clone(), t.accent),
        ]));
    }
    for w in &tr.warnings {
        lines.push(Line::from(vec![
            Span::styled(" server warning ", t.warn),
            Span::styled(w.clone(), t.text),
        ]));
    }
    if let Some(e) = &tr.error {
        lines.push(Line::from(vec![
            Span::styled(" error ", t.critical),
            Span::styled(e.clone(), t.text),
        ]));
    }
    let info_h = lines.len() as u16;
    let rows_h = if tr.rows.is_empty() {
        0
    } else {
        (tr.rows.len() as u16 + 2).min(area.height / 3)
    };
    let [info, chart, rows_area] = Layout::vertical([
        Constraint::Length(info_h),
        Constraint::Min(5),
        Constraint::Length(rows_h),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(lines), info);
    draw_chart(f, chart, app, tr);
    if rows_h > 0 {
        let rows: Vec<Row> = tr
            .rows
            .iter()
            .map(|r| {
                Row::new(vec![
                    Cell::from(Span::styled(
                        format!("{} {}", r.state.glyph(app.ascii), r.state.short()),
                        t.state(r.state),
                    )),
                    Cell::from(r.label.clone()),
                    Cell::from(format!(
                        "{} / {}",
                        opt(r.value, &tr.unit),
                        opt(r.capacity, &tr.unit)
                    )),
                    Cell::from(r.utilization.map(percent).unwrap_or_else(|| "—".into())),
                    Cell::from(r.headroom_pct.map(percent).unwrap_or_else(|| "—".into())),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Min(16),
                Constraint::Length(24),
                Constraint::Length(7),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(
            ["STATE", "ROW", "VALUE / CAPACITY", "USED", "HEADROOM"]
                .map(|h| Cell::from(Span::styled(h, t.muted))),
        ))
        .block(
            Block::new()
                .borders(Borders::TOP)
                .border_style(t.border)
                .title(Span::styled(" rows ", t.header)),
        );
        f.render_widget(table, rows_area);
    }
}

/// The external forecast's line on the detail screen.
fn external_line<'a>(x: &crate::capacity::ExternalForecastStatus, app: &App) -> Line<'a> {
    let t = &app.theme;
    let text = crate::report::external_text(x, app.now_ms, |ms| clock_text(app, ms));
    let style = match (x.breach_at, &x.error, x.points.is_empty()) {
        (Some(_), _, _) => t.scale,
        (None, Some(_), true) => t.warn,
        (None, _, true) => t.muted,
        _ => t.text,
    };
    Line::from(vec![
        Span::styled(" external forecast ", t.muted),
        Span::styled(x.source.clone(), t.accent),
        Span::styled(format!("  {text}"), style),
    ])
}

fn draw_chart(f: &mut Frame, area: Rect, app: &App, tr: &TriggerStatus) {
    let t = &app.theme;
    let (span_ms, span_name) = ZOOMS[app.zoom.min(ZOOMS.len() - 1)];
    let to = app.now_ms;
    let from = to - span_ms;
    let external = tr.external.as_ref().filter(|x| !x.points.is_empty());
    let mut title = match tr.forecast.as_ref().filter(|f| !f.points.is_empty()) {
        Some(f) => format!(
            " history {span_name} · forecast {} with 80/95 % bands · thresholds · breach marker ",
            f.model
        ),
        None => format!(" history {span_name} · thresholds warn/scale/critical "),
    };
    if let Some(x) = external {
        title.push_str(&format!("· external ({}) ", x.source));
    }
    let block = Block::bordered()
        .border_style(t.border)
        .title(Span::styled(title, t.header));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(s) = shown_series(app, tr) else {
        f.render_widget(Paragraph::new(" no samples yet").style(t.muted), inner);
        return;
    };
    let cap = tr.capacity.unwrap_or(1.0);
    let thresholds = [
        tr.thresholds.warn * cap,
        tr.thresholds.scale * cap,
        tr.thresholds.critical * cap,
    ];
    let label_w = 10u16;
    let plot_w = inner.width.saturating_sub(label_w + 1) as usize;
    let buckets = bucket_max(s.since(from), from, to, (plot_w * 2).max(1));
    let data_max = buckets.iter().flatten().fold(0.0f64, |m, v| m.max(*v));
    let y_max = (cap * tr.thresholds.critical.max(1.0)).max(data_max) * 1.05;
    if app.ascii {
        let narrow = bucket_max(s.since(from), from, to, plot_w.max(1));
        let grid = ascii_chart(
            &narrow,
            &thresholds,
            y_max,
            inner.height.saturating_sub(1) as usize,
        );
        let mut lines: Vec<Line> = grid
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let label = if i == 0 {
                    format_value(y_max, &tr.unit)
                } else {
                    String::new()
                };
                Line::from(vec![
                    Span::styled(format!("{label:>w$} ", w = label_w as usize), t.muted),
                    Span::styled(row, t.text),
                ])
            })
            .collect();
        lines.push(Line::from(Span::styled(
            format!("{:>w$} -{span_name} … now", "", w = label_w as usize),
            t.muted,
        )));
        f.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let step = span_ms as f64 / buckets.len().max(1) as f64;
    let points: Vec<(f64, f64)> = buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|v| (from as f64 + i as f64 * step, v)))
        .collect();
    // With a forecast, the chart runs half a span into the future.
    let forecast = tr.forecast.as_ref().filter(|f| !f.points.is_empty());
    let x_end = if forecast.is_some() || external.is_some() {
        to + span_ms / 2
    } else {
        to
    };
    let ahead: Vec<&crate::forecast::ForecastPoint> = forecast
        .map(|f| f.points.iter().filter(|p| p.t <= x_end).collect())
        .unwrap_or_default();
    let band = |pick: fn(&crate::forecast::ForecastPoint) -> f64| -> Vec<(f64, f64)> {
        ahead
            .iter()
            .map(|p| (p.t as f64, pick(p).clamp(0.0, y_max)))
            .collect()
    };
    let (lo95, hi95, lo80, hi80, mean) = (
        band(|p| p.lo95),
        band(|p| p.hi95),
        band(|p| p.lo80),
        band(|p| p.hi80),
        band(|p| p.mean),
    );
    let external_band =
        |pick: fn(&crate::source::ExternalPoint) -> Option<f64>| -> Vec<(f64, f64)> {
            external
                .map(|x| {
                    x.points
                        .iter()
                        .filter(|p| p.t <= x_end)
                        .filter_map(|p| pick(p).map(|v| (p.t as f64, v.clamp(0.0, y_max))))
                        .collect()
                })
                .unwrap_or_default()
        };
    let (ext_value, ext_lower, ext_upper) = (
        external_band(|p| Some(p.value)),
        external_band(|p| p.lower),
        external_band(|p| p.upper),
    );
    let horizontal = |y: f64| vec![(from as f64, y), (x_end as f64, y)];
    let lines_data: Vec<Vec<(f64, f64)>> = thresholds.iter().map(|&y| horizontal(y)).collect();
    // The breach marker: a vertical line at the p50 crossing.
    let breach_at = match tr.forecast.as_ref().map(|f| &f.breach) {
        Some(crate::forecast::Breach::Forecast { p50_s, .. }) => {
            let at = to as f64 + p50_s * 1000.0;
            (at <= x_end as f64).then_some(at)
        }
        _ => None,
    };
    let marker: Vec<(f64, f64)> = breach_at
        .map(|x| vec![(x, 0.0), (x, y_max)])
        .unwrap_or_default();
    fn line(data: &[(f64, f64)], style: Style) -> Dataset<'_> {
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(style)
            .data(data)
    }
    let mut datasets = vec![];
    for (i, l) in lines_data.iter().enumerate() {
        let style = [t.warn, t.scale, t.critical][i.min(2)];
        datasets.push(line(l, style.remove_modifier(Modifier::BOLD)));
    }
    for b in [&lo95, &hi95] {
        datasets.push(line(b, t.muted));
    }
    for b in [&lo80, &hi80] {
        datasets.push(line(b, t.forecast.add_modifier(Modifier::DIM)));
    }
    for b in [&ext_lower, &ext_upper] {
        datasets.push(line(b, t.accent.add_modifier(Modifier::DIM)));
    }
    datasets.push(line(&points, t.text));
    datasets.push(line(&ext_value, t.accent));
    datasets.push(line(&mean, t.forecast));
    if !marker.is_empty() {
        datasets.push(line(&marker, t.critical));
    }
    let mut x_labels = vec![
        Span::styled(format!("-{span_name}"), t.muted),
        Span::styled("now", t.muted),
    ];
    if forecast.is_some() || external.is_some() {
        x_labels.push(Span::styled(
            format!("+{}", crate::time::human_secs(span_ms as f64 / 2000.0)),
            t.muted,
        ));
    }
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([from as f64, x_end as f64])
                .labels(x_labels)
                .style(t.border),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels(vec![
                    Span::styled("0", t.muted),
                    Span::styled(format_value(y_max, &tr.unit), t.muted),
                ])
                .style(t.border),
        );
    f.render_widget(chart, inner);
}

fn draw_sources(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(t.border)
        .title(Span::styled(" Source health ", t.header));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let ms = |v: Option<f64>| {
        v.map(|v| format!("{v:.0} ms"))
            .unwrap_or_else(|| "—".into())
    };
    let rows: Vec<Row> = app
        .snapshot
        .sources
        .iter()
        .map(|s| {
            let status = if s.ok {
                Span::styled("● up", t.ok)
            } else {
                Span::styled("✖ down", t.critical)
            };
            let last_ok = s
                .last_success
                .map(|x| human_secs(((app.now_ms - x).max(0)) as f64 / 1000.0) + " ago")
                .unwrap_or_else(|| "never".into());
            Row::new(vec![
                Cell::from(s.name.clone()),
                Cell::from(s.kind.clone()),
                Cell::from(status),
                Cell::from(last_ok),
                Cell::from(format!(
                    "{} / {}",
                    ms(s.latency_p50_ms),
                    ms(s.latency_p95_ms)
                )),
                Cell::from(crate::units::iec(s.bytes_received as f64)),
                Cell::from(format!("{} / {}", s.requests, s.failures)),
                Cell::from(s.last_error.clone().unwrap_or_default()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(17),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(
        [
            "SOURCE",
            "KIND",
            "STATUS",
            "LAST OK",
            "LATENCY p50/p95",
            "RECEIVED",
            "REQ/FAIL",
            "LAST ERROR",
        ]
        .map(|h| Cell::from(Span::styled(h, t.muted))),
    ));
    f.render_widget(table, inner);
}

fn scope_of(screen: &Screen) -> Scope {
    match screen {
        Screen::Overview | Screen::Domain(_) => Scope::Overview,
        Screen::Trigger(_) => Scope::Detail,
        Screen::Sources | Screen::Run => Scope::Everywhere,
        Screen::Runbooks => Scope::Runbooks,
    }
}

fn draw_help(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let scope = scope_of(&app.screen);
    let lists = matches!(scope, Scope::Overview | Scope::Runbooks);
    let mut lines = vec![Line::from(Span::styled("Keys on this screen", t.header))];
    if app.screen == Screen::Run {
        for (key, what) in super::runs::RUN_KEYS {
            lines.push(Line::from(vec![
                Span::styled(format!("{key:>16}  "), t.accent),
                Span::styled(*what, t.text),
            ]));
        }
    }
    for info in ACTIONS {
        let shown = info.scope == Scope::Everywhere
            || info.scope == scope
            || (lists && info.scope == Scope::Lists);
        if shown {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:>16}  ", app.keymap.keys_text(info.action)),
                    t.accent,
                ),
                Span::styled(info.help, t.text),
            ]));
        }
    }
    lines.push(Line::from(""));
    let states = [
        (State::Ok, "below warn"),
        (State::Warn, "watch it"),
        (State::Scale, "scaling step due"),
        (State::Critical, "act now"),
        (State::Stale, "sample too old"),
        (State::Unknown, "no value"),
    ];
    for pair in states.chunks(2) {
        let mut spans = Vec::new();
        for (st, meaning) in pair {
            spans.push(Span::styled(
                format!(" {} {:<8}", st.glyph(app.ascii), st.word()),
                t.state(*st),
            ));
            spans.push(Span::styled(format!("{meaning:<20}"), t.text));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(Span::styled(
        "any key closes this help",
        t.muted,
    )));
    popup(f, area, 64, " help ", lines, app);
}

/// A bordered box of `lines`, centred over `area` (help, forms), at most
/// `width` wide and as tall as its text.
pub fn popup(f: &mut Frame, area: Rect, width: u16, title: &str, lines: Vec<Line>, app: &App) {
    let t = &app.theme;
    let h = (lines.len() as u16 + 2).min(area.height);
    let w = width.min(area.width);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(Text::from(lines)).block(
            Block::bordered()
                .border_style(t.border)
                .title(Span::styled(title.to_string(), t.header)),
        ),
        rect,
    );
}
