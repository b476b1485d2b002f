//! Every file under tests/config/valid loads; every file under
//! tests/config/invalid is refused with exactly the message beside it.

use std::path::Path;
use std::process::Command;

fn files(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", root.display());
    out
}

#[test]
fn valid_configs_load() {
    for f in files("valid", "toml") {
        capdeck::config::load_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn invalid_configs_say_exactly_what_and_where() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config");
    for f in files("invalid", "toml") {
        let expected = std::fs::read_to_string(f.with_extension("expected")).unwrap();
        let rel = f.strip_prefix(&root).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        let err = capdeck::config::parse(&text, capdeck::config::Origin::File(rel.to_path_buf()))
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", f.display()))
            .to_string();
        assert_eq!(err, expected.trim_end(), "{}", f.display());
    }
}

#[test]
fn config_check_command_reports_and_exits() {
    let bin = env!("CARGO_BIN_EXE_capdeck");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = Command::new(bin)
        .args(["config", "check"])
        .arg(root.join("config.example.toml"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("23 triggers"));
    let bad = Command::new(bin)
        .args(["config", "check"])
        .arg(root.join("tests/config/invalid/typo-key.toml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `refresh`?"));
}

#[test]
fn print_config_round_trips() {
    let bin = env!("CARGO_BIN_EXE_capdeck");
    let out = Command::new(bin).arg("--print-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# effective configuration, from <embedded config.example.toml>"));
    let again = capdeck::config::parse(&text, capdeck::config::Origin::Embedded).unwrap();
    assert_eq!(again.config.triggers().count(), 23);
}

#[test]
fn lookup_order_is_flag_then_cwd_then_xdg_then_embedded() {
    let bin = env!("CARGO_BIN_EXE_capdeck");
    let origin = |dir: &Path, xdg: &Path, extra: &[&str]| -> String {
        let out = Command::new(bin)
            .args(extra)
            .arg("--print-config")
            .current_dir(dir)
            .env("XDG_CONFIG_HOME", xdg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let minimal = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/valid/minimal.toml"),
    )
    .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    assert!(origin(cwd.path(), xdg.path(), &[]).ends_with("<embedded config.example.toml>"));
    std::fs::create_dir_all(xdg.path().join("capdeck")).unwrap();
    std::fs::write(xdg.path().join("capdeck/config.toml"), &minimal).unwrap();
    assert!(origin(cwd.path(), xdg.path(), &[]).ends_with("capdeck/config.toml"));
    std::fs::write(cwd.path().join("capdeck.toml"), &minimal).unwrap();
    assert!(origin(cwd.path(), xdg.path(), &[]).ends_with("from capdeck.toml"));
    let other = cwd.path().join("other.toml");
    std::fs::write(&other, &minimal).unwrap();
    assert!(
        origin(
            cwd.path(),
            xdg.path(),
            &["--config", other.to_str().unwrap()]
        )
        .ends_with("other.toml")
    );
}
