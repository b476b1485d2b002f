//! The cockpit's state and its one `update` function. Every input becomes a
//! `Message`; `update` changes the state and says whether to redraw.

use std::collections::HashMap;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEventKind};

use crate::capacity::{Snapshot, evaluate};
use crate::config::Config;
use crate::forecast::{ForecastRequest, Scheduler, TriggerForecast};
use crate::observe::Observations;
use crate::source::SourceEvent;

use super::keymap::{Action, KeyMap};
use super::runs::{CatalogRow, KeyOutcome, RunPane, StartForm};
use super::theme::Theme;

/// Everything that can happen to the cockpit.
#[derive(Debug)]
pub enum Message {
    Term(Event),
    Source(SourceEvent),
    /// The clock moved (Unix ms).
    Tick(i64),
    /// SIGTERM, SIGHUP (the SSH session dropped), SIGQUIT.
    Signal(&'static str),
    /// A forecast fitted off the UI task, for a trigger key.
    Forecast(String, Box<TriggerForecast>),
    /// The open run's journal changed (this session or another one).
    Journal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Trigger(String),
    Domain(String),
    Sources,
    Runbooks,
    Run,
}

/// What the loop must do for the app beyond drawing.
#[derive(Debug, Clone)]
pub enum UiEffect {
    /// Put text on the clipboard (OSC 52).
    Copy(String),
    /// Poll a run's `watch` queries and follow its journal.
    Watch {
        dir: std::path::PathBuf,
        queries: Vec<crate::source::QuerySpec>,
    },
    /// The run is closed: stop both.
    Unwatch,
}

/// Time ranges of the detail chart.
pub const ZOOMS: [(i64, &str); 7] = [
    (3_600_000, "1h"),
    (6 * 3_600_000, "6h"),
    (86_400_000, "1d"),
    (3 * 86_400_000, "3d"),
    (7 * 86_400_000, "7d"),
    (14 * 86_400_000, "14d"),
    (30 * 86_400_000, "30d"),
];

/// Forecast points kept per trigger: more than any chart is wide (a Braille
/// chart of 200 columns shows 400 x positions), far fewer than a long
/// horizon produces, since every copy of a snapshot carries them.
pub const MAX_CHART_POINTS: usize = 400;

/// Keeps at most `max` points, evenly spaced, the last one always.
pub fn thin_points<T: Copy>(points: &mut Vec<T>, max: usize) {
    let n = points.len();
    if n <= max || max < 2 {
        return;
    }
    let kept: Vec<T> = (0..max).map(|i| points[i * (n - 1) / (max - 1)]).collect();
    *points = kept;
}

/// A line of the overview list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRow {
    Domain(String),
    /// Index into `snapshot.triggers`.
    Trigger(usize),
}

pub struct App {
    pub config: Config,
    pub keymap: KeyMap,
    pub theme: Theme,
    pub ascii: bool,
    pub obs: Observations,
    pub forecasts: HashMap<String, TriggerForecast>,
    pub snapshot: Snapshot,
    pub now_ms: i64,
    pub screen: Screen,
    /// Where `back` goes from a trigger's detail.
    pub return_to: Screen,
    pub help: bool,
    pub grouped: bool,
    /// The selected row's key (`domain/id`, or `domain:ID` for a domain
    /// header), so the selection follows its trigger when the order changes.
    pub selected: Option<String>,
    pub filter: String,
    pub editing_filter: bool,
    pub zoom: usize,
    /// Queries whose backfill has not answered yet.
    pub backfilling: usize,
    pub queries: usize,
    pub quit: bool,
    /// The demo clock's speed (shown in the header when above 1).
    pub clock_speed: f64,
    /// Set when new data arrived: re-evaluate before the next draw.
    data_changed: bool,
    /// Set when new samples arrived: some forecasts may be due.
    samples_changed: bool,
    /// A refit the operator asked for.
    force_refit: Option<String>,
    pub scheduler: Scheduler,
    /// Forecast fits to run off the UI task (the loop hands them out).
    pub jobs: Vec<(String, ForecastRequest)>,
    /// Where runbooks are read from.
    pub runbooks_dir: std::path::PathBuf,
    pub catalog: Vec<CatalogRow>,
    pub catalog_error: Option<String>,
    pub catalog_sel: usize,
    pub start_form: Option<StartForm>,
    pub run: Option<RunPane>,
    pub effects: Vec<UiEffect>,
    /// A message for the footer (a refused start, a copied command).
    pub notice: Option<String>,
    /// Rows of the list that fit on screen (set by the last draw).
    pub page: usize,
}

impl App {
    pub fn new(config: Config, keymap: KeyMap, theme: Theme, queries: usize, now_ms: i64) -> App {
        let obs = Observations::new(&config);
        let scheduler = Scheduler::new(config.cockpit.forecast_every.as_millis_i64());
        let ascii = config.cockpit.ascii;
        let mut app = App {
            snapshot: evaluate(&config, &Default::default(), now_ms),
            config,
            keymap,
            theme,
            ascii,
            obs,
            forecasts: HashMap::new(),
            scheduler,
            jobs: Vec::new(),
            runbooks_dir: std::path::PathBuf::from("runbooks"),
            catalog: Vec::new(),
            catalog_error: None,
            catalog_sel: 0,
            start_form: None,
            run: None,
            effects: Vec::new(),
            notice: None,
            now_ms,
            screen: Screen::Overview,
            return_to: Screen::Overview,
            help: false,
            grouped: false,
            selected: None,
            filter: String::new(),
            editing_filter: false,
            zoom: 2,
            backfilling: queries,
            queries,
            quit: false,
            clock_speed: 1.0,
            data_changed: true,
            samples_changed: false,
            force_refit: None,
            page: 10,
        };
        app.refresh();
        app
    }

    /// Re-evaluates the snapshot from what the sources said.
    pub fn refresh(&mut self) {
        let health = self.obs.source_health();
        self.snapshot = evaluate(
            &self.config,
            &self.obs.inputs(&health, Some(&self.forecasts)),
            self.now_ms,
        );
        self.data_changed = false;
    }

    /// Applies one message; true when the screen must be redrawn.
    pub fn update(&mut self, msg: Message) -> bool {
        match msg {
            Message::Term(Event::Key(k)) if k.kind == KeyEventKind::Press => self.key(k),
            Message::Term(Event::Resize(..)) => true,
            // Only with --mouse: the wheel moves the selection.
            Message::Term(Event::Mouse(m)) => match m.kind {
                MouseEventKind::ScrollDown => self.act(Action::Down),
                MouseEventKind::ScrollUp => self.act(Action::Up),
                _ => false,
            },
            Message::Term(_) => false,
            Message::Source(SourceEvent::Answered(a)) => {
                if a.backfill && !a.refill && !a.query.starts_with("watch:") {
                    self.backfilling = self.backfilling.saturating_sub(1);
                }
                // The backfill's newest sample can be a whole step old (stale
                // to a gate); the first instant answer is the one to wait for.
                if let Some(p) = self.run.as_mut().filter(|_| !a.backfill) {
                    p.awaiting.remove(&*a.query);
                }
                self.obs.apply(a);
                self.data_changed = true;
                self.samples_changed = true;
                true
            }
            Message::Forecast(key, mut f) => {
                thin_points(&mut f.points, MAX_CHART_POINTS);
                self.scheduler.accept(&key, *f);
                self.forecasts = self.scheduler.current(self.now_ms);
                self.data_changed = true;
                true
            }
            Message::Tick(now) => {
                let moved = now / 1000 != self.now_ms / 1000;
                self.now_ms = now;
                if moved && let Some(p) = self.run.as_mut() {
                    // Gate holds, timeouts and the RTO clock move with time.
                    let r = p.session.refresh(now);
                    let copies = p.absorb(r);
                    self.effects.extend(copies.into_iter().map(UiEffect::Copy));
                }
                if moved {
                    // Ages and staleness move with the clock.
                    self.data_changed = true;
                }
                moved
            }
            Message::Journal => {
                let now = self.now_ms;
                if let Some(p) = self.run.as_mut() {
                    let r = p.session.refresh(now);
                    let copies = p.absorb(r);
                    p.reload_timeline();
                    self.effects.extend(copies.into_iter().map(UiEffect::Copy));
                }
                true
            }
            Message::Signal(_) => {
                self.quit = true;
                true
            }
        }
    }

    /// Brings the snapshot up to date if anything changed; call once per
    /// drained batch of messages, before drawing.
    pub fn settle(&mut self) {
        if self.samples_changed || self.force_refit.is_some() {
            self.samples_changed = false;
            let force = self.force_refit.take();
            let now = self.now_ms;
            let scheduler = &mut self.scheduler;
            let jobs = crate::capacity::forecast_requests(
                &self.config,
                &self.obs.store,
                now,
                |key, newest| scheduler.due(key, now, newest, force.as_deref() == Some(key)),
            );
            self.jobs.extend(jobs);
            // Times to breach count down between refits without refitting.
            self.forecasts = self.scheduler.current(now);
            if self.data_changed {
                self.refresh();
            }
            // Gates read the same store the overview does, once the run's
            // own watch queries have answered (or failed) at least once:
            // before that every gate would read "missing".
            if let Some(p) = self.run.as_mut().filter(|p| p.watch_ready()) {
                let rb_id = p.session.run.runbook.meta.id.clone();
                let samples = crate::runbook::samples::WatchSamples {
                    store: &self.obs.store,
                    runbook_id: &rb_id,
                    snapshot: Some(&self.snapshot),
                };
                let stale = self.config.cockpit.stale_after().as_millis_i64();
                let r = p.session.observe(&samples, now, stale);
                let copies = p.absorb(r);
                self.effects.extend(copies.into_iter().map(UiEffect::Copy));
            }
        }
        if self.data_changed {
            self.refresh();
        }
    }

    /// The overview's lines: filtered, sorted or grouped.
    pub fn rows(&self) -> Vec<ListRow> {
        let needle = self.filter.to_lowercase();
        let matches = |i: usize| {
            let t = &self.snapshot.triggers[i];
            needle.is_empty()
                || t.title.to_lowercase().contains(&needle)
                || t.key().contains(&needle)
                || t.domain_title.to_lowercase().contains(&needle)
        };
        let only_domain = match &self.screen {
            Screen::Domain(d) => Some(d.as_str()),
            _ => None,
        };
        let in_scope = |i: usize| {
            only_domain.is_none_or(|d| self.snapshot.triggers[i].domain == d) && matches(i)
        };
        if self.grouped && only_domain.is_none() {
            let mut out = Vec::new();
            for d in &self.snapshot.domains {
                let members: Vec<usize> = (0..self.snapshot.triggers.len())
                    .filter(|&i| self.snapshot.triggers[i].domain == d.id && in_scope(i))
                    .collect();
                if !members.is_empty() {
                    out.push(ListRow::Domain(d.id.clone()));
                    out.extend(members.into_iter().map(ListRow::Trigger));
                }
            }
            out
        } else {
            (0..self.snapshot.triggers.len())
                .filter(|&i| in_scope(i))
                .map(ListRow::Trigger)
                .collect()
        }
    }

    fn row_key(&self, r: &ListRow) -> String {
        match r {
            ListRow::Domain(d) => format!("domain:{d}"),
            ListRow::Trigger(i) => self.snapshot.triggers[*i].key(),
        }
    }

    /// Index of the selected row (the first when the selection is gone).
    pub fn selected_index(&self, rows: &[ListRow]) -> usize {
        self.selected
            .as_ref()
            .and_then(|k| rows.iter().position(|r| &self.row_key(r) == k))
            .unwrap_or(0)
    }

    fn select(&mut self, rows: &[ListRow], idx: usize) {
        if let Some(r) = rows.get(idx.min(rows.len().saturating_sub(1))) {
            self.selected = Some(self.row_key(r));
        }
    }

    fn key(&mut self, k: KeyEvent) -> bool {
        if self.editing_filter {
            return self.filter_key(k);
        }
        if let Some(form) = self.start_form.as_mut() {
            match form.key(k) {
                Some(true) => self.start_run(),
                Some(false) => self.start_form = None,
                None => {}
            }
            return true;
        }
        let action = self.keymap.action(&k);
        if self.screen == Screen::Run && !self.help {
            let prompting = self.run.as_ref().is_some_and(|p| p.prompt.is_some());
            if prompting || !matches!(action, Some(Action::Quit | Action::Help)) {
                return self.run_key(k);
            }
        }
        let Some(action) = action else {
            return false;
        };
        self.act(action)
    }

    fn run_key(&mut self, k: KeyEvent) -> bool {
        let now = self.now_ms;
        let Some(p) = self.run.as_mut() else {
            self.screen = Screen::Runbooks;
            return true;
        };
        match p.key(k, now) {
            KeyOutcome::Copies(copies) => {
                if !copies.is_empty() {
                    p.message = Some((false, "copied to the clipboard (OSC 52)".into()));
                }
                self.effects.extend(copies.into_iter().map(UiEffect::Copy));
            }
            KeyOutcome::Leave => {
                self.screen = Screen::Runbooks;
                self.reload_catalog();
            }
        }
        true
    }

    /// Re-reads the runbook folder and the runs (on opening the list).
    pub fn reload_catalog(&mut self) {
        let breaching: Vec<String> = self
            .snapshot
            .triggers
            .iter()
            .filter(|t| t.state.is_breach() || t.urgent)
            .map(|t| t.key())
            .collect();
        let (rows, err) = super::runs::catalog_rows(&self.runbooks_dir, &self.config, &breaching);
        self.catalog = rows;
        self.catalog_error = err;
        self.catalog_sel = self.catalog_sel.min(self.catalog.len().saturating_sub(1));
    }

    fn open_session(&mut self, session: crate::runbook::session::Session) {
        let queries = crate::runbook::samples::watch_queries(&session.run.runbook, &self.config);
        let mut pane = RunPane::new(session);
        pane.awaiting = queries.iter().map(|q| q.name.to_string()).collect();
        self.effects.push(UiEffect::Watch {
            dir: pane.session.dir.clone(),
            queries,
        });
        self.run = Some(pane);
        self.screen = Screen::Run;
    }

    fn start_run(&mut self) {
        let Some(form) = self.start_form.take() else {
            return;
        };
        match super::runs::start(&form, &self.config, self.now_ms) {
            Ok(s) => self.open_session(s),
            Err(e) => self.notice = Some(format!("cannot start {}: {e}", form.runbook.meta.id)),
        }
    }

    /// The runbook list as shown: filtered by name, id or linked trigger.
    pub fn catalog_view(&self) -> Vec<&CatalogRow> {
        let needle = self.filter.to_lowercase();
        self.catalog
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || match r {
                        CatalogRow::Run(s) => s.runbook.contains(&needle) || s.id.contains(&needle),
                        CatalogRow::Runbook(l) => {
                            l.id.contains(&needle)
                                || l.title.to_lowercase().contains(&needle)
                                || l.triggers.iter().any(|t| t.contains(&needle))
                        }
                    }
            })
            .collect()
    }

    fn open_catalog_row(&mut self, drill: bool) {
        let row = self
            .catalog_view()
            .get(self.catalog_sel)
            .map(|r| (*r).clone());
        match row {
            Some(CatalogRow::Run(r)) => {
                if self.run.as_ref().is_some_and(|p| p.session.dir == r.dir) {
                    self.screen = Screen::Run;
                    return;
                }
                match super::runs::open(&r.dir, &self.config, self.now_ms) {
                    Ok(s) => self.open_session(s),
                    Err(e) => self.notice = Some(format!("cannot open run {}: {e}", r.id)),
                }
            }
            Some(CatalogRow::Runbook(l)) if l.problems.is_empty() => self.begin(&l.path, drill),
            Some(CatalogRow::Runbook(l)) => {
                self.notice = Some(format!(
                    "{} does not lint clean: {}",
                    l.id,
                    l.problems.first().cloned().unwrap_or_default()
                ))
            }
            None => {}
        }
    }

    /// Asks a runbook's inputs, or starts it at once when it has none.
    fn begin(&mut self, path: &std::path::Path, drill: bool) {
        match StartForm::new(path, drill) {
            Ok(form) if form.fields.is_empty() => {
                self.start_form = Some(form);
                self.start_run();
            }
            Ok(form) => self.start_form = Some(form),
            Err(e) => self.notice = Some(e),
        }
    }

    /// The runbook of the selected trigger: its open run, or a new one.
    fn trigger_runbook(&mut self, rows: &[ListRow], idx: usize) -> bool {
        let key = match (&self.screen, rows.get(idx)) {
            (Screen::Trigger(k), _) => k.clone(),
            (_, Some(ListRow::Trigger(i))) => self.snapshot.triggers[*i].key(),
            _ => return false,
        };
        let Some(rb) = self.snapshot.trigger(&key).and_then(|t| t.runbook.clone()) else {
            self.notice = Some(format!("{key} names no runbook"));
            return true;
        };
        self.reload_catalog();
        self.filter.clear();
        let open = self
            .catalog
            .iter()
            .position(|r| matches!(r, CatalogRow::Run(s) if s.runbook == rb));
        let listed = self
            .catalog
            .iter()
            .position(|r| matches!(r, CatalogRow::Runbook(l) if l.id == rb));
        match open.or(listed) {
            Some(i) => {
                self.catalog_sel = i;
                self.screen = Screen::Runbooks;
                self.open_catalog_row(false);
            }
            None => {
                self.notice = Some(format!(
                    "runbook `{rb}` is not in {}",
                    self.runbooks_dir.display()
                ))
            }
        }
        true
    }

    /// Performs an action, from a key or the mouse wheel.
    pub fn act(&mut self, action: Action) -> bool {
        self.notice = None;
        if self.help {
            // Any action closes help; quit still quits.
            match action {
                Action::Quit => self.quit = true,
                _ => self.help = false,
            }
            return true;
        }
        let in_list = matches!(self.screen, Screen::Overview | Screen::Domain(_));
        let rows = if in_list { self.rows() } else { Vec::new() };
        let idx = self.selected_index(&rows);
        if self.screen == Screen::Runbooks {
            let n = self.catalog_view().len();
            match action {
                Action::Filter => self.editing_filter = true,
                Action::Back if !self.filter.is_empty() => self.filter.clear(),
                Action::Up => self.catalog_sel = self.catalog_sel.saturating_sub(1),
                Action::Down => self.catalog_sel = (self.catalog_sel + 1).min(n.saturating_sub(1)),
                Action::Top => self.catalog_sel = 0,
                Action::Bottom => self.catalog_sel = n.saturating_sub(1),
                Action::Open => self.open_catalog_row(false),
                Action::Drill => self.open_catalog_row(true),
                Action::Back => self.screen = Screen::Overview,
                Action::Quit => self.quit = true,
                Action::Help => self.help = true,
                _ => return false,
            }
            return true;
        }
        match action {
            Action::Runbooks => {
                self.reload_catalog();
                self.filter.clear();
                self.catalog_sel = 0;
                self.screen = Screen::Runbooks;
            }
            Action::TriggerRunbook => return self.trigger_runbook(&rows, idx),
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Back => match &self.screen {
                Screen::Overview if !self.filter.is_empty() => self.filter.clear(),
                Screen::Overview => return false,
                // Back to the list the trigger was opened from.
                Screen::Trigger(_) => self.screen = self.return_to.clone(),
                Screen::Domain(_) | Screen::Sources | Screen::Runbooks | Screen::Run => {
                    self.screen = Screen::Overview
                }
            },
            Action::Up if in_list => self.select(&rows, idx.saturating_sub(1)),
            Action::Down if in_list => self.select(&rows, idx + 1),
            Action::PageUp if in_list => self.select(&rows, idx.saturating_sub(self.page.max(1))),
            Action::PageDown if in_list => self.select(&rows, idx + self.page.max(1)),
            Action::Top if in_list => self.select(&rows, 0),
            Action::Bottom if in_list => self.select(&rows, rows.len().saturating_sub(1)),
            Action::Open if in_list => match rows.get(idx) {
                Some(ListRow::Trigger(i)) => {
                    self.return_to = self.screen.clone();
                    self.screen = Screen::Trigger(self.snapshot.triggers[*i].key());
                }
                Some(ListRow::Domain(d)) => self.screen = Screen::Domain(d.clone()),
                None => return false,
            },
            Action::Filter if in_list => {
                self.editing_filter = true;
            }
            Action::Group if in_list => self.grouped = !self.grouped,
            Action::Sources => self.screen = Screen::Sources,
            Action::Refit => match &self.screen {
                Screen::Trigger(key) => self.force_refit = Some(key.clone()),
                _ => return false,
            },
            Action::ZoomIn if matches!(self.screen, Screen::Trigger(_)) => {
                self.zoom = self.zoom.saturating_sub(1)
            }
            Action::ZoomOut if matches!(self.screen, Screen::Trigger(_)) => {
                self.zoom = (self.zoom + 1).min(ZOOMS.len() - 1)
            }
            _ => return false,
        }
        true
    }

    fn filter_key(&mut self, k: KeyEvent) -> bool {
        match k.code {
            KeyCode::Esc => {
                self.filter.clear();
                self.editing_filter = false;
            }
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char('c')
                if k.modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL) =>
            {
                self.quit = true
            }
            KeyCode::Char(c) if !c.is_control() && self.filter.chars().count() < 64 => {
                self.filter.push(c)
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::thin_points;

    #[test]
    fn thinning_keeps_ends_and_count() {
        let mut v: Vec<u32> = (0..2000).collect();
        thin_points(&mut v, 400);
        assert_eq!(v.len(), 400);
        assert_eq!((v[0], v[399]), (0, 1999));
        let mut short: Vec<u32> = (0..10).collect();
        thin_points(&mut short, 400);
        assert_eq!(short.len(), 10);
    }
}
