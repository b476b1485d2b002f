//! Fault tests: every way a source can misbehave ends in a clear error on
//! the trigger and the source (what and where), no panic, and `report`
//! exiting non-zero within its time limits. Servers are local and
//! misbehave on purpose; each config keeps timeouts to a second or two.

mod common;

use common::faults::{self, FaultServer};
use common::{Run, Workdir, source, trigger};

const VECTOR_42: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1796040000,"42"]}]}}"#;

fn prom_config(url: &str, extra: &str) -> String {
    format!(
        r#"
[cockpit]
refresh = "60s"
history = "1h"

[[source]]
name = "prom"
kind = "prometheus"
url = "{url}"
timeout = "1s"
retries = 1
{extra}

[[domain]]
id = "db"
title = "Database"

  [[domain.trigger]]
  id = "pool"
  title = "Pool"
  query = 'sum(db_pool_active)'
  capacity = 100
"#
    )
}

/// Runs the report and checks the failure is reported, on the trigger and
/// the source, with `want` in the message; returns the trigger's error.
fn assert_fails_with(w: &Workdir, want: &str) -> (String, Run) {
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(1), "report must fail: {}", run.stderr);
    let r = run.json();
    let t = trigger(&r, "db/pool");
    let err = t["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains(want), "trigger error {err:?} lacks {want:?}");
    assert_eq!(t["value"], serde_json::Value::Null);
    assert_eq!(t["state"], "unknown");
    let s = source(&r, t["source"].as_str().unwrap_or_default());
    assert_eq!(s["ok"], false);
    let last = s["last_error"].as_str().unwrap_or_default();
    assert!(last.contains(want), "source error {last:?} lacks {want:?}");
    assert!(
        run.stderr.contains(want),
        "stderr lacks {want:?}: {}",
        run.stderr
    );
    (err, run)
}

#[test]
fn connection_refused_names_the_url() {
    let url = faults::refused_url();
    let w = Workdir::new(&prom_config(&url, ""));
    let (err, _) = assert_fails_with(&w, "cannot connect");
    assert!(err.starts_with("prom: cannot connect: GET "), "{err}");
    assert!(err.contains(&format!("{url}/api/v1/query")), "{err}");
}

#[test]
fn a_server_that_accepts_and_stalls_times_out() {
    let s = FaultServer::start(faults::stall());
    let w = Workdir::new(&prom_config(&s.url, ""));
    let (err, _) = assert_fails_with(&w, "timed out after 1.0s");
    assert!(err.contains("sent no response headers"), "{err}");
    assert!(err.contains(&s.url), "{err}");
}

#[test]
fn a_trickling_body_times_out() {
    let s = FaultServer::start(faults::trickle());
    let w = Workdir::new(&prom_config(&s.url, ""));
    let (err, _) = assert_fails_with(&w, "the body was still arriving");
    assert!(err.contains(&s.url), "{err}");
}

#[test]
fn malformed_json_is_a_decode_error_quoting_the_answer() {
    let s = FaultServer::start(faults::fixed(
        "200 OK",
        "",
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"4"#,
    ));
    let w = Workdir::new(&prom_config(&s.url, ""));
    let (err, _) = assert_fails_with(&w, "unreadable answer: not a Prometheus API answer");
    assert!(err.contains("EOF while parsing"), "{err}");
    assert!(err.contains("/api/v1/query"), "{err}");
}

#[test]
fn a_fifty_megabyte_body_is_cut_at_the_default_cap() {
    let s = FaultServer::start(faults::flood(50));
    let w = Workdir::new(&prom_config(&s.url, ""));
    assert_fails_with(&w, "answer larger than the 32 MiB limit (max_response)");
}

#[test]
fn a_smaller_cap_is_honoured() {
    let s = FaultServer::start(faults::flood(3));
    let w = Workdir::new(&prom_config(&s.url, "max_response = \"1MiB\""));
    assert_fails_with(&w, "answer larger than the 1 MiB limit (max_response)");
}

#[test]
fn http_429_is_retried_after_retry_after_then_reported() {
    let s = FaultServer::start(faults::fixed(
        "429 Too Many Requests",
        "Retry-After: 0\r\n",
        "slow down",
    ));
    let w = Workdir::new(&prom_config(&s.url, ""));
    let (err, _) = assert_fails_with(&w, "HTTP 429: slow down");
    assert!(err.contains(&s.url), "{err}");
    // A backfill and an instant query, each tried twice (retries = 1).
    assert_eq!(s.hits(), 4);
}

#[test]
fn a_retry_after_longer_than_the_time_left_is_not_waited_for() {
    let s = FaultServer::start(faults::fixed(
        "429 Too Many Requests",
        "Retry-After: 120\r\n",
        "quota",
    ));
    let w = Workdir::new(&prom_config(&s.url, ""));
    assert_fails_with(&w, "HTTP 429: quota");
    assert_eq!(s.hits(), 2, "one try per query: waiting 120s does not fit");
}

#[test]
fn http_500_and_503_are_reported_with_their_body() {
    for (status, code) in [
        ("500 Internal Server Error", "HTTP 500"),
        ("503 Service Unavailable", "HTTP 503"),
    ] {
        let s = FaultServer::start(faults::fixed(status, "", "upstream exploded"));
        let w = Workdir::new(&prom_config(&s.url, ""));
        assert_fails_with(&w, &format!("{code}: upstream exploded"));
    }
}

#[test]
fn a_prometheus_error_payload_from_a_server_is_verbatim() {
    let s = FaultServer::start(faults::fixed(
        "422 Unprocessable Entity",
        "",
        r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#,
    ));
    let w = Workdir::new(&prom_config(&s.url, ""));
    let (err, _) = assert_fails_with(
        &w,
        "execution: query processing would load too many samples into memory in query execution",
    );
    assert_eq!(
        err,
        "prom: execution: query processing would load too many samples into memory in query execution"
    );
}

#[test]
fn a_source_that_recovers_within_its_retries_answers() {
    let s = FaultServer::start(faults::fail_then(
        1,
        "503 Service Unavailable",
        VECTOR_42.to_string(),
    ));
    let w = Workdir::new(&prom_config(&s.url, ""));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let r = run.json();
    assert_eq!(trigger(&r, "db/pool")["value"], 42.0);
    assert_eq!(source(&r, "prom")["ok"], true);
}

fn command_config(command: &str, extra: &str) -> String {
    format!(
        r#"
[cockpit]
refresh = "60s"
history = "1h"

[[source]]
name = "bastion"
kind = "command"
timeout = "1s"

[[domain]]
id = "db"
title = "Database"

  [[domain.trigger]]
  id = "pool"
  title = "Pool"
  command = {command}
  capacity = 100
  {extra}
"#
    )
}

#[test]
fn a_hanging_command_is_killed_at_its_timeout() {
    let w = Workdir::new(&command_config(r#"["sleep", "30"]"#, ""));
    let (err, _) = assert_fails_with(&w, "did not finish and was killed");
    assert_eq!(
        err,
        "bastion: timed out after 1.0s: command `sleep 30` did not finish and was killed"
    );
}

#[test]
fn a_command_printing_garbage_shows_its_output_and_stderr() {
    let w = Workdir::new(&command_config(
        r#"["echo not-a-number; echo 'psql: could not connect to server' >&2"]"#,
        "shell = true",
    ));
    let (err, _) = assert_fails_with(&w, "printed neither a number nor JSON");
    assert!(err.contains("\"not-a-number\""), "{err}");
    assert!(
        err.contains("stderr: psql: could not connect to server"),
        "{err}"
    );
}

#[test]
fn a_failing_command_shows_its_exit_status_and_stderr() {
    let w = Workdir::new(&command_config(
        r#"["sh", "-c", "echo denied >&2; exit 3"]"#,
        "",
    ));
    let (err, _) = assert_fails_with(&w, "failed (exit status: 3)");
    assert!(err.contains("stderr: denied"), "{err}");
}

#[test]
fn a_missing_program_is_named() {
    let w = Workdir::new(&command_config(r#"["/nonexistent/capdeck-probe"]"#, ""));
    assert_fails_with(&w, "cannot start `/nonexistent/capdeck-probe`");
}

fn json_config(url: &str, pointer: &str) -> String {
    format!(
        r#"
[cockpit]
refresh = "60s"
history = "1h"

[[source]]
name = "billing"
kind = "json"
url = "{url}"
timeout = "1s"
retries = 0

[[domain]]
id = "db"
title = "Database"

  [[domain.trigger]]
  id = "pool"
  title = "Pool"
  query = "/v1/usage"
  pointer = "{pointer}"
  capacity = 100
"#
    )
}

#[test]
fn a_json_pointer_that_matches_nothing_is_named() {
    let s = FaultServer::start(faults::fixed("200 OK", "", r#"{"usage":{"pool":12}}"#));
    let w = Workdir::new(&json_config(&s.url, "/usage/poool"));
    let (err, _) = assert_fails_with(&w, "pointer `/usage/poool` matches nothing");
    assert!(err.contains(&format!("{}/v1/usage", s.url)), "{err}");
}

#[test]
fn a_json_value_that_is_not_a_number_is_named() {
    let s = FaultServer::start(faults::fixed("200 OK", "", r#"{"usage":{"pool":"lots"}}"#));
    let w = Workdir::new(&json_config(&s.url, "/usage/pool"));
    assert_fails_with(&w, "at `/usage/pool`: \"lots\" is not a number");
}

#[test]
fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let s = FaultServer::start(std::sync::Arc::new(|_, _, conn| {
        faults::respond(conn, "200 OK", "", &vec![b' '; 2 * 1024 * 1024]);
    }));
    let w = Workdir::new(&prom_config(&s.url, "max_response = \"1MiB\""));
    assert_fails_with(&w, "answer larger than the 1 MiB limit (max_response)");
}

#[test]
fn retry_after_spaces_the_retries() {
    // Retry-After: 1 within a 1s instant budget and a 3s backfill budget:
    // the backfill is tried at 0s, 1s and 2s, the instant query once; the
    // backoff alone (at most 200, 400, 800 ms) would try far more often.
    let s = FaultServer::start(faults::fixed(
        "503 Service Unavailable",
        "Retry-After: 1\r\n",
        "warming up",
    ));
    let w = Workdir::new(&prom_config(&s.url, "").replace("retries = 1", "retries = 5"));
    assert_fails_with(&w, "HTTP 503: warming up");
    assert_eq!(s.hits(), 4);
}

#[test]
fn queries_queued_behind_a_stalled_source_end_with_the_run() {
    // Six queries, one request slot, a server that never answers: the
    // queued queries end at the run's deadline instead of one after another.
    let s = FaultServer::start(faults::stall());
    let mut cfg = prom_config(&s.url, "concurrency = 1");
    for i in 0..5 {
        cfg.push_str(&format!(
            "\n  [[domain.trigger]]\n  id = \"q{i}\"\n  title = \"Q{i}\"\n  query = 'up{{n=\"{i}\"}}'\n  capacity = 1\n"
        ));
    }
    let w = Workdir::new(&cfg);
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(1));
    let r = run.json();
    let errors: Vec<String> = r["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .map(|t| t["error"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(errors.len(), 6);
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("prom: timed out after ")),
        "{errors:?}"
    );
    // Waiting for the one slot counts against each query's own bound, so
    // every query ends within one timeout of its turn; the messages say
    // timeout either way ("waiting for a request slot" when it never got one).
}

#[test]
fn a_stalled_source_is_left_alone_then_probed_until_it_answers() {
    use common::Polling;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    // Stalls every request while `down`, then answers 42.
    let down = Arc::new(AtomicBool::new(true));
    let stalled = down.clone();
    let s = FaultServer::start(Arc::new(move |_, _, conn| {
        if stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(30));
        } else {
            faults::respond(conn, "200 OK", "", VECTOR_42.as_bytes());
        }
    }));
    let mut cfg = prom_config(&s.url, "")
        .replace("refresh = \"60s\"", "refresh = \"1s\"")
        .replace("retries = 1", "retries = 0");
    for i in 0..3 {
        cfg.push_str(&format!(
            "\n  [[domain.trigger]]\n  id = \"q{i}\"\n  title = \"Q{i}\"\n  query = 'up{{n=\"{i}\"}}'\n  capacity = 1\n"
        ));
    }
    let w = Workdir::new(&cfg);
    let polling = Polling::start(&w.file("capdeck.toml"), |_| true);
    let not_asked = |a: &capdeck::source::Answered| {
        a.result
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().starts_with("not asked: "))
    };
    polling.wait_for("query held back", Duration::from_secs(20), |a| {
        a.iter().any(not_asked)
    });
    // Four queries, a poll a second: left alone, the source gets a probe
    // now and then instead of every query every second.
    let (hits, from) = (s.hits(), Instant::now());
    std::thread::sleep(Duration::from_secs(6));
    let sent = s.hits() - hits;
    assert!(
        sent <= 4,
        "{sent} requests in {:?} to a source left alone",
        from.elapsed()
    );
    {
        let answers = polling.answers.lock().expect("answers");
        let held = answers.iter().find(|a| not_asked(a)).expect("held back");
        let e = held.result.as_ref().err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e
                .contains("requests in a row found the source down (timed out after ")
                && e.contains("next try in")),
            "{e:?}"
        );
    }
    // Back: a probe finds it and every query answers again.
    down.store(false, Ordering::SeqCst);
    polling.wait_for("answers after recovery", Duration::from_secs(90), |a| {
        let n = a.len();
        let recent = &a[n.saturating_sub(8)..];
        recent.len() == 8 && recent.iter().all(|a| a.result.is_ok())
    });
    polling.stop();
}
