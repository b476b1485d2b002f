//! `capdeck rules` writes alerting rules that the real `promtool` accepts.

use std::process::Command;

#[test]
fn promtool_accepts_the_generated_rules() {
    let out = Command::new(env!("CARGO_BIN_EXE_capdeck"))
        .arg("rules")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("alert: CapdeckDatabasePoolScale"), "{yaml}");
    assert!(yaml.contains("for: 2m"), "{yaml}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capdeck.rules.yml");
    std::fs::write(&file, &yaml).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool not found ({e}): install the Debian package `prometheus`")
        });
    assert!(
        check.status.success(),
        "promtool refused the rules:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // 23 triggers × warn, scale, critical.
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("69 rules found"),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
