//! Lint fixtures: each invalid runbook's exact messages and positions, the
//! valid ones clean, and the command's exit status and output format.

use std::path::{Path, PathBuf};
use std::process::Command;

use capdeck::config::{EMBEDDED_EXAMPLE, Origin, parse};
use capdeck::runbook::lint::{lint_file, lint_paths};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runbooks")
        .join(dir)
}

fn md_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    v.sort();
    v
}

fn check_expected(dir: &str, config: Option<&capdeck::config::Config>) {
    let files = md_files(&fixtures(dir));
    assert!(!files.is_empty());
    for f in files {
        let linted = lint_file(&f, config);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let got: Vec<String> = linted
            .problems
            .iter()
            .map(|p| format!("{name}:{}:{}: {}", p.pos.line, p.pos.col, p.message))
            .collect();
        let expected_path = f.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let want: Vec<&str> = expected.lines().collect();
        assert_eq!(got, want, "{name}");
        assert!(!got.is_empty(), "{name} should have problems");
    }
}

#[test]
fn invalid_fixtures_report_exact_messages_and_positions() {
    check_expected("invalid", None);
}

#[test]
fn with_a_config_triggers_and_their_metrics_are_checked() {
    let c = parse(EMBEDDED_EXAMPLE, Origin::Embedded).unwrap().config;
    check_expected("with-config", Some(&c));
}

#[test]
fn valid_fixtures_lint_clean() {
    for l in lint_paths(&[fixtures("valid")], None) {
        assert_eq!(l.lines(), Vec::<String>::new(), "{}", l.path.display());
        assert!(l.runbook.is_some());
    }
}

#[test]
fn shipped_runbooks_lint_clean_against_the_example_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let c = parse(EMBEDDED_EXAMPLE, Origin::Embedded).unwrap().config;
    let linted = lint_paths(&[dir], Some(&c));
    assert!(linted.len() >= 6, "expected the six shipped runbooks");
    for l in &linted {
        assert_eq!(l.lines(), Vec::<String>::new());
    }
    // Every runbook id a configured trigger names is shipped.
    let ids: Vec<String> = linted
        .iter()
        .filter_map(|l| l.runbook.as_ref().map(|r| r.meta.id.clone()))
        .collect();
    for (_, t) in c.triggers() {
        if let Some(r) = &t.runbook {
            assert!(ids.contains(r), "runbook {r} is not shipped");
        }
    }
}

fn capdeck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_capdeck"))
        .args(args)
        .env(
            "CAPDECK_STATE_DIR",
            std::env::temp_dir().join("capdeck-lint-test-state"),
        )
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn lint_command_prints_file_line_col_and_exits_1() {
    let out = capdeck(&["runbook", "lint", "tests/runbooks/invalid/danger.md"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().next().unwrap(),
        "tests/runbooks/invalid/danger.md:13:39: point of no return `cutover`: no rollback step undoes a step before it (add a `role=rollback undoes=…` step)"
    );
    let ok = capdeck(&["runbook", "lint", "tests/runbooks/valid"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

#[test]
fn list_shows_malformed_runbooks_with_their_errors() {
    let out = capdeck(&["runbook", "list", "--dir", "tests/runbooks/invalid"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let files = md_files(&fixtures("invalid"));
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy();
        assert!(
            text.contains(&*stem),
            "{stem} missing from the list:\n{text}"
        );
    }
    assert!(
        text.contains("LINT tests/runbooks/invalid/no-front-matter.md:1:1: missing front matter")
    );
    let json = capdeck(&[
        "runbook",
        "list",
        "--dir",
        "tests/runbooks/invalid",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), files.len());
}
