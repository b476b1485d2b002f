//! Finding, reading and checking a configuration file. Every problem is
//! reported as `file:line:col: message`, naming the key and, for a typo, the
//! nearest valid key.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::schema::{Config, PolicyKind, SourceKind};

/// The example platform, embedded so that `capdeck` runs with no file at all.
pub const EMBEDDED_EXAMPLE: &str = include_str!("../../config.example.toml");
pub const EMBEDDED_NAME: &str = "<embedded config.example.toml>";

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Embedded,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Embedded => f.write_str(EMBEDDED_NAME),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub origin: Origin,
}

impl Loaded {
    /// The folder relative paths in the config are taken from.
    pub fn base_dir(&self) -> PathBuf {
        match &self.origin {
            Origin::File(p) => p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            Origin::Embedded => PathBuf::from("."),
        }
    }
}

/// One problem, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

/// The files looked for, in order, when no `--config` is given.
pub fn candidate_paths() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("capdeck.toml")];
    if let Some(dir) = crate::paths::config_home() {
        out.push(dir.join("capdeck").join("config.toml"));
    }
    out
}

/// `--config FILE`, else the first candidate that exists, else the
/// embedded example platform.
pub fn discover(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    if let Some(path) = explicit {
        return load_file(path);
    }
    for path in candidate_paths() {
        if path.is_file() {
            return load_file(&path);
        }
    }
    parse(EMBEDDED_EXAMPLE, Origin::Embedded)
}

pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, Origin::File(path.to_path_buf()))
}

/// Parses and checks a configuration's text.
pub fn parse(text: &str, origin: Origin) -> Result<Loaded, ConfigError> {
    let file = origin.to_string();
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        problems: vec![from_toml_error(&file, text, &e)],
    })?;
    let problems = validate(&config)
        .into_iter()
        .map(|(path, message)| {
            let (line, col) = locate(text, &path).unwrap_or((1, 1));
            Problem {
                file: file.clone(),
                line,
                col,
                message,
            }
        })
        .collect::<Vec<_>>();
    if problems.is_empty() {
        Ok(Loaded { config, origin })
    } else {
        Err(ConfigError::Invalid { problems })
    }
}

/// One step of a path into the document: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Line and column of the value at `path`, or of the deepest part of it
/// that exists.
fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut span = root.span();
    let mut table = Some(root.get_ref());
    let mut array: Option<&toml::de::DeArray> = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let Some(t) = table else { break };
                let Some((key, value)) = t.iter().find(|(key, _)| key.get_ref() == k) else {
                    break;
                };
                span = key.span();
                table = None;
                array = None;
                match value.get_ref() {
                    DeValue::Table(t) => table = Some(t),
                    DeValue::Array(a) => array = Some(a),
                    _ => {}
                }
            }
            Seg::Index(i) => {
                let Some(item) = array.and_then(|a| a.get(*i)) else {
                    break;
                };
                span = item.span();
                table = None;
                array = None;
                match item.get_ref() {
                    DeValue::Table(t) => table = Some(t),
                    DeValue::Array(a) => array = Some(a),
                    _ => {}
                }
            }
        }
    }
    Some(line_col(text, span.start))
}

/// The table header (`[cockpit]`, `[[domain.trigger]]`) in force at `offset`.
fn table_at(text: &str, offset: usize) -> String {
    // Up to the end of the offset's line: a table's own span starts at its header.
    let end = text[offset.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| offset + i);
    let before = &text[..end];
    for line in before.lines().rev() {
        let l = line.trim();
        if l.starts_with('[') {
            return l.split('#').next().unwrap_or(l).trim().to_string();
        }
    }
    "the top level".into()
}

/// The candidate closest to `word`, when it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The backquoted names in a serde message, after `marker`.
fn backquoted_after<'m>(message: &'m str, marker: &str) -> Vec<&'m str> {
    let Some(idx) = message.find(marker) else {
        return vec![];
    };
    message[idx + marker.len()..]
        .split('`')
        .skip(1)
        .step_by(2)
        .collect()
}

fn first_backquoted(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

fn from_toml_error(file: &str, text: &str, e: &toml::de::Error) -> Problem {
    let offset = e.span().map(|s| s.start).unwrap_or(0);
    let (line, col) = line_col(text, offset);
    let raw = e.message().trim().to_string();
    let table = table_at(text, offset);
    let message = if raw.starts_with("unknown field") {
        let key = first_backquoted(&raw).unwrap_or("?");
        let valid = backquoted_after(&raw, "expected");
        match nearest(key, valid.iter().copied()) {
            Some(s) => format!("unknown key `{key}` in {table}; did you mean `{s}`?"),
            None if valid.is_empty() => format!("unknown key `{key}` in {table}"),
            None => format!(
                "unknown key `{key}` in {table}; valid keys: {}",
                valid.join(", ")
            ),
        }
    } else if raw.starts_with("unknown variant") {
        let value = first_backquoted(&raw).unwrap_or("?");
        let valid = backquoted_after(&raw, "expected");
        match nearest(value, valid.iter().copied()) {
            Some(s) => format!("unknown value `{value}` in {table}; did you mean `{s}`?"),
            None => format!(
                "unknown value `{value}` in {table}; expected one of: {}",
                valid.join(", ")
            ),
        }
    } else if raw.starts_with("missing field") {
        let key = first_backquoted(&raw).unwrap_or("?");
        format!("missing key `{key}` in {table}")
    } else {
        format!("{raw} (in {table})")
    };
    Problem {
        file: file.to_string(),
        line,
        col,
        message,
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks what the schema alone cannot: references, ranges, kinds.
fn validate(c: &Config) -> Vec<(Vec<Seg>, String)> {
    use Seg::{Index, Key};
    let mut out = Vec::new();
    let ck = &c.cockpit;
    if ck.timezone.parse::<chrono_tz::Tz>().is_err() {
        out.push((
            vec![Key("cockpit"), Key("timezone")],
            format!(
                "unknown time zone `{}` in [cockpit]: use an IANA name such as `UTC` or `Europe/Berlin`",
                ck.timezone
            ),
        ));
    }
    if ck.refresh.0.as_millis() < 1000 {
        out.push((
            vec![Key("cockpit"), Key("refresh")],
            format!("`refresh` = {} is below the minimum of 1s", ck.refresh),
        ));
    }
    if ck.max_samples < 100 {
        out.push((
            vec![Key("cockpit"), Key("max_samples")],
            "`max_samples` must be at least 100".into(),
        ));
    }

    let mut names = HashSet::new();
    for (i, s) in c.sources.iter().enumerate() {
        let at = |k: &'static str| vec![Key("source"), Index(i), Key(k)];
        if !names.insert(s.name.as_str()) {
            out.push((at("name"), format!("duplicate source name `{}`", s.name)));
        }
        let needs_url = matches!(s.kind, SourceKind::Prometheus | SourceKind::Json);
        if needs_url && s.url.is_none() {
            out.push((
                at("kind"),
                format!("source `{}` of kind {} needs `url`", s.name, s.kind.name()),
            ));
        }
        if !needs_url && s.url.is_some() {
            out.push((
                at("url"),
                format!(
                    "source `{}`: `url` is not used by kind {}",
                    s.name,
                    s.kind.name()
                ),
            ));
        }
        if s.kind == SourceKind::Replay && s.file.is_none() {
            out.push((
                at("kind"),
                format!("source `{}` of kind replay needs `file`", s.name),
            ));
        }
        if let Some(url) = &s.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push((
                at("url"),
                format!(
                    "source `{}`: `url` must start with http:// or https://",
                    s.name
                ),
            ));
        }
        let http_keys = [
            ("bearer_token_env", s.bearer_token_env.is_some()),
            ("bearer_token_file", s.bearer_token_file.is_some()),
            ("basic_user", s.basic_user.is_some()),
            ("basic_password_env", s.basic_password_env.is_some()),
            ("basic_password_file", s.basic_password_file.is_some()),
            ("headers", !s.headers.is_empty()),
            ("ca_file", s.ca_file.is_some()),
            ("client_cert", s.client_cert.is_some()),
            ("client_key", s.client_key.is_some()),
            ("retries", s.retries.is_some()),
        ];
        if !needs_url {
            for (key, set) in http_keys {
                if set {
                    out.push((
                        at(key),
                        format!(
                            "source `{}`: `{key}` is only used by kinds prometheus and json, not {}",
                            s.name,
                            s.kind.name()
                        ),
                    ));
                }
            }
        }
        if s.basic_password_env.is_some() && s.basic_password_file.is_some() {
            out.push((
                at("basic_password_file"),
                format!(
                    "source `{}`: give `basic_password_env` or `basic_password_file`, not both",
                    s.name
                ),
            ));
        }
        if s.basic_user.is_none()
            && (s.basic_password_env.is_some() || s.basic_password_file.is_some())
        {
            out.push((
                at("basic_user"),
                format!(
                    "source `{}`: a basic-auth password needs `basic_user`",
                    s.name
                ),
            ));
        }
        if s.basic_user.is_some() && (s.bearer_token_env.is_some() || s.bearer_token_file.is_some())
        {
            out.push((
                at("basic_user"),
                format!(
                    "source `{}`: use a bearer token or basic auth, not both",
                    s.name
                ),
            ));
        }
        if s.client_cert.is_some() != s.client_key.is_some() {
            out.push((
                at(if s.client_cert.is_some() {
                    "client_cert"
                } else {
                    "client_key"
                }),
                format!(
                    "source `{}`: give both `client_cert` and `client_key`",
                    s.name
                ),
            ));
        }
        if let Some(h) = s
            .headers
            .keys()
            .find(|h| h.eq_ignore_ascii_case("authorization"))
        {
            out.push((
                at("headers"),
                format!(
                    "source `{}`: no `{h}` header in the config (secrets stay out of it): use `bearer_token_env`, `bearer_token_file` or `basic_password_env`",
                    s.name
                ),
            ));
        }
        if s.max_response.is_some_and(|q| q.0.is_nan() || q.0 < 1.0) {
            out.push((
                at("max_response"),
                format!("source `{}`: `max_response` must be at least 1B", s.name),
            ));
        }
        if s.timeout.is_some_and(|t| t.0.is_zero()) {
            out.push((
                at("timeout"),
                format!("source `{}`: `timeout` must be above 0", s.name),
            ));
        }
        if s.bearer_token_env.is_some() && s.bearer_token_file.is_some() {
            out.push((
                at("bearer_token_file"),
                format!(
                    "source `{}`: give `bearer_token_env` or `bearer_token_file`, not both",
                    s.name
                ),
            ));
        }
    }

    let mut domain_ids = HashSet::new();
    for (di, d) in c.domains.iter().enumerate() {
        let dat = |k: &'static str| vec![Key("domain"), Index(di), Key(k)];
        if !valid_id(&d.id) {
            out.push((
                dat("id"),
                format!("domain id `{}` must match [a-z0-9_-]+", d.id),
            ));
        }
        if !domain_ids.insert(d.id.as_str()) {
            out.push((dat("id"), format!("duplicate domain id `{}`", d.id)));
        }
        let mut trigger_ids = HashSet::new();
        for (ti, t) in d.triggers.iter().enumerate() {
            let at =
                |k: &'static str| vec![Key("domain"), Index(di), Key("trigger"), Index(ti), Key(k)];
            let name = format!("{}/{}", d.id, t.id);
            if !valid_id(&t.id) {
                out.push((
                    at("id"),
                    format!("trigger id `{}` must match [a-z0-9_-]+", t.id),
                ));
            }
            if !trigger_ids.insert(t.id.as_str()) {
                out.push((at("id"), format!("duplicate trigger id `{name}`")));
            }
            let source = match &t.source {
                Some(s) => match c.source(s) {
                    Some(src) => Some(src),
                    None => {
                        let hint = nearest(s, c.sources.iter().map(|x| x.name.as_str()))
                            .map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default();
                        out.push((
                            at("source"),
                            format!("trigger `{name}` names unknown source `{s}`{hint}"),
                        ));
                        None
                    }
                },
                None => {
                    if c.sources.is_empty() {
                        out.push((
                            at("id"),
                            format!("trigger `{name}` has no source: add a [[source]] table"),
                        ));
                    }
                    c.sources.first()
                }
            };
            if let Some(src) = source {
                match src.kind {
                    SourceKind::Prometheus if t.query.is_none() => out.push((
                        at("id"),
                        format!(
                            "trigger `{name}` reads Prometheus source `{}` and needs `query`",
                            src.name
                        ),
                    )),
                    SourceKind::Json if t.pointer.is_none() => out.push((
                        at("id"),
                        format!(
                            "trigger `{name}` reads JSON source `{}` and needs `pointer`",
                            src.name
                        ),
                    )),
                    SourceKind::Command if t.command.is_empty() => out.push((
                        at("id"),
                        format!(
                            "trigger `{name}` reads command source `{}` and needs `command`",
                            src.name
                        ),
                    )),
                    _ => {}
                }
            }
            if let Some(ef) = &t.external_forecast {
                match c.source(&ef.source) {
                    Some(src) if src.kind == SourceKind::Json => {}
                    Some(src) => out.push((
                        at("external_forecast"),
                        format!(
                            "trigger `{name}`: external_forecast source `{}` is of kind {}; it must be json",
                            src.name,
                            src.kind.name()
                        ),
                    )),
                    None => {
                        let hint = nearest(&ef.source, c.sources.iter().map(|x| x.name.as_str()))
                            .map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default();
                        out.push((
                            at("external_forecast"),
                            format!(
                                "trigger `{name}`: external_forecast names unknown source `{}`{hint}",
                                ef.source
                            ),
                        ));
                    }
                }
                if let Some(p) = &ef.pointer
                    && !(p.is_empty() || p.starts_with('/'))
                {
                    out.push((
                        at("external_forecast"),
                        format!("trigger `{name}`: external_forecast pointer `{p}` must be empty or start with `/` (RFC 6901)"),
                    ));
                }
            }
            if let Some(p) = &t.pointer
                && !(p.is_empty() || p.starts_with('/'))
            {
                out.push((
                    at("pointer"),
                    format!(
                        "trigger `{name}`: pointer `{p}` must be empty or start with `/` (RFC 6901)"
                    ),
                ));
            }
            if t.capacity.is_none() && t.capacity_query.is_none() {
                out.push((
                    at("id"),
                    format!("trigger `{name}` needs `capacity` or `capacity_query`"),
                ));
            }
            if let Some(cap) = t.capacity
                && cap.0 <= 0.0
            {
                out.push((
                    at("capacity"),
                    format!("trigger `{name}`: `capacity` must be above 0"),
                ));
            }
            let levels_ok = 0.0 < t.warn && t.warn <= t.scale && t.scale <= t.critical;
            if !levels_ok {
                out.push((
                    at("warn"),
                    format!(
                        "trigger `{name}`: thresholds must satisfy 0 < warn <= scale <= critical (got {} / {} / {})",
                        t.warn, t.scale, t.critical
                    ),
                ));
            }
            if !(0.0..t.warn.max(f64::MIN_POSITIVE)).contains(&t.hysteresis) {
                out.push((
                    at("hysteresis"),
                    format!("trigger `{name}`: `hysteresis` must be at least 0 and below `warn`"),
                ));
            }
            if let Some(cl) = &t.clear {
                for (level, enter, clear) in [
                    ("warn", t.warn, cl.warn),
                    ("scale", t.scale, cl.scale),
                    ("critical", t.critical, cl.critical),
                ] {
                    if let Some(v) = clear
                        && !(v >= 0.0 && v <= enter)
                    {
                        out.push((
                            at("clear"),
                            format!("trigger `{name}`: clear.{level} = {v} must be between 0 and {level} ({enter})"),
                        ));
                    }
                }
            }
            if t.by.is_some() && t.top == 0 {
                out.push((
                    at("top"),
                    format!("trigger `{name}`: `top` must be at least 1"),
                ));
            }
            if let Some(p) = &t.policy {
                let msg = match p.kind {
                    PolicyKind::TargetTracking => match (p.target, p.units) {
                        (Some(tg), Some(_)) if tg > 0.0 && tg <= 1.0 => None,
                        (Some(_), Some(_)) => Some("`target` must be above 0 and at most 1"),
                        _ => Some("a target_tracking policy needs `target` and `units`"),
                    },
                    PolicyKind::Step => match p.add {
                        Some(a) if a > 0 => None,
                        _ => Some("a step policy needs `add` of at least 1"),
                    },
                    PolicyKind::Manual => None,
                };
                if let Some(m) = msg {
                    out.push((at("policy"), format!("trigger `{name}`: {m}")));
                }
                if p.unit_cost_month.is_some_and(|c| c.is_nan() || c < 0.0) {
                    out.push((
                        at("policy"),
                        format!("trigger `{name}`: `unit_cost_month` must be at least 0"),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_example_is_valid() {
        let loaded = parse(EMBEDDED_EXAMPLE, Origin::Embedded).unwrap();
        assert!(loaded.config.triggers().count() >= 18);
    }

    #[test]
    fn a_typo_names_file_line_column_and_the_nearest_key() {
        let err = parse(
            "[cockpit]\nrefrsh = \"15s\"\n",
            Origin::File("c.toml".into()),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "c.toml:2:1: unknown key `refrsh` in [cockpit]; did you mean `refresh`?"
        );
    }

    fn problems_of(text: &str) -> String {
        parse(text, Origin::File("c.toml".into()))
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    const TRIGGER: &str = "[[domain]]\nid = \"d\"\ntitle = \"D\"\n[[domain.trigger]]\nid = \"t\"\ntitle = \"T\"\nquery = \"up\"\ncapacity = 1\n";

    #[test]
    fn secrets_and_tls_keys_are_checked() {
        let e = problems_of(&format!(
            "[[source]]\nname = \"p\"\nkind = \"prometheus\"\nurl = \"http://x\"\nheaders = {{ Authorization = \"Bearer abc\" }}\nclient_cert = \"c.pem\"\n{TRIGGER}"
        ));
        assert!(
            e.contains("c.toml:5:1: source `p`: no `Authorization` header"),
            "{e}"
        );
        assert!(
            e.contains("give both `client_cert` and `client_key`"),
            "{e}"
        );
        let e = problems_of(&format!(
            "[[source]]\nname = \"c\"\nkind = \"command\"\nca_file = \"x.pem\"\n{TRIGGER}command = [\"true\"]\n"
        ));
        assert!(
            e.contains("`ca_file` is only used by kinds prometheus and json, not command"),
            "{e}"
        );
    }

    #[test]
    fn an_external_forecast_needs_a_json_source() {
        let src = "[[source]]\nname = \"p\"\nkind = \"prometheus\"\nurl = \"http://x\"\n[[source]]\nname = \"fc\"\nkind = \"json\"\nurl = \"http://y\"\n";
        let ok = problems_of(&format!(
            "{src}{TRIGGER}external_forecast = {{ source = \"fc\", path = \"/f.json\", pointer = \"/points\" }}\n"
        ));
        assert_eq!(ok, "");
        let e = problems_of(&format!(
            "{src}{TRIGGER}external_forecast = {{ source = \"fcx\", path = \"/f.json\" }}\n"
        ));
        assert!(
            e.contains("external_forecast names unknown source `fcx`; did you mean `fc`?"),
            "{e}"
        );
        let e = problems_of(&format!(
            "{src}{TRIGGER}external_forecast = {{ source = \"p\" }}\n"
        ));
        assert!(e.contains("is of kind prometheus; it must be json"), "{e}");
    }

    #[test]
    fn nearest_ignores_distant_words() {
        assert_eq!(nearest("refrsh", ["refresh", "history"]), Some("refresh"));
        assert_eq!(nearest("zzzzzz", ["refresh", "history"]), None);
    }
}
