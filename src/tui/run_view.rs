//! Render functions of the runbook screens: the list, the start form and
//! the run itself. Pure, from the `App` state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::runbook::machine::{StepStatus, Waiting};
use crate::runbook::{ActionKind, Danger};
use crate::time::human_secs;

use super::app::App;
use super::runs::{CatalogRow, Prompt, RunPane};

fn ago(app: &App, ms: i64) -> String {
    format!(
        "{} ago",
        human_secs(((app.now_ms - ms).max(0)) as f64 / 1000.0)
    )
}

pub fn draw_runbooks(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(t.border)
        .title(Span::styled(
            format!(" Runbooks · {} ", app.runbooks_dir.display()),
            t.header,
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(e) = &app.catalog_error {
        f.render_widget(
            Paragraph::new(format!(" cannot read the runbooks: {e}")).style(t.critical),
            inner,
        );
        return;
    }
    if app.catalog.is_empty() {
        f.render_widget(
            Paragraph::new(" no runbooks in this folder (set [runbooks] dir)").style(t.muted),
            inner,
        );
        return;
    }
    let keys_where = |f: fn(&crate::capacity::TriggerStatus) -> bool| -> Vec<String> {
        app.snapshot
            .triggers
            .iter()
            .filter(|x| f(x))
            .map(|x| x.key())
            .collect()
    };
    let breaching = keys_where(|x| x.state.is_breach());
    let urgent = keys_where(|x| x.urgent);
    let rows: Vec<Row> = app
        .catalog_view()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let row = match r {
                CatalogRow::Run(s) => Row::new(vec![
                    Cell::from(Span::styled(
                        if s.drill { "▶ DRILL" } else { "▶ OPEN" },
                        t.warn,
                    )),
                    Cell::from(Span::styled(s.runbook.clone(), t.text)),
                    Cell::from(Span::styled(
                        format!(
                            "run {} · started {}",
                            s.id,
                            s.started_at.map(|x| ago(app, x)).unwrap_or_default()
                        ),
                        t.text,
                    )),
                    Cell::from(Span::styled("enter resumes", t.muted)),
                ]),
                CatalogRow::Runbook(l) => {
                    let linked = |keys: &[String]| l.triggers.iter().any(|x| keys.contains(x));
                    let state = if !l.problems.is_empty() {
                        Span::styled("✖ LINT", t.critical)
                    } else if linked(&breaching) {
                        Span::styled("◆ BREACH", t.scale)
                    } else if linked(&urgent) {
                        Span::styled("◆ URGENT", t.scale)
                    } else {
                        Span::styled(l.kind.clone(), t.muted)
                    };
                    let detail = if let Some(p) = l.problems.first() {
                        format!("{p} (+{} more)", l.problems.len() - 1)
                    } else {
                        let rto = l
                            .rto
                            .as_deref()
                            .map(|r| format!("RTO {r}"))
                            .unwrap_or_default();
                        format!("{} · {rto} · {}", l.title, l.triggers.join(", "))
                    };
                    let drilled = match (l.last_drilled, l.never_drilled) {
                        (_, true) => Span::styled("never drilled", t.warn),
                        (Some(d), _) => Span::styled(format!("drilled {}", ago(app, d)), t.muted),
                        _ => Span::raw(""),
                    };
                    Row::new(vec![
                        Cell::from(state),
                        Cell::from(Span::styled(l.id.clone(), t.text)),
                        Cell::from(Span::styled(
                            detail,
                            if l.problems.is_empty() {
                                t.text
                            } else {
                                t.critical
                            },
                        )),
                        Cell::from(drilled),
                    ])
                }
            };
            if i == app.catalog_sel {
                row.style(t.selection)
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(28),
            Constraint::Min(20),
            Constraint::Length(16),
        ],
    )
    .header(Row::new(
        ["", "RUNBOOK", "WHAT", "DRILLS"].map(|h| Cell::from(Span::styled(h, t.muted))),
    ));
    f.render_widget(table, inner);
}

fn status_glyph(s: StepStatus, ascii: bool) -> &'static str {
    match (s, ascii) {
        (StepStatus::Pending, false) => "·",
        (StepStatus::Active, false) => "▶",
        (StepStatus::Done, false) => "✔",
        (StepStatus::Skipped, false) => "↷",
        (StepStatus::Failed, false) => "✖",
        (StepStatus::Undone, false) => "↺",
        (StepStatus::Pending, true) => ".",
        (StepStatus::Active, true) => ">",
        (StepStatus::Done, true) => "v",
        (StepStatus::Skipped, true) => "-",
        (StepStatus::Failed, true) => "X",
        (StepStatus::Undone, true) => "<",
    }
}

/// What the bottom line asks of the operator now.
fn waiting_text(w: &Waiting) -> String {
    match w {
        Waiting::Inputs => "waiting for the inputs".into(),
        Waiting::PonrAck { step } => format!("{step} is a POINT OF NO RETURN: enter acknowledges"),
        Waiting::Approval {
            step,
            two_person: true,
            first,
        } => match first {
            Some(f) => format!(
                "{step}: approved by {f}; a second person (another OS user) approves with enter"
            ),
            None => format!("{step} needs two people: enter approves (then another user approves)"),
        },
        Waiting::Approval { step, .. } => format!("{step}: enter approves"),
        Waiting::Check { .. } => "enter ticks the next item".into(),
        Waiting::Command { .. } => {
            "x runs the command · c copies it · y reports it done by hand".into()
        }
        Waiting::CommandRunning { .. } => {
            "the command is running (its own process journals the end)".into()
        }
        Waiting::CommandUnknown { .. } => {
            "the command's outcome is UNKNOWN: enter says what you verified".into()
        }
        Waiting::Gate { state, held_ms, .. } => format!(
            "gate {state:?}, held {}: waiting for live values · o overrides",
            human_secs(*held_ms as f64 / 1000.0)
        ),
        Waiting::Assert { .. } => "assert: waiting for live values · o overrides".into(),
        Waiting::Ack { step } => format!("{step}: read, then enter acknowledges"),
        Waiting::Decision(q) => format!("{}: enter decides", q.reason),
        Waiting::Stopped { step, reason } => format!("stopped at {step}: {reason} · enter decides"),
        Waiting::Blocked { steps } => {
            format!("blocked: {} cannot start · F finishes", steps.join(", "))
        }
        Waiting::Finish => "every step is done: enter finishes the run".into(),
        Waiting::Finished { outcome } => format!("finished: {outcome}"),
    }
}

pub fn draw_run(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(p) = app.run.as_ref() else {
        f.render_widget(Paragraph::new(" no run is open").style(t.muted), area);
        return;
    };
    let run = &p.session.run;
    let rb = &run.runbook;
    let rto = run.rto();
    let mut head = vec![
        Span::styled(format!(" {} ", rb.meta.title), t.title),
        Span::styled(format!("run {} ", run.id), t.muted),
    ];
    if run.drill {
        head.push(Span::styled(
            " DRILL ",
            t.warn.add_modifier(Modifier::REVERSED),
        ));
    }
    let clock = match (rto.target_ms, rto.remaining_ms) {
        (Some(target), Some(rem)) => format!(
            " RTO {} · elapsed {} · remaining {}{}{}",
            human_secs(target as f64 / 1000.0),
            human_secs(rto.elapsed_ms as f64 / 1000.0),
            human_secs(rem as f64 / 1000.0),
            rto.projected_ms
                .map(|x| format!(" · projected {}", human_secs(x as f64 / 1000.0)))
                .unwrap_or_default(),
            if rto.stopped { " · restored" } else { "" }
        ),
        _ => format!(" elapsed {}", human_secs(rto.elapsed_ms as f64 / 1000.0)),
    };
    let late = rto.remaining_ms.is_some_and(|r| r < 0);
    head.push(Span::styled(
        clock,
        if late { t.critical } else { t.accent },
    ));
    let present: Vec<String> = run.present().iter().map(|x| x.actor.label()).collect();
    let people = Line::from(vec![
        Span::styled(" here: ", t.muted),
        Span::styled(
            if present.is_empty() {
                "—".into()
            } else {
                present.join(", ")
            },
            t.text,
        ),
        Span::styled(
            format!(
                "  marks: {}",
                run.marks
                    .iter()
                    .map(|m| m.0.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            t.muted,
        ),
    ]);
    let timeline_h = (area.height / 4).clamp(3, 8);
    let [top, people_a, body, tl, prompt_a] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(timeline_h),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(Line::from(head)), top);
    f.render_widget(Paragraph::new(people), people_a);

    let steps_w = 30.min(area.width / 3);
    let [steps_a, step_a] =
        Layout::horizontal([Constraint::Length(steps_w), Constraint::Min(20)]).areas(body);
    let current = run.current;
    let step_lines: Vec<Line> = rb
        .steps
        .iter()
        .zip(&run.steps)
        .enumerate()
        .map(|(i, (s, st))| {
            let style = match st.status {
                StepStatus::Active => t.accent,
                StepStatus::Failed => t.critical,
                StepStatus::Done | StepStatus::Skipped | StepStatus::Undone => t.muted,
                StepStatus::Pending => t.text,
            };
            let mut label = format!("{} {}", status_glyph(st.status, app.ascii), s.title);
            if s.rollback {
                label.push_str(" (rollback)");
            }
            let line = Line::from(Span::styled(label, style));
            if Some(i) == current {
                line.patch_style(t.selection)
            } else {
                line
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(step_lines)
            .block(Block::new().borders(Borders::RIGHT).border_style(t.border)),
        steps_a,
    );

    // The current step: its attributes, prose and actions with their states.
    let mut lines: Vec<Line> = Vec::new();
    if let Some(i) = current.or(run
        .steps
        .iter()
        .position(|s| s.status == StepStatus::Pending))
    {
        let s = &rb.steps[i];
        let st = &run.steps[i];
        let mut attrs = Vec::new();
        if s.danger != Danger::None {
            attrs.push(format!("danger={:?}", s.danger).to_lowercase());
        }
        if s.ponr {
            attrs.push("POINT OF NO RETURN".into());
        }
        if let Some(a) = &s.approval {
            attrs.push(format!("approval={a:?}").to_lowercase());
        }
        if let Some(e) = s.eta {
            attrs.push(format!("eta {e}"));
        }
        if let Some(o) = &s.owner {
            attrs.push(format!("owner {o}"));
        }
        lines.push(Line::from(Span::styled(format!(" {}", s.title), t.header)));
        if !attrs.is_empty() {
            lines.push(Line::from(Span::styled(
                format!(" {}", attrs.join(" · ")),
                if s.ponr || s.danger >= Danger::High {
                    t.critical
                } else {
                    t.muted
                },
            )));
        }
        for l in markdown_lines(&s.body, app) {
            lines.push(l);
        }
        for (ai, a) in s.actions.iter().enumerate() {
            let state = st
                .actions
                .get(ai)
                .map(RunPane::action_text)
                .unwrap_or_default();
            let (kind, text) = match &a.kind {
                ActionKind::Check { text } => ("[ ]", text.clone()),
                ActionKind::Command { text, .. } => {
                    ("$", text.lines().next().unwrap_or("").to_string())
                }
                ActionKind::Gate { expect, .. } => (
                    "gate",
                    expect
                        .iter()
                        .map(|e| e.text.clone())
                        .collect::<Vec<_>>()
                        .join(" and "),
                ),
                ActionKind::Assert { expect } => (
                    "assert",
                    expect
                        .iter()
                        .map(|e| e.text.clone())
                        .collect::<Vec<_>>()
                        .join(" and "),
                ),
            };
            let done = st.actions.get(ai).is_some_and(|x| x.complete());
            lines.push(Line::from(vec![
                Span::styled(format!(" {kind} "), t.accent),
                Span::styled(text, if done { t.muted } else { t.text }),
            ]));
            lines.push(Line::from(Span::styled(
                format!("     {state}"),
                if state.contains("OVERRIDDEN")
                    || state.contains("UNKNOWN")
                    || state.contains("FAILED")
                {
                    t.critical
                } else {
                    t.muted
                },
            )));
        }
    } else {
        lines.push(Line::from(Span::styled(" no step is current", t.muted)));
    }
    if let Some(c) = &p.session.runbook_changed {
        lines.push(Line::from(Span::styled(format!(" {c}"), t.warn)));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), step_a);

    let tl_lines: Vec<Line> = p
        .timeline
        .iter()
        .rev()
        .take(timeline_h.saturating_sub(1) as usize)
        .rev()
        .map(|l| {
            Line::from(Span::styled(
                format!(" {l}"),
                if l.contains("overrid") {
                    t.critical
                } else {
                    t.text
                },
            ))
        })
        .collect();
    f.render_widget(
        Paragraph::new(tl_lines).block(
            Block::new()
                .borders(Borders::TOP)
                .border_style(t.border)
                .title(Span::styled(" timeline ", t.header)),
        ),
        tl,
    );

    let prompt = match (&p.prompt, &p.message) {
        (
            Some(Prompt::Text {
                label,
                typed,
                purpose: super::runs::TextFor::Secret { .. },
            }),
            _,
        ) => Line::from(vec![
            Span::styled(format!(" {label}: "), t.accent),
            Span::styled(format!("{}▏", "•".repeat(typed.chars().count())), t.text),
        ]),
        (Some(Prompt::Text { label, typed, .. }), _) => Line::from(vec![
            Span::styled(format!(" {label}: "), t.accent),
            Span::styled(format!("{typed}▏"), t.text),
        ]),
        (Some(Prompt::Choose { label, options, .. }), _) => {
            let opts: Vec<String> = options
                .iter()
                .enumerate()
                .map(|(i, o)| format!("{} {o}", i + 1))
                .collect();
            Line::from(vec![
                Span::styled(format!(" {label}: "), t.accent),
                Span::styled(opts.join(" · "), t.text),
                Span::styled("  esc cancels", t.muted),
            ])
        }
        (None, Some((err, m))) => Line::from(Span::styled(
            format!(" {m}"),
            if *err { t.critical } else { t.ok },
        )),
        (None, None) => Line::from(Span::styled(
            format!(" {}", waiting_text(&p.waiting())),
            t.warn,
        )),
    };
    f.render_widget(Paragraph::new(prompt), prompt_a);
}

/// A step body's Markdown as lines: headings, list items, code, emphasis
/// markers dropped. Enough for a runbook's prose; the file stays the
/// reference.
fn markdown_lines<'a>(body: &str, app: &App) -> Vec<Line<'a>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let t = &app.theme;
    let mut out = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut in_code = false;
    let mut emph = 0;
    let mut task_item = false;
    let flush = |cur: &mut Vec<Span<'a>>, out: &mut Vec<Line<'a>>| {
        if !cur.is_empty() {
            out.push(Line::from(std::mem::take(cur)));
        }
    };
    for ev in Parser::new_ext(body, Options::ENABLE_TASKLISTS) {
        match ev {
            // Actions are drawn with their states below; their source is not repeated.
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Start(Tag::Item) => cur.push(Span::styled(" • ", t.muted)),
            Event::Start(Tag::Emphasis | Tag::Strong) => emph += 1,
            Event::End(TagEnd::Emphasis | TagEnd::Strong) => emph -= 1,
            // Checklist items are drawn as actions with their state.
            Event::TaskListMarker(_) => task_item = true,
            Event::End(TagEnd::Item) if task_item => {
                task_item = false;
                cur.clear();
            }
            Event::End(TagEnd::Paragraph) if task_item => {}
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_)) => {
                flush(&mut cur, &mut out)
            }
            Event::Start(Tag::Heading { .. }) => cur.push(Span::styled(" ", t.header)),
            Event::Text(s) if !in_code => {
                let style = if emph > 0 { t.title } else { t.text };
                if cur.is_empty() {
                    cur.push(Span::raw(" "));
                }
                cur.push(Span::styled(s.into_string(), style));
            }
            Event::Code(s) => cur.push(Span::styled(s.into_string(), t.accent)),
            Event::SoftBreak | Event::HardBreak => cur.push(Span::raw(" ")),
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    out
}

pub fn draw_start_form(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(form) = app.start_form.as_ref() else {
        return;
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "{}{}",
                if form.drill { "DRILL: " } else { "" },
                form.runbook.meta.title
            ),
            t.header,
        )),
        Line::from(Span::styled(
            form.runbook.meta.summary.clone().unwrap_or_default(),
            t.muted,
        )),
        Line::from(""),
    ];
    for (i, fl) in form.fields.iter().enumerate() {
        let value = if fl.spec.secret {
            "•".repeat(fl.value.chars().count())
        } else {
            fl.value.clone()
        };
        let hint = if fl.spec.choices.is_empty() {
            "type".to_string()
        } else {
            format!("←/→ of {}", fl.spec.choices.join(" | "))
        };
        let style = if i == form.idx { t.selection } else { t.text };
        lines.push(Line::from(vec![
            Span::styled(format!(" {}: ", fl.spec.prompt), t.accent),
            Span::styled(format!("{value} "), style),
            Span::styled(format!(" ({hint})"), t.muted),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " tab/↓ next · enter on the last starts the run · esc cancels",
        t.muted,
    )));
    super::view::popup(f, area, 76, " start a run ", lines, app);
}
