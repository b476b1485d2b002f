//! The JSON and command sources when they work: values picked by pointer,
//! forecast results read as a trigger's external forecast, numbers and JSON
//! from commands, and secrets sent from env vars and files.

mod common;

use std::sync::{Arc, Mutex};

use common::faults::{FaultServer, respond};
use common::{NOW_S, Workdir, trigger};

const USAGE: &str = r#"{"replicate":{"spend_today":"123.5","predictions":[10, 20]}}"#;
const FORECAST: &str = r#"{"model":"nightly","points":[
  {"ts": 1796043600, "value": 130.0, "lower": 120.0, "upper": 140.0},
  {"ts": "2026-11-30T14:00:00Z", "value": 150.0, "lower": 125.0, "upper": 175.0}]}"#;

/// Serves USAGE and FORECAST by path and remembers each request's head.
fn json_server(heads: Arc<Mutex<Vec<String>>>) -> FaultServer {
    FaultServer::start(Arc::new(move |_, path, conn| {
        heads.lock().map(|mut h| h.push(path.to_string())).ok();
        match path {
            "/v1/usage" => respond(conn, "200 OK", "", USAGE.as_bytes()),
            "/forecasts/spend.json" => respond(conn, "200 OK", "", FORECAST.as_bytes()),
            _ => respond(conn, "404 Not Found", "", b"no such path"),
        }
    }))
}

fn config(url: &str) -> String {
    format!(
        r#"
[cockpit]
refresh = "60s"
history = "1h"

[[source]]
name = "billing"
kind = "json"
url = "{url}"
timeout = "2s"

[[source]]
name = "bastion"
kind = "command"
timeout = "2s"

[[domain]]
id = "images"
title = "Image generation"

  [[domain.trigger]]
  id = "spend"
  title = "Spend today"
  source = "billing"
  query = "/v1/usage"
  pointer = "/replicate/spend_today"
  capacity = 200
  external_forecast = {{ source = "billing", path = "/forecasts/spend.json", pointer = "/points" }}

  [[domain.trigger]]
  id = "second"
  title = "Second prediction count"
  source = "billing"
  query = "v1/usage"
  pointer = "/replicate/predictions/1"
  capacity = 100

  [[domain.trigger]]
  id = "conns"
  title = "Connections (psql)"
  source = "bastion"
  command = ["echo", "57"]
  capacity = 100

  [[domain.trigger]]
  id = "lag"
  title = "Replica lag (JSON)"
  source = "bastion"
  command = ["printf '{{\"replicas\": [{{\"lag\": 3.5}}]}}'"]
  shell = true
  pointer = "/replicas/0/lag"
  capacity = 10
"#
    )
}

#[test]
fn json_and_command_sources_give_their_values() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let s = json_server(heads.clone());
    let w = Workdir::new(&config(&s.url));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let r = run.json();
    assert_eq!(trigger(&r, "images/spend")["value"], 123.5);
    assert_eq!(trigger(&r, "images/second")["value"], 20.0);
    assert_eq!(trigger(&r, "images/conns")["value"], 57.0);
    assert_eq!(trigger(&r, "images/lag")["value"], 3.5);
    assert_eq!(trigger(&r, "images/lag")["utilization"], 0.35);
}

#[test]
fn forecast_results_are_stored_as_the_external_forecast() {
    let s = json_server(Arc::new(Mutex::new(Vec::new())));
    let w = Workdir::new(&config(&s.url));
    let loaded = capdeck::config::load_file(&w.file("capdeck.toml")).expect("config");
    let clock = capdeck::time::Clock::fixed(NOW_S * 1000);
    let (snap, obs) = capdeck::cli::snapshot_once(&loaded, &clock).expect("snapshot");
    let (d, t) = loaded.config.triggers().next().expect("a trigger");
    // The snapshot carries it: the scale line (80 % of 200) is reached by
    // the upper band of the second point, never by the value.
    let spend = snap.trigger("images/spend").expect("spend");
    let ext = spend
        .external
        .as_ref()
        .expect("external forecast in the snapshot");
    assert_eq!((ext.source.as_str(), ext.points.len()), ("billing", 2));
    assert_eq!(ext.breach_at, None);
    assert_eq!(ext.breach_upper_at, Some(1_796_047_200_000));
    let md = capdeck::report::markdown(&snap);
    assert!(
        md.contains("- **Spend today** (images/spend), from `billing`: stays below scale until 2026-11-30 14:00 UTC (its upper band in 2h)"),
        "{md}"
    );
    let q = capdeck::source::external_forecast_query(d, t);
    assert_eq!(q, "images/spend#external");
    let points = capdeck::source::external_forecast(&obs.store, &q);
    assert_eq!(
        points,
        vec![
            capdeck::source::ExternalPoint {
                t: 1_796_043_600_000,
                value: 130.0,
                lower: Some(120.0),
                upper: Some(140.0)
            },
            capdeck::source::ExternalPoint {
                t: 1_796_047_200_000,
                value: 150.0,
                lower: Some(125.0),
                upper: Some(175.0)
            },
        ]
    );
}

#[test]
fn secrets_come_from_env_and_files_and_headers_are_sent() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = seen.clone();
    // This server records whole request heads, so it reads them itself.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader};
        for conn in listener.incoming().take(8) {
            let Ok(mut conn) = conn else { continue };
            let mut head = String::new();
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            keep.lock().map(|mut s| s.push(head)).ok();
            respond(&mut conn, "200 OK", "", br#"{"v": 1}"#);
        }
    });
    let cfg = |auth: &str| {
        format!(
            r#"
[[source]]
name = "api"
kind = "json"
url = "{url}"
timeout = "2s"
retries = 0
headers = {{ "X-Scope-OrgID" = "buildmate" }}
{auth}

[[domain]]
id = "d"
title = "D"
  [[domain.trigger]]
  id = "t"
  title = "T"
  pointer = "/v"
  capacity = 10
"#
        )
    };
    let w = Workdir::new(&cfg("bearer_token_file = \"token.txt\""));
    std::fs::write(w.file("token.txt"), "file-token\n").expect("token");
    assert_eq!(w.report(&[]).code, Some(0));

    let w2 = Workdir::new(&cfg(
        "basic_user = \"ops\"\nbasic_password_env = \"CAPDECK_TEST_PW\"",
    ));
    let run = common::capdeck_env(
        &[
            "--config",
            "capdeck.toml",
            "--now",
            common::NOW,
            "report",
            "--format",
            "json",
        ],
        w2.path(),
        &[("CAPDECK_TEST_PW", "s3cret")],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    // Unset variable: a clear error naming it, nothing sent.
    let w3 = Workdir::new(&cfg("bearer_token_env = \"CAPDECK_TEST_UNSET_TOKEN\""));
    let run = w3.report(&[]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("bearer token: environment variable CAPDECK_TEST_UNSET_TOKEN is not set"),
        "{}",
        run.stderr
    );

    let heads = seen.lock().expect("heads").clone();
    let lower: Vec<String> = heads.iter().map(|h| h.to_ascii_lowercase()).collect();
    assert!(
        lower.iter().all(|h| h.contains("x-scope-orgid: buildmate")),
        "{heads:?}"
    );
    assert!(
        lower
            .iter()
            .any(|h| h.contains("authorization: bearer file-token")),
        "{heads:?}"
    );
    // ops:s3cret
    assert!(
        lower.iter().any(|h| h.contains(
            "authorization: basic b3bzonmzy3jldA=="
                .to_ascii_lowercase()
                .as_str()
        )),
        "{heads:?}"
    );
    assert!(!lower.iter().any(|h| h.contains("capdeck_test_unset_token")));
}

#[test]
fn prometheus_warnings_are_kept_per_query() {
    let s = FaultServer::start(common::faults::fixed(
        "200 OK",
        "",
        r#"{"status":"success","warnings":["store gateway eu-1 unreachable: partial data"],"data":{"resultType":"vector","result":[{"metric":{"pool":"main"},"value":[1796040000,"+Inf"]}]}}"#,
    ));
    let w = Workdir::new(&format!(
        r#"
[[source]]
name = "prom"
kind = "prometheus"
url = "{}"
timeout = "2s"

[[domain]]
id = "db"
title = "DB"
  [[domain.trigger]]
  id = "pool"
  title = "Pool"
  query = "pool"
  capacity = 10
"#,
        s.url
    ));
    let loaded = capdeck::config::load_file(&w.file("capdeck.toml")).expect("config");
    let clock = capdeck::time::Clock::fixed(NOW_S * 1000);
    let (snap, obs) = capdeck::cli::snapshot_once(&loaded, &clock).expect("snapshot");
    assert_eq!(
        obs.query_warnings.get("db/pool"),
        Some(&vec![
            "store gateway eu-1 unreachable: partial data".to_string()
        ])
    );
    // +Inf is stored as it came; it is no usable value for a trigger.
    let series = obs.store.of_query("db/pool");
    assert_eq!(series[0].1.last().map(|s| s.v), Some(f64::INFINITY));
    let t = snap.trigger("db/pool").expect("trigger");
    assert_eq!(t.value, None);
    assert_eq!(t.state, capdeck::capacity::State::Unknown);
}

#[test]
fn long_prometheus_queries_go_in_a_post_body() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = lines.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Read};
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            keep.lock()
                .map(|mut l| l.push(format!("{} {}", first.trim(), body.len())))
                .ok();
            respond(
                &mut conn,
                "200 OK",
                "",
                br#"{"status":"success","data":{"resultType":"scalar","result":[1796040000,"7"]}}"#,
            );
        }
    });
    let cfg = |q: &str| {
        format!(
            "[[source]]\nname = \"prom\"\nkind = \"prometheus\"\nurl = \"{url}\"\ntimeout = \"2s\"\n\n[[domain]]\nid = \"d\"\ntitle = \"D\"\n  [[domain.trigger]]\n  id = \"t\"\n  title = \"T\"\n  query = '{q}'\n  capacity = 10\n"
        )
    };
    let w = Workdir::new(&cfg("vector(7)"));
    assert_eq!(w.report(&[]).code, Some(0));
    let long = format!("vector(7){}", " + 0 * vector(1)".repeat(300));
    let w = Workdir::new(&cfg(&long));
    let run = w.report(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(trigger(&run.json(), "d/t")["value"], 7.0);
    let lines = lines.lock().expect("lines").clone();
    assert_eq!(lines.len(), 4, "{lines:?}");
    // The short query in the URL; the long one in a form body.
    assert!(
        lines[..2]
            .iter()
            .all(|l| l.starts_with("GET /api/v1/query") && l.ends_with(" 0")),
        "{lines:?}"
    );
    assert!(
        lines[2..]
            .iter()
            .all(|l| l.starts_with("POST /api/v1/query")),
        "{lines:?}"
    );
    assert!(
        lines[2..].iter().all(|l| l
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
            > 4096),
        "{lines:?}"
    );
}

#[test]
fn the_proxy_comes_from_the_environment() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = lines.clone();
    // A proxy on loopback; the target host does not exist and is never
    // resolved: the proxy answers for it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader};
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            keep.lock()
                .map(|mut l| l.push(first.trim().to_string()))
                .ok();
            respond(
                &mut conn,
                "200 OK",
                "",
                br#"{"status":"success","data":{"resultType":"scalar","result":[1796040000,"3"]}}"#,
            );
        }
    });
    let w = Workdir::new(
        "[[source]]\nname = \"prom\"\nkind = \"prometheus\"\nurl = \"http://prometheus.capdeck-test.invalid:9090\"\ntimeout = \"2s\"\n\n[[domain]]\nid = \"d\"\ntitle = \"D\"\n  [[domain.trigger]]\n  id = \"t\"\n  title = \"T\"\n  query = 'vector(3)'\n  capacity = 10\n",
    );
    let run = common::capdeck_env(
        &[
            "--config",
            "capdeck.toml",
            "--now",
            common::NOW,
            "report",
            "--format",
            "json",
        ],
        w.path(),
        &[("HTTP_PROXY", proxy.as_str())],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(trigger(&run.json(), "d/t")["value"], 3.0);
    let lines = lines.lock().expect("lines").clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("GET http://prometheus.capdeck-test.invalid:9090/api/v1/query")),
        "{lines:?}"
    );
}
