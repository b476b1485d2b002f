//! Colour by meaning: a theme maps roles to styles. Themes are TOML files
//! (`themes/*.toml`, the shipped ones embedded in the binary) of ANSI colour
//! names, 256-colour indices or `#rrggbb`; RGB is downgraded to the
//! 256-colour palette unless the terminal announces truecolor.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::capacity::State;

pub const BUILT_IN: [(&str, &str); 6] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
    (
        "solarized-dark",
        include_str!("../../themes/solarized-dark.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

const ROLES: [&str; 15] = [
    "text",
    "muted",
    "title",
    "header",
    "border",
    "ok",
    "warn",
    "scale",
    "critical",
    "stale",
    "unknown",
    "forecast",
    "threshold",
    "selection",
    "accent",
];

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reverse: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    roles: BTreeMap<String, RoleSpec>,
}

/// Styles by role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub muted: Style,
    pub title: Style,
    pub header: Style,
    pub border: Style,
    pub ok: Style,
    pub warn: Style,
    pub scale: Style,
    pub critical: Style,
    pub stale: Style,
    pub unknown: Style,
    pub forecast: Style,
    pub threshold: Style,
    pub selection: Style,
    pub accent: Style,
}

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSupport {
    /// NO_COLOR: modifiers only.
    None,
    Ansi256,
    TrueColor,
}

impl ColorSupport {
    /// From the environment: NO_COLOR (any non-empty value) wins; truecolor
    /// only when COLORTERM says so, since it is rarely forwarded over SSH.
    pub fn detect() -> ColorSupport {
        Self::from_env(|k| std::env::var(k).ok())
    }

    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> ColorSupport {
        if get("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorSupport::None;
        }
        match get("COLORTERM").as_deref() {
            Some("truecolor") | Some("24bit") => ColorSupport::TrueColor,
            _ => ColorSupport::Ansi256,
        }
    }
}

fn parse_color(s: &str, support: ColorSupport) -> Result<Color, String> {
    let named = match s.to_ascii_lowercase().as_str() {
        "reset" | "default" => Some(Color::Reset),
        "black" => Some(Color::Black),
        "red" => Some(Color::Red),
        "green" => Some(Color::Green),
        "yellow" => Some(Color::Yellow),
        "blue" => Some(Color::Blue),
        "magenta" => Some(Color::Magenta),
        "cyan" => Some(Color::Cyan),
        "gray" | "grey" => Some(Color::Gray),
        "darkgray" | "darkgrey" => Some(Color::DarkGray),
        "lightred" => Some(Color::LightRed),
        "lightgreen" => Some(Color::LightGreen),
        "lightyellow" => Some(Color::LightYellow),
        "lightblue" => Some(Color::LightBlue),
        "lightmagenta" => Some(Color::LightMagenta),
        "lightcyan" => Some(Color::LightCyan),
        "white" => Some(Color::White),
        _ => None,
    };
    if let Some(c) = named {
        return Ok(c);
    }
    if let Ok(i) = s.parse::<u8>() {
        return Ok(Color::Indexed(i));
    }
    if let Some(hex) = s.strip_prefix('#')
        && hex.len() == 6
        && let Ok(v) = u32::from_str_radix(hex, 16)
    {
        let (r, g, b) = ((v >> 16) as u8, (v >> 8) as u8, v as u8);
        return Ok(match support {
            ColorSupport::TrueColor => Color::Rgb(r, g, b),
            _ => Color::Indexed(rgb_to_256(r, g, b)),
        });
    }
    Err(format!(
        "unknown colour `{s}`: use an ANSI name (red, lightblue, darkgray…), 0-255 or #rrggbb"
    ))
}

/// The nearest entry of the xterm 256-colour palette (the 6×6×6 cube or the
/// grey ramp, whichever is closer).
pub fn rgb_to_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [i32; 6] = [0, 95, 135, 175, 215, 255];
    let nearest = |v: u8| {
        (0..6)
            .min_by_key(|&i| (LEVELS[i] - i32::from(v)).abs())
            .unwrap_or(0)
    };
    let (ri, gi, bi) = (nearest(r), nearest(g), nearest(b));
    let cube = 16 + 36 * ri + 6 * gi + bi;
    let dist = |a: (i32, i32, i32)| {
        (a.0 - i32::from(r)).pow(2) + (a.1 - i32::from(g)).pow(2) + (a.2 - i32::from(b)).pow(2)
    };
    let cube_d = dist((LEVELS[ri], LEVELS[gi], LEVELS[bi]));
    let avg = (i32::from(r) + i32::from(g) + i32::from(b)) / 3;
    let gi = ((avg - 8).max(0) / 10).min(23);
    let grey = 8 + 10 * gi;
    let grey_d = dist((grey, grey, grey));
    if grey_d < cube_d {
        (232 + gi) as u8
    } else {
        cube as u8
    }
}

impl Theme {
    /// Parses a theme file's text. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, support: ColorSupport) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            format!("{origin}:{line}: {}", e.message())
        })?;
        for key in file.roles.keys() {
            if !ROLES.contains(&key.as_str()) {
                let hint = crate::config::nearest(key, ROLES)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(format!("{origin}: unknown role `{key}`{hint}"));
            }
        }
        let style = |role: &str| -> Result<Style, String> {
            let spec = file.roles.get(role).cloned().unwrap_or_default();
            let mut st = Style::default();
            if support != ColorSupport::None {
                if let Some(fg) = &spec.fg {
                    st = st.fg(parse_color(fg, support)
                        .map_err(|e| format!("{origin}: role `{role}`: {e}"))?);
                }
                if let Some(bg) = &spec.bg {
                    st = st.bg(parse_color(bg, support)
                        .map_err(|e| format!("{origin}: role `{role}`: {e}"))?);
                }
            }
            let mods = [
                (spec.bold, Modifier::BOLD),
                (spec.dim, Modifier::DIM),
                (spec.italic, Modifier::ITALIC),
                (spec.underline, Modifier::UNDERLINED),
                (spec.reverse, Modifier::REVERSED),
            ];
            for (on, m) in mods {
                if on {
                    st = st.add_modifier(m);
                }
            }
            // A colour-only selection vanishes without colour: keep it visible.
            if support == ColorSupport::None
                && role == "selection"
                && st.add_modifier == Modifier::empty()
            {
                st = st.add_modifier(Modifier::REVERSED);
            }
            Ok(st)
        };
        Ok(Theme {
            name: file.name.clone(),
            text: style("text")?,
            muted: style("muted")?,
            title: style("title")?,
            header: style("header")?,
            border: style("border")?,
            ok: style("ok")?,
            warn: style("warn")?,
            scale: style("scale")?,
            critical: style("critical")?,
            stale: style("stale")?,
            unknown: style("unknown")?,
            forecast: style("forecast")?,
            threshold: style("threshold")?,
            selection: style("selection")?,
            accent: style("accent")?,
        })
    }

    /// A shipped theme by name, or a theme file by path. Under NO_COLOR a
    /// coloured theme would lose its selection highlight, so monochrome is
    /// used instead whatever was asked.
    pub fn load(name_or_path: &str, support: ColorSupport) -> Result<Theme, String> {
        let wanted = if support == ColorSupport::None {
            "monochrome"
        } else {
            name_or_path
        };
        if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == wanted) {
            return Theme::parse(text, &format!("themes/{name}.toml"), support);
        }
        let path = Path::new(wanted);
        if path.extension().is_some_and(|e| e == "toml") || path.components().count() > 1 {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read theme: {e}", path.display()))?;
            return Theme::parse(&text, &path.display().to_string(), support);
        }
        let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        let hint = crate::config::nearest(wanted, names.iter().copied())
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        Err(format!(
            "unknown theme `{wanted}`{hint} (shipped: {}, or a path to a .toml file)",
            names.join(", ")
        ))
    }

    pub fn monochrome() -> Theme {
        Theme::load("monochrome", ColorSupport::None)
            .unwrap_or_else(|_| unreachable!("the shipped monochrome theme parses"))
    }

    pub fn state(&self, s: State) -> Style {
        match s {
            State::Ok => self.ok,
            State::Warn => self.warn,
            State::Scale => self.scale,
            State::Critical => self.critical,
            State::Stale => self.stale,
            State::Unknown => self.unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_parses_in_every_mode() {
        for (name, _) in BUILT_IN {
            for s in [
                ColorSupport::None,
                ColorSupport::Ansi256,
                ColorSupport::TrueColor,
            ] {
                Theme::load(name, s).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn no_color_means_modifiers_only_and_a_visible_selection() {
        let t = Theme::load("solarized-dark", ColorSupport::None).unwrap();
        assert_eq!(t.name, "monochrome");
        for st in [t.ok, t.warn, t.critical, t.selection, t.header] {
            assert_eq!(st.fg, None);
            assert_eq!(st.bg, None);
        }
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn rgb_is_downgraded_without_truecolor() {
        let t = Theme::load("solarized-dark", ColorSupport::Ansi256).unwrap();
        assert!(matches!(t.ok.fg, Some(Color::Indexed(_))));
        let t = Theme::load("solarized-dark", ColorSupport::TrueColor).unwrap();
        assert_eq!(t.ok.fg, Some(Color::Rgb(0x85, 0x99, 0x00)));
        assert_eq!(rgb_to_256(255, 0, 0), 196);
        assert_eq!(rgb_to_256(128, 128, 128), 244);
    }

    #[test]
    fn detection_follows_no_color_and_colorterm() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            ColorSupport::from_env(env(&[("NO_COLOR", "1")])),
            ColorSupport::None
        );
        assert_eq!(
            ColorSupport::from_env(env(&[("COLORTERM", "truecolor")])),
            ColorSupport::TrueColor
        );
        assert_eq!(ColorSupport::from_env(env(&[])), ColorSupport::Ansi256);
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let e = Theme::load("solarised-dark", ColorSupport::Ansi256).unwrap_err();
        assert!(e.contains("did you mean `solarized-dark`"), "{e}");
        let e = Theme::parse(
            "name='x'\n[roles]\nokk = {}\n",
            "t.toml",
            ColorSupport::Ansi256,
        )
        .unwrap_err();
        assert_eq!(e, "t.toml: unknown role `okk`; did you mean `ok`?");
    }
}
