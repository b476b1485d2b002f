//! Key bindings as data: each action has keys and a description; the help
//! screen and the footer are generated from this table, and a key bound to
//! two actions is refused when the configuration is loaded.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Filter,
    Group,
    Sources,
    ZoomIn,
    ZoomOut,
    Refit,
    Runbooks,
    TriggerRunbook,
    Drill,
}

/// Where an action does something: shown in that screen's help and footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Lists,
    Overview,
    Detail,
    Runbooks,
}

pub struct ActionInfo {
    pub action: Action,
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub scope: Scope,
    pub help: &'static str,
}

/// Every action, its config name, default keys and description.
pub const ACTIONS: &[ActionInfo] = &[
    ActionInfo {
        action: Action::Up,
        name: "up",
        keys: &["up", "k"],
        scope: Scope::Lists,
        help: "move up",
    },
    ActionInfo {
        action: Action::Down,
        name: "down",
        keys: &["down", "j"],
        scope: Scope::Lists,
        help: "move down",
    },
    ActionInfo {
        action: Action::PageUp,
        name: "page_up",
        keys: &["pageup", "ctrl-b"],
        scope: Scope::Lists,
        help: "page up",
    },
    ActionInfo {
        action: Action::PageDown,
        name: "page_down",
        keys: &["pagedown", "ctrl-f"],
        scope: Scope::Lists,
        help: "page down",
    },
    ActionInfo {
        action: Action::Top,
        name: "top",
        keys: &["home"],
        scope: Scope::Lists,
        help: "first row",
    },
    ActionInfo {
        action: Action::Bottom,
        name: "bottom",
        keys: &["end", "G"],
        scope: Scope::Lists,
        help: "last row",
    },
    ActionInfo {
        action: Action::Open,
        name: "open",
        keys: &["enter", "l", "right"],
        scope: Scope::Overview,
        help: "open the trigger or domain",
    },
    ActionInfo {
        action: Action::Filter,
        name: "filter",
        keys: &["/"],
        scope: Scope::Lists,
        help: "filter by name",
    },
    ActionInfo {
        action: Action::Group,
        name: "group",
        keys: &["g"],
        scope: Scope::Overview,
        help: "group by domain / sort by headroom",
    },
    ActionInfo {
        action: Action::Sources,
        name: "sources",
        keys: &["s"],
        scope: Scope::Overview,
        help: "source health",
    },
    ActionInfo {
        action: Action::ZoomIn,
        name: "zoom_in",
        keys: &["+", "="],
        scope: Scope::Detail,
        help: "shorter time range",
    },
    ActionInfo {
        action: Action::ZoomOut,
        name: "zoom_out",
        keys: &["-"],
        scope: Scope::Detail,
        help: "longer time range",
    },
    ActionInfo {
        action: Action::Runbooks,
        name: "runbooks",
        keys: &["b"],
        scope: Scope::Overview,
        help: "runbooks and open runs",
    },
    ActionInfo {
        action: Action::TriggerRunbook,
        name: "trigger_runbook",
        keys: &["R"],
        scope: Scope::Overview,
        help: "run (or resume) the selected trigger's runbook",
    },
    ActionInfo {
        action: Action::Drill,
        name: "drill",
        keys: &["D"],
        scope: Scope::Runbooks,
        help: "start the runbook as a drill",
    },
    ActionInfo {
        action: Action::Refit,
        name: "refit",
        keys: &["r"],
        scope: Scope::Detail,
        help: "refit the forecast now",
    },
    ActionInfo {
        action: Action::Back,
        name: "back",
        keys: &["esc", "h", "left"],
        scope: Scope::Everywhere,
        help: "back / clear filter",
    },
    ActionInfo {
        action: Action::Help,
        name: "help",
        keys: &["?", "f1"],
        scope: Scope::Everywhere,
        help: "this help",
    },
    ActionInfo {
        action: Action::Quit,
        name: "quit",
        keys: &["q", "ctrl-c"],
        scope: Scope::Everywhere,
        help: "quit",
    },
];

/// A key as written in the configuration: a code and modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// The key of a terminal event. Shift is folded into the character
    /// (`G`, `?`), so `shift-g` and `G` are one key.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(e.code, KeyCode::Char(_)) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key { code: e.code, mods }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

pub fn parse_key(text: &str) -> Result<Key, String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("ctrl-") && rest.len() > 5 {
            mods |= KeyModifiers::CONTROL;
            rest = &rest[5..];
        } else if lower.starts_with("alt-") && rest.len() > 4 {
            mods |= KeyModifiers::ALT;
            rest = &rest[4..];
        } else if lower.starts_with("shift-") && rest.len() > 6 {
            mods |= KeyModifiers::SHIFT;
            rest = &rest[6..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        f if f.len() >= 2
            && f.starts_with('f')
            && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
        {
            KeyCode::F(f[1..].parse().unwrap_or(1))
        }
        _ => {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    // shift-g is G: one key, one spelling.
                    if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                        mods.remove(KeyModifiers::SHIFT);
                        KeyCode::Char(c.to_ascii_uppercase())
                    } else {
                        KeyCode::Char(c)
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown key `{text}`: use a character or a name such as enter, esc, up, pageup, f1, ctrl-c"
                    ));
                }
            }
        }
    };
    Ok(Key { code, mods })
}

#[derive(Debug, Clone)]
pub struct KeyMap {
    by_key: HashMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

impl KeyMap {
    /// The defaults with the configuration's `[keys]` table over them.
    pub fn new(overrides: &BTreeMap<String, Vec<String>>) -> Result<KeyMap, String> {
        let mut by_action: BTreeMap<Action, Vec<Key>> = BTreeMap::new();
        for info in ACTIONS {
            let keys = info
                .keys
                .iter()
                .map(|k| parse_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            by_action.insert(info.action, keys);
        }
        for (name, keys) in overrides {
            let Some(info) = ACTIONS.iter().find(|a| a.name == name) else {
                let hint = crate::config::nearest(name, ACTIONS.iter().map(|a| a.name))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(format!("[keys]: unknown action `{name}`{hint}"));
            };
            if keys.is_empty() {
                return Err(format!(
                    "[keys]: `{name}` has no keys; every action needs one"
                ));
            }
            let parsed = keys
                .iter()
                .map(|k| parse_key(k).map_err(|e| format!("[keys] {name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            by_action.insert(info.action, parsed);
        }
        let mut by_key = HashMap::new();
        for (action, keys) in &by_action {
            for k in keys {
                if let Some(other) = by_key.insert(*k, *action) {
                    let n = |a: Action| {
                        ACTIONS
                            .iter()
                            .find(|i| i.action == a)
                            .map(|i| i.name)
                            .unwrap_or("?")
                    };
                    return Err(format!(
                        "[keys]: key `{k}` is bound to both `{}` and `{}`",
                        n(other),
                        n(*action)
                    ));
                }
            }
        }
        Ok(KeyMap { by_key, by_action })
    }

    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        self.by_key.get(&Key::from_event(e)).copied()
    }

    pub fn keys(&self, a: Action) -> &[Key] {
        self.by_action.get(&a).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `enter/l` style text of an action's keys.
    pub fn keys_text(&self, a: Action) -> String {
        self.keys(a)
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The first key of an action, for the footer.
    pub fn first_key(&self, a: Action) -> String {
        self.keys(a)
            .first()
            .map(|k| k.to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_no_duplicates() {
        let km = KeyMap::new(&BTreeMap::new()).unwrap();
        let e = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.action(&e), Some(Action::Quit));
        let e = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(km.action(&e), Some(Action::Quit));
        let e = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(km.action(&e), Some(Action::Bottom));
    }

    #[test]
    fn a_key_on_two_actions_is_refused() {
        let o: BTreeMap<String, Vec<String>> = [("help".to_string(), vec!["q".to_string()])].into();
        let e = KeyMap::new(&o).unwrap_err();
        assert_eq!(e, "[keys]: key `q` is bound to both `quit` and `help`");
    }

    #[test]
    fn overrides_replace_defaults_and_typos_are_named() {
        let o: BTreeMap<String, Vec<String>> = [(
            "quit".to_string(),
            vec!["x".to_string(), "ctrl-q".to_string()],
        )]
        .into();
        let km = KeyMap::new(&o).unwrap();
        assert_eq!(km.keys_text(Action::Quit), "x/ctrl-q");
        let o: BTreeMap<String, Vec<String>> = [("qiut".to_string(), vec!["x".to_string()])].into();
        assert_eq!(
            KeyMap::new(&o).unwrap_err(),
            "[keys]: unknown action `qiut`; did you mean `quit`?"
        );
        assert!(parse_key("hyper-x").unwrap_err().contains("unknown key"));
        assert_eq!(parse_key("shift-g").unwrap(), parse_key("G").unwrap());
        assert_eq!(parse_key("f5").unwrap().code, KeyCode::F(5));
    }
}
