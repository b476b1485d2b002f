//! One test per transition of the run state machine, driven without a
//! clock, a terminal or a file: the harness plays the journal.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::*;
use crate::runbook::parse_runbook;

const RB: &str = r#"+++
schema = 1
id = "t"
title = "Test"
kind = "failover"
watch = ['lag', 'waiting']

[objectives]
rto = "30m"
rpo = "30s"

[inputs.REPLICA]
prompt = "Replica"
choices = ["r2", "r3"]

[inputs.MODE]
prompt = "Mode"
choices = ["lost", "switch"]
default = "lost"

[conditions]
switching = "${MODE} == 'switch'"
calm = "waiting < 10"
+++
# Test

## Announce {#announce eta=2m}

- [ ] Tell the channel
- [ ] Freeze deploys

## Drain {#drain eta=1m when=switching}

- [ ] Pause the pooler

## Fence {#fence eta=3m requires=announce,drain|announce on_fail=ask}

```sh {id=fence-cmd timeout=30s}
fence "$REPLICA"
```

## Catch up {#catchup eta=5m on_fail=unfence}

```gate {id=caught-up}
expect = ["lag{instance='${REPLICA}'} < 5s"]
hold = "30s"
timeout = "10m"
on_timeout = "fail"
```

## Promote {#promote eta=2m danger=critical approval=two-person ponr marks=mitigated}

```sh {id=promote-cmd confirm="PROMOTE ${REPLICA}"}
promote "$REPLICA"
```

## Verify {#verify eta=4m marks=restored,resolved}

```assert {id=calm}
expect = ["waiting < 10"]
```

## Unfence {#unfence role=rollback undoes=fence eta=1m}

- [ ] Unfence the old primary
"#;

fn rb(text: &str) -> Arc<Runbook> {
    let r = parse_runbook(text);
    assert_eq!(r.problems, vec![], "test runbook must parse");
    Arc::new(r)
}

fn alice() -> Actor {
    Actor {
        user: "alice".into(),
        uid: 1001,
        host: "bastion".into(),
        pid: 10,
        ..Actor::default()
    }
}

fn bob() -> Actor {
    Actor {
        user: "bob".into(),
        uid: 1002,
        host: "bastion".into(),
        pid: 20,
        ..Actor::default()
    }
}

/// A metric name, its labels and its value.
type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

struct H {
    run: Run,
    log: Vec<Entry>,
    now: i64,
}

const T0: i64 = 1_800_000_000_000;

impl H {
    fn new(text: &str, policy: ExecPolicy) -> H {
        H {
            run: Run::new("run-1", rb(text), policy, alice()),
            log: Vec::new(),
            now: T0,
        }
    }

    fn started(inputs: &[(&str, &str)]) -> H {
        let mut h = H::new(
            RB,
            ExecPolicy {
                allow_exec: true,
                drills_execute: false,
            },
        );
        let fx = h.start(inputs, false);
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Rejected(_))),
            "{fx:?}"
        );
        h
    }

    fn start(&mut self, inputs: &[(&str, &str)], drill: bool) -> Vec<Effect> {
        let inputs = inputs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        self.send(Event::Start {
            inputs,
            drill,
            origin: "t.md".into(),
            file: "runbook.md".into(),
        })
    }

    fn send(&mut self, ev: Event) -> Vec<Effect> {
        self.send_as(ev, alice())
    }

    /// Applies an event and performs its appends (as the journal would),
    /// returning every other effect.
    fn send_as(&mut self, ev: Event, actor: Actor) -> Vec<Effect> {
        let mut queue: VecDeque<Effect> = apply(&mut self.run, ev).into();
        let mut others = Vec::new();
        while let Some(eff) = queue.pop_front() {
            match eff {
                Effect::Append { fact, if_last_seq } => {
                    let last = self.log.last().map(|e| e.seq).unwrap_or(0);
                    if if_last_seq.is_some_and(|s| s != last) {
                        continue;
                    }
                    let e = Entry {
                        v: 1,
                        seq: last + 1,
                        ts: self.now,
                        run: "run-1".into(),
                        actor: actor.clone(),
                        fact,
                        prev: String::new(),
                    };
                    self.log.push(e.clone());
                    queue.extend(apply(&mut self.run, Event::Journaled(e)));
                }
                other => others.push(other),
            }
        }
        others
    }

    fn at(&mut self, ms: i64) -> Vec<Effect> {
        self.now = T0 + ms;
        self.send(Event::Tick { now_ms: self.now })
    }

    fn readings(&mut self, rows: &[Row]) -> Vec<Effect> {
        let mut selectors: HashMap<String, Vec<Reading>> = HashMap::new();
        for sel in self.run.selectors() {
            let got: Vec<Reading> = rows
                .iter()
                .filter(|(m, _, _)| *m == sel.metric)
                .map(|(_, l, v)| {
                    let labels: BTreeMap<String, String> = l
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    (labels, Some((self.now, *v)))
                })
                .filter(|(l, _)| sel.matchers.iter().all(|m| m.matches(l)))
                .collect();
            selectors.insert(reading_key(&sel), got);
        }
        let r = Readings {
            at_ms: self.now,
            stale_after_ms: 60_000,
            selectors,
            triggers: HashMap::new(),
        };
        self.send(Event::Readings(r))
    }

    /// A line another process wrote (the command child, another session).
    fn inject(&mut self, fact: Fact, actor: Actor, ts: i64) -> Vec<Effect> {
        let seq = self.log.last().map(|e| e.seq).unwrap_or(0) + 1;
        let e = Entry {
            v: 1,
            seq,
            ts,
            run: "run-1".into(),
            actor,
            fact,
            prev: String::new(),
        };
        self.now = self.now.max(ts);
        let mut q: VecDeque<Effect> = VecDeque::new();
        self.log.push(e.clone());
        q.extend(apply(&mut self.run, Event::Journaled(e)));
        let mut others = Vec::new();
        while let Some(eff) = q.pop_front() {
            match eff {
                Effect::Append { fact, if_last_seq } => {
                    let last = self.log.last().map(|e| e.seq).unwrap_or(0);
                    if if_last_seq.is_some_and(|s| s != last) {
                        continue;
                    }
                    let e = Entry {
                        v: 1,
                        seq: last + 1,
                        ts: self.now,
                        run: "run-1".into(),
                        actor: alice(),
                        fact,
                        prev: String::new(),
                    };
                    self.log.push(e.clone());
                    q.extend(apply(&mut self.run, Event::Journaled(e)));
                }
                other => others.push(other),
            }
        }
        others
    }

    fn types(&self) -> Vec<&'static str> {
        self.log.iter().map(|e| e.fact.type_name()).collect()
    }

    fn current(&self) -> Option<&str> {
        self.run
            .current
            .map(|i| self.run.runbook.steps[i].id.as_str())
    }

    fn status(&self, id: &str) -> StepStatus {
        self.run.steps[self.run.runbook.step_index(id).unwrap()].status
    }

    fn tick_all(&mut self, step: &str) {
        loop {
            match self.run.waiting() {
                Waiting::Check { step: s, actions } if s == step => {
                    let fx = self.send(Event::Check {
                        step: s,
                        action: actions[0],
                    });
                    assert!(fx.is_empty(), "{fx:?}");
                }
                _ => break,
            }
        }
    }

    /// Walks to the gate of `catchup`.
    fn walk_to_catchup(&mut self) {
        self.tick_all("announce");
        assert_eq!(self.current(), Some("fence"));
        self.send(Event::ReportCommand {
            step: "fence".into(),
            action: 0,
            ok: true,
            note: "ran it by hand".into(),
        });
        assert_eq!(self.current(), Some("catchup"));
    }

    /// Walks to `promote`, gate passed.
    fn walk_to_promote(&mut self) {
        self.walk_to_catchup();
        self.readings(&[("lag", &[("instance", "r2")], 1.0)]);
        self.at(31_000);
        self.readings(&[("lag", &[("instance", "r2")], 1.0)]);
        assert_eq!(self.current(), Some("promote"), "{:?}", self.types());
    }
}

fn rejected(fx: &[Effect]) -> Option<&str> {
    fx.iter().find_map(|e| match e {
        Effect::Rejected(m) => Some(m.as_str()),
        _ => None,
    })
}

#[test]
fn start_asks_for_inputs_fills_defaults_and_refuses_bad_choices() {
    let mut h = H::new(RB, ExecPolicy::default());
    assert_eq!(h.run.waiting(), Waiting::Inputs);
    assert_eq!(
        rejected(&h.start(&[], false)),
        Some("inputs needed: REPLICA")
    );
    assert!(
        rejected(&h.start(&[("REPLICA", "r9")], false))
            .unwrap()
            .contains("not one of r2, r3")
    );
    assert!(
        rejected(&h.start(&[("REPLICA", "r2"), ("X", "1")], false))
            .unwrap()
            .contains("not declared")
    );
    assert!(h.start(&[("REPLICA", "r2")], false).is_empty());
    assert_eq!(h.run.inputs.get("MODE").map(String::as_str), Some("lost"));
    assert_eq!(h.types(), vec!["run_started", "step_started"]);
    assert_eq!(h.current(), Some("announce"));
    assert!(rejected(&h.start(&[("REPLICA", "r2")], false)).is_some());
}

#[test]
fn checklist_ticks_are_journaled_with_who_and_complete_the_step() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    assert_eq!(
        h.run.waiting(),
        Waiting::Check {
            step: "announce".into(),
            actions: vec![0, 1]
        }
    );
    // Items of one checklist may be ticked in any order.
    h.send(Event::Check {
        step: "announce".into(),
        action: 1,
    });
    assert!(
        rejected(&h.send(Event::Check {
            step: "announce".into(),
            action: 1
        }))
        .is_some()
    );
    h.send_as(
        Event::Check {
            step: "announce".into(),
            action: 0,
        },
        bob(),
    );
    assert_eq!(h.status("announce"), StepStatus::Done);
    let ticks: Vec<&Entry> = h
        .log
        .iter()
        .filter(|e| e.fact.type_name() == "ticked")
        .collect();
    assert_eq!(ticks[0].actor.user, "alice");
    assert_eq!(ticks[1].actor.user, "bob");
    assert!(
        matches!(&h.run.steps[0].actions[0], ActionState::Ticked { by, .. } if by.starts_with("bob@"))
    );
}

#[test]
fn when_false_skips_the_step_and_journals_the_skip() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.tick_all("announce");
    assert_eq!(h.status("drain"), StepStatus::Skipped);
    let skip = h
        .log
        .iter()
        .find(|e| e.fact.type_name() == "step_skipped")
        .unwrap();
    assert!(matches!(&skip.fact, Fact::StepSkipped { reason, .. } if reason.contains("switching")));
    // A skipped step counts as done for `requires`: fence starts.
    assert_eq!(h.current(), Some("fence"));
}

#[test]
fn when_true_starts_the_step() {
    let mut h = H::started(&[("REPLICA", "r2"), ("MODE", "switch")]);
    h.tick_all("announce");
    assert_eq!(h.current(), Some("drain"));
    let started = h
        .log
        .iter()
        .rev()
        .find(|e| e.fact.type_name() == "step_started")
        .unwrap();
    assert!(matches!(
        &started.fact,
        Fact::StepStarted {
            when: Some(Some(true)),
            ..
        }
    ));
}

#[test]
fn when_unknown_does_not_skip() {
    let text = RB.replace("when=switching", "when=calm");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.tick_all("announce");
    // No readings at all: `waiting < 10` is unknown, the operator decides.
    assert_eq!(h.current(), Some("drain"));
    let started = h
        .log
        .iter()
        .rev()
        .find(|e| e.fact.type_name() == "step_started")
        .unwrap();
    assert!(matches!(
        &started.fact,
        Fact::StepStarted {
            when: Some(None),
            ..
        }
    ));
}

#[test]
fn requires_any_of_and_all_of() {
    let r = Requires(vec![vec!["a".into(), "b".into()], vec!["c".into()]]);
    assert!(r.met(|id| id == "b" || id == "c"));
    assert!(!r.met(|id| id == "a"));
    assert!(!r.met(|id| id == "c"));
    let text = RB.replace("requires=announce,drain|announce", "requires=verify");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.tick_all("announce");
    // fence needs verify, which is after it: catchup (no requires) goes first.
    assert_eq!(h.current(), Some("catchup"));
}

#[test]
fn blocked_when_no_remaining_step_can_start() {
    let text = "+++\nschema = 1\nid = \"b\"\ntitle = \"B\"\nkind = \"other\"\n+++\n# B\n\n## A {#a requires=b}\n\n## B {#b requires=a}\n";
    let mut h = H::new(text, ExecPolicy::default());
    h.start(&[], false);
    assert_eq!(h.current(), None);
    assert_eq!(
        h.run.waiting(),
        Waiting::Blocked {
            steps: vec!["a".into(), "b".into()]
        }
    );
}

#[test]
fn an_override_moves_past_a_gate() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.send(Event::Override {
        step: "catchup".into(),
        action: 0,
        reason: "checked lag by hand".into(),
    });
    assert_eq!(h.current(), Some("promote"));
}

#[test]
fn gate_waits_holds_and_passes_after_hold() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 12.0)]);
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Waiting,
            ..
        }
    ));
    h.at(5_000);
    h.readings(&[("lag", &[("instance", "r2")], 3.0)]);
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Holding,
            ..
        }
    ));
    h.at(20_000);
    h.readings(&[("lag", &[("instance", "r2")], 2.0)]);
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Holding,
            held_ms: 15_000,
            ..
        }
    ));
    h.at(35_000);
    h.readings(&[("lag", &[("instance", "r2")], 2.0)]);
    assert_eq!(h.status("catchup"), StepStatus::Done);
    let states: Vec<GateState> = h
        .log
        .iter()
        .filter_map(|e| match &e.fact {
            Fact::GateChanged { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            GateState::Unknown,
            GateState::Waiting,
            GateState::Holding,
            GateState::Passed
        ]
    );
    // The values seen are journaled.
    let passed = h
        .log
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.fact,
                Fact::GateChanged {
                    state: GateState::Passed,
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        matches!(&passed.fact, Fact::GateChanged { seen, .. } if seen[0].value == Some(2.0) && seen[0].what == "lag{instance='r2'}")
    );
}

#[test]
fn a_holding_gate_that_breaks_waits_again() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 1.0)]);
    h.at(10_000);
    h.readings(&[("lag", &[("instance", "r2")], 9.0)]);
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Waiting,
            ..
        }
    ));
    h.at(45_000);
    h.readings(&[("lag", &[("instance", "r2")], 1.0)]);
    // Holding restarts from here: 30 s more are needed.
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Holding,
            held_ms: 0,
            ..
        }
    ));
}

#[test]
fn gates_fail_closed_on_missing_and_stale_samples() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    // A series for another instance only: nothing matches.
    h.readings(&[("lag", &[("instance", "r3")], 0.0)]);
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Unknown,
            ..
        }
    ));
    // A stale sample: older than stale_after.
    let sel = h
        .run
        .selectors()
        .into_iter()
        .find(|s| s.metric == "lag")
        .unwrap();
    let labels: BTreeMap<String, String> = [("instance".to_string(), "r2".to_string())].into();
    let mut r = Readings {
        at_ms: T0 + 120_000,
        stale_after_ms: 60_000,
        ..Readings::default()
    };
    r.selectors
        .insert(reading_key(&sel), vec![(labels, Some((T0, 0.0)))]);
    h.now = T0 + 120_000;
    h.send(Event::Readings(r));
    assert!(matches!(
        h.run.waiting(),
        Waiting::Gate {
            state: GateState::Unknown,
            ..
        }
    ));
    let last = h.log.last().unwrap();
    assert!(
        matches!(&last.fact, Fact::GateChanged { .. })
            || h.run.steps[3].actions[0] != ActionState::Pending
    );
}

#[test]
fn gate_timeout_fails_the_step_and_on_fail_jumps() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 50.0)]);
    h.at(600_000);
    assert_eq!(h.status("catchup"), StepStatus::Failed);
    assert_eq!(h.run.gate_timeouts, vec!["catchup#0".to_string()]);
    assert_eq!(
        drill_report(&h.run).gates_timed_out,
        vec!["catchup#0".to_string()]
    );
    // on_fail=unfence: the rollback step is next.
    assert_eq!(h.current(), Some("unfence"));
    let t = h.types();
    assert!(
        t.ends_with(&["gate_changed", "step_failed", "step_started"]),
        "{t:?}"
    );
}

#[test]
fn gate_timeout_with_ask_asks_and_retry_reevaluates() {
    let text = RB.replace("on_timeout = \"fail\"", "on_timeout = \"ask\"");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 50.0)]);
    h.at(600_000);
    let Waiting::Decision(q) = h.run.waiting() else {
        panic!("{:?}", h.run.waiting())
    };
    assert_eq!(q.choices, vec![Choice::Retry, Choice::Skip, Choice::Stop]);
    h.send(Event::Decide {
        step: "catchup".into(),
        choice: Choice::Retry,
        reason: String::new(),
    });
    h.readings(&[("lag", &[("instance", "r2")], 50.0)]);
    assert!(
        matches!(
            h.run.waiting(),
            Waiting::Gate {
                state: GateState::Waiting,
                ..
            }
        ),
        "{:?}",
        h.run.waiting()
    );
}

#[test]
fn gate_timeout_to_a_step_jumps_there() {
    let text = RB.replace("on_timeout = \"fail\"", "on_timeout = \"verify\"");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.walk_to_catchup();
    h.at(600_000);
    assert_eq!(h.current(), Some("verify"));
    assert!(h.types().contains(&"jumped"));
}

#[test]
fn override_needs_a_reason_and_is_recorded() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 40.0)]);
    let fx = h.send(Event::Override {
        step: "catchup".into(),
        action: 0,
        reason: "  ".into(),
    });
    assert_eq!(rejected(&fx), Some("an override needs a written reason"));
    h.send(Event::Override {
        step: "catchup".into(),
        action: 0,
        reason: "lag metric broken; checked pg_stat_replication".into(),
    });
    assert_eq!(h.status("catchup"), StepStatus::Done);
    assert_eq!(h.run.overrides.len(), 1);
    assert!(h.run.overrides[0].3.contains("pg_stat_replication"));
    // The override keeps what the gate saw, as RPO evidence marked overridden.
    assert!(
        h.run
            .rpo
            .iter()
            .any(|e| e.overridden && e.value_s == Some(40.0))
    );
}

#[test]
fn ponr_warns_before_it_starts_and_waits_for_acknowledgement() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_catchup();
    h.readings(&[("lag", &[("instance", "r2")], 1.0)]);
    let mut fx = h.at(31_000);
    fx.extend(h.readings(&[("lag", &[("instance", "r2")], 1.0)]));
    assert!(fx.iter().any(|e| matches!(e, Effect::Warn(Warning::PointOfNoReturn { step, rollbacks }) if step == "promote" && rollbacks == &vec!["unfence".to_string()])), "{fx:?}");
    assert_eq!(
        h.run.waiting(),
        Waiting::PonrAck {
            step: "promote".into()
        }
    );
    assert!(
        rejected(&h.send(Event::Approve {
            step: "promote".into(),
            actor: alice()
        }))
        .is_some()
    );
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    assert!(matches!(
        h.run.waiting(),
        Waiting::Approval {
            two_person: true,
            ..
        }
    ));
}

#[test]
fn two_person_approval_needs_a_different_os_user() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    let fx = h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    assert!(rejected(&fx).unwrap().contains("second person"));
    // Same user from another session (another pid) is still the same person.
    let alice2 = Actor {
        pid: 99,
        tty: Some("/dev/pts/9".into()),
        ..alice()
    };
    assert!(
        rejected(&h.send_as(
            Event::Approve {
                step: "promote".into(),
                actor: alice2.clone()
            },
            alice2
        ))
        .is_some()
    );
    h.send_as(
        Event::Approve {
            step: "promote".into(),
            actor: bob(),
        },
        bob(),
    );
    assert_eq!(
        h.run.waiting(),
        Waiting::Command {
            step: "promote".into(),
            action: 0
        }
    );
    assert!(
        h.types()
            .ends_with(&["approval_requested", "approval_granted"])
    );
}

#[test]
fn ack_approval_needs_one_confirmation() {
    let text = RB.replace("approval=two-person ponr", "approval=ack ponr");
    let mut h = H::new(
        &text,
        ExecPolicy {
            allow_exec: true,
            drills_execute: false,
        },
    );
    h.start(&[("REPLICA", "r2")], false);
    h.walk_to_promote();
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    assert_eq!(
        h.run.waiting(),
        Waiting::Command {
            step: "promote".into(),
            action: 0
        }
    );
}

#[test]
fn critical_commands_need_the_confirm_phrase_and_allow_exec() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    h.send_as(
        Event::Approve {
            step: "promote".into(),
            actor: bob(),
        },
        bob(),
    );
    let run = |c: Option<&str>| Event::RunCommand {
        step: "promote".into(),
        action: 0,
        confirm: c.map(str::to_string),
    };
    assert_eq!(
        rejected(&h.send(run(None))),
        Some("type `PROMOTE r2` to run this command")
    );
    assert!(rejected(&h.send(run(Some("PROMOTE r3")))).is_some());
    let fx = h.send(run(Some("PROMOTE r2")));
    let Some(Effect::Execute(req)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(req.text, "promote \"$REPLICA\"\n");
    assert!(req.env.contains(&("REPLICA".to_string(), "r2".to_string())));
    assert_eq!(req.timeout_ms, 300_000);
    assert!(!req.simulated);
    // Off by configuration: refused, copy only.
    h.run.policy.allow_exec = false;
    assert!(
        rejected(&h.send(run(Some("PROMOTE r2"))))
            .unwrap()
            .contains("allow_exec")
    );
}

#[test]
fn command_start_and_finish_from_the_child_complete_the_action() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.tick_all("announce");
    let started = Fact::CommandStarted {
        step: "fence".into(),
        action: 0,
        pid: 4242,
        output: "out/fence-0.log".into(),
        simulated: false,
        text_hash: "x".into(),
    };
    h.inject(started, alice(), T0);
    assert_eq!(
        h.run.waiting(),
        Waiting::CommandRunning {
            step: "fence".into(),
            action: 0
        }
    );
    assert!(
        rejected(&h.send(Event::RunCommand {
            step: "fence".into(),
            action: 0,
            confirm: None
        }))
        .unwrap()
        .contains("running")
    );
    let finished = Fact::CommandFinished {
        step: "fence".into(),
        action: 0,
        exit: Some(0),
        signal: None,
        timed_out: false,
        duration_ms: 1200,
        output_hash: "h".into(),
        output_bytes: 3,
        simulated: false,
    };
    // The raw effects: StepDone is proposed against the new tail.
    let seq = h.log.len() as u64 + 1;
    let mut probe = h.run.clone();
    let fx = apply(
        &mut probe,
        Event::Journaled(Entry {
            v: 1,
            seq,
            ts: T0 + 1200,
            run: "run-1".into(),
            actor: alice(),
            fact: finished.clone(),
            prev: String::new(),
        }),
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Append { fact: Fact::StepDone { .. }, if_last_seq: Some(s) } if *s == seq)), "{fx:?}");
    h.inject(finished, alice(), T0 + 1200);
    assert_eq!(h.status("fence"), StepStatus::Done);
    assert_eq!(h.current(), Some("catchup"));
}

#[test]
fn a_failed_command_fails_the_step_and_on_fail_ask_asks() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.tick_all("announce");
    h.send(Event::ReportCommand {
        step: "fence".into(),
        action: 0,
        ok: false,
        note: "fence said: permission denied".into(),
    });
    assert_eq!(h.status("fence"), StepStatus::Failed);
    let Waiting::Decision(q) = h.run.waiting() else {
        panic!()
    };
    assert_eq!(q.step, "fence");
    h.send(Event::Decide {
        step: "fence".into(),
        choice: Choice::Retry,
        reason: "fixed sudo".into(),
    });
    assert_eq!(h.current(), Some("fence"));
    assert_eq!(
        h.run.waiting(),
        Waiting::Command {
            step: "fence".into(),
            action: 0
        }
    );
}

#[test]
fn on_fail_stop_stops_the_run() {
    let text = RB.replace("on_fail=ask", "on_fail=stop");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.tick_all("announce");
    h.send(Event::ReportCommand {
        step: "fence".into(),
        action: 0,
        ok: false,
        note: "no".into(),
    });
    assert!(matches!(h.run.waiting(), Waiting::Stopped { .. }));
    h.at(1000);
    assert_eq!(h.current(), None, "nothing starts by itself after a stop");
    h.send(Event::Decide {
        step: "fence".into(),
        choice: Choice::Skip,
        reason: "done by the DBA".into(),
    });
    assert_eq!(h.status("fence"), StepStatus::Skipped);
    assert_eq!(h.current(), Some("catchup"));
}

#[test]
fn a_lost_command_is_unknown_and_never_rerun_by_itself() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.tick_all("announce");
    let started = Fact::CommandStarted {
        step: "fence".into(),
        action: 0,
        pid: 4242,
        output: String::new(),
        simulated: false,
        text_hash: "x".into(),
    };
    h.inject(started, alice(), T0);
    h.send(Event::CommandLost {
        step: "fence".into(),
        action: 0,
        reason: "pid 4242 is gone".into(),
    });
    assert_eq!(
        h.run.waiting(),
        Waiting::CommandUnknown {
            step: "fence".into(),
            action: 0
        }
    );
    let fx = h.send(Event::RunCommand {
        step: "fence".into(),
        action: 0,
        confirm: None,
    });
    assert!(rejected(&fx).unwrap().contains("never re-run"));
    h.at(60_000);
    assert_eq!(
        h.run.waiting(),
        Waiting::CommandUnknown {
            step: "fence".into(),
            action: 0
        }
    );
    h.send(Event::ReportCommand {
        step: "fence".into(),
        action: 0,
        ok: true,
        note: "old primary is fenced (checked iptables)".into(),
    });
    assert_eq!(h.status("fence"), StepStatus::Done);
}

#[test]
fn drills_simulate_commands_unless_allowed() {
    let mut h = H::new(
        RB,
        ExecPolicy {
            allow_exec: false,
            drills_execute: false,
        },
    );
    h.start(&[("REPLICA", "r2")], true);
    h.tick_all("announce");
    let fx = h.send(Event::RunCommand {
        step: "fence".into(),
        action: 0,
        confirm: None,
    });
    let Some(Effect::Execute(req)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert!(req.simulated);
    h.run.policy.drills_execute = true;
    let fx = h.send(Event::RunCommand {
        step: "fence".into(),
        action: 0,
        confirm: None,
    });
    assert!(rejected(&fx).unwrap().contains("allow_exec"));
}

#[test]
fn copy_puts_exports_before_the_text() {
    let text = RB.replace("choices = [\"r2\", \"r3\"]\n", "");
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r'2")], false);
    let fx = h.send(Event::CopyCommand {
        step: "fence".into(),
        action: 0,
    });
    assert_eq!(
        fx,
        vec![Effect::Copy {
            text: "export MODE='lost'\nexport REPLICA='r'\\''2'\nfence \"$REPLICA\"\n".into()
        }]
    );
}

#[test]
fn rollback_is_offered_while_what_it_undoes_is_done_and_not_after_ponr() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    assert!(h.run.rollbacks_offered().is_empty());
    assert!(
        rejected(&h.send(Event::StartRollback {
            step: "unfence".into()
        }))
        .is_some()
    );
    h.walk_to_catchup();
    assert_eq!(h.run.rollbacks_offered(), vec!["unfence".to_string()]);
    h.send(Event::StartRollback {
        step: "unfence".into(),
    });
    assert_eq!(h.current(), Some("unfence"));
    h.tick_all("unfence");
    // Fence was undone; the main path does it again.
    assert!(h.types().contains(&"step_done"));
    assert_eq!(h.current(), Some("fence"));
    assert_eq!(h.status("fence"), StepStatus::Active);
    assert!(h.run.rollbacks_offered().is_empty());
    // Past the point of no return, no rollback is offered.
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    assert!(h.run.rollbacks_offered().is_empty());
}

#[test]
fn marks_from_steps_and_by_hand_and_restored_stops_the_rto_clock() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    h.send_as(
        Event::Approve {
            step: "promote".into(),
            actor: bob(),
        },
        bob(),
    );
    h.send(Event::ReportCommand {
        step: "promote".into(),
        action: 0,
        ok: true,
        note: "promoted via console".into(),
    });
    assert_eq!(
        h.run.marks.iter().map(|m| m.0).collect::<Vec<_>>(),
        vec![Mark::Mitigated]
    );
    h.at(100_000);
    h.readings(&[("waiting", &[], 2.0)]);
    assert_eq!(h.status("verify"), StepStatus::Done);
    assert!(h.run.marks.iter().any(|m| m.0 == Mark::Restored));
    let rto = h.run.rto();
    assert!(rto.stopped);
    assert_eq!(rto.elapsed_ms, 100_000);
    h.at(900_000);
    assert_eq!(
        h.run.rto().elapsed_ms,
        100_000,
        "the clock stopped at restored"
    );
    assert!(
        rejected(&h.send(Event::Mark {
            mark: Mark::Resolved
        }))
        .is_some(),
        "verify marked resolved already"
    );
    let mut h2 = H::started(&[("REPLICA", "r2")]);
    h2.send(Event::Mark {
        mark: Mark::Mitigated,
    });
    assert_eq!(h2.run.marks[0].0, Mark::Mitigated);
}

#[test]
fn rto_clock_elapsed_remaining_and_projection() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.at(60_000);
    let r = h.run.rto();
    assert_eq!(r.target_ms, Some(1_800_000));
    assert_eq!(r.elapsed_ms, 60_000);
    assert_eq!(r.remaining_ms, Some(1_740_000));
    // announce 2m (1m spent) + drain 1m + fence 3m + catchup 5m + promote 2m
    // + verify 4m (the restored step); the rollback step does not count.
    assert_eq!(
        r.projected_ms,
        Some(T0 + 60_000 + (60 + 60 + 180 + 300 + 120 + 240) * 1000)
    );
    h.send(Event::ImpactStart {
        at_ms: T0 - 600_000,
    });
    assert_eq!(h.run.rto().elapsed_ms, 660_000);
}

#[test]
fn rpo_evidence_is_what_time_limited_gates_saw() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    assert_eq!(h.run.rpo.len(), 1);
    assert_eq!(h.run.rpo[0].value_s, Some(1.0));
    assert_eq!(h.run.rpo_observed_s(), Some(1.0));
}

#[test]
fn assert_true_false_and_unknown() {
    let text = RB.replace(
        "## Announce {#announce eta=2m}\n\n- [ ] Tell the channel\n- [ ] Freeze deploys",
        "## Announce {#announce eta=2m}\n\n```assert\nexpect = [\"waiting < 10\"]\n```",
    );
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.readings(&[]);
    let Waiting::Decision(q) = h.run.waiting() else {
        panic!("{:?}", h.run.waiting())
    };
    assert!(q.reason.contains("missing or stale"));
    h.send(Event::Decide {
        step: "announce".into(),
        choice: Choice::Retry,
        reason: String::new(),
    });
    h.readings(&[("waiting", &[], 50.0)]);
    assert_eq!(h.status("announce"), StepStatus::Failed);
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    h.readings(&[("waiting", &[], 1.0)]);
    assert_eq!(h.status("announce"), StepStatus::Done);
}

#[test]
fn a_step_without_actions_is_acknowledged() {
    let text = RB.replace(
        "- [ ] Tell the channel\n- [ ] Freeze deploys",
        "Read this first.",
    );
    let mut h = H::new(&text, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], false);
    assert_eq!(
        h.run.waiting(),
        Waiting::Ack {
            step: "announce".into()
        }
    );
    h.send(Event::AckStep {
        step: "announce".into(),
    });
    assert_eq!(h.status("announce"), StepStatus::Done);
}

#[test]
fn notes_participants_and_finish_with_a_drill_report() {
    let mut h = H::new(RB, ExecPolicy::default());
    h.start(&[("REPLICA", "r2")], true);
    h.send_as(Event::Join, bob());
    assert_eq!(h.run.present().len(), 2);
    h.send_as(Event::Leave, bob());
    assert_eq!(h.run.present().len(), 1);
    h.send(Event::Note {
        text: "DBA on the bridge".into(),
    });
    assert!(rejected(&h.send(Event::Note { text: " ".into() })).is_some());
    h.at(120_000);
    h.tick_all("announce");
    h.send(Event::Finish {
        outcome: "drill ended".into(),
    });
    assert!(h.types().ends_with(&["drill_report", "run_finished"]));
    let Fact::DrillReport { report } = &h.log[h.log.len() - 2].fact else {
        panic!()
    };
    assert_eq!(report.steps[0].duration_s, Some(120.0));
    assert_eq!(report.steps[0].eta_s, Some(120.0));
    assert_eq!(report.notes.len(), 1);
    assert!(matches!(h.run.waiting(), Waiting::Finished { .. }));
    assert!(
        rejected(&h.send(Event::Finish {
            outcome: "again".into()
        }))
        .is_some()
    );
}

#[test]
fn a_derived_fact_is_dropped_when_the_journal_moved_on() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.tick_all("announce");
    // Two sessions both derive `StepStarted(fence)`; the journal took one.
    let dup = Entry {
        v: 1,
        seq: h.run.last_seq + 1,
        ts: T0,
        run: "run-1".into(),
        actor: bob(),
        fact: Fact::StepStarted {
            step: "fence".into(),
            rollback: false,
            when: None,
            seen: vec![],
        },
        prev: String::new(),
    };
    let before = h.run.clone();
    h.send(Event::Journaled(dup.clone()));
    assert_eq!(h.run.steps, before.steps, "a duplicate changes nothing");
    assert!(h.run.ignored.contains(&dup.seq));
}

#[test]
fn replaying_the_journal_rebuilds_the_run_exactly() {
    let mut h = H::started(&[("REPLICA", "r2")]);
    h.walk_to_promote();
    h.send(Event::AckPonr {
        step: "promote".into(),
    });
    h.send(Event::Approve {
        step: "promote".into(),
        actor: alice(),
    });
    h.send(Event::Note {
        text: "waiting for bob".into(),
    });
    let fresh = Run::new("run-1", h.run.runbook.clone(), h.run.policy, alice());
    let replayed = replay(fresh, &h.log);
    assert_eq!(replayed.steps, h.run.steps);
    assert_eq!(replayed.current, h.run.current);
    assert_eq!(replayed.marks, h.run.marks);
    assert_eq!(replayed.notes, h.run.notes);
    assert_eq!(replayed.rpo, h.run.rpo);
    assert_eq!(replayed.inputs, h.run.inputs);
    assert_eq!(replayed.last_seq, h.run.last_seq);
    assert_eq!(replayed.waiting(), h.run.waiting());
}
