//! Reading a runbook file: TOML front matter between `+++` lines, then the
//! Markdown body (pulldown-cmark), with every element's line and column.

use std::collections::BTreeMap;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::cond;
use super::model::*;
use crate::config::{Dur, nearest, parse_duration};

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    schema: Spanned<i64>,
    id: Spanned<String>,
    title: String,
    kind: Kind,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    owners: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    triggers: Vec<Spanned<String>>,
    #[serde(default)]
    watch: Option<RawWatch>,
    #[serde(default)]
    objectives: RawObjectives,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    conditions: BTreeMap<String, Spanned<String>>,
}

enum RawWatch {
    List(Vec<Spanned<String>>),
    Table(Vec<(String, Spanned<String>)>),
}

// By hand rather than `untagged`, which buffers values and loses spans.
impl<'de> Deserialize<'de> for RawWatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawWatch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of selectors or a table of `name = \"expression\"`")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawWatch, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Spanned<String>>()? {
                    out.push(x);
                }
                Ok(RawWatch::List(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawWatch, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Spanned<String>>()?));
                }
                Ok(RawWatch::Table(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawObjectives {
    #[serde(default)]
    rto: Option<Dur>,
    #[serde(default)]
    rpo: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    prompt: String,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    secret: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    expect: Vec<Spanned<String>>,
    #[serde(default)]
    hold: Option<Dur>,
    #[serde(default)]
    timeout: Option<Dur>,
    #[serde(default)]
    on_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssert {
    expect: Vec<Spanned<String>>,
}

pub const META_KEYS: &[&str] = &[
    "schema",
    "id",
    "title",
    "kind",
    "version",
    "summary",
    "owners",
    "source",
    "triggers",
    "watch",
    "objectives",
    "inputs",
    "conditions",
];
pub const STEP_ATTRS: &[&str] = &[
    "eta", "owner", "danger", "approval", "requires", "when", "ponr", "role", "undoes", "on_fail",
    "marks",
];
pub const SH_ATTRS: &[&str] = &["id", "timeout", "confirm"];
pub const GATE_ATTRS: &[&str] = &["id"];

struct Ctx<'a> {
    text: &'a str,
    idx: LineIndex,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn pos(&self, offset: usize) -> Pos {
        self.idx.pos(self.text, offset)
    }
    fn problem(&mut self, offset: usize, message: impl Into<String>) {
        let pos = self.pos(offset);
        self.problems.push(Problem {
            pos,
            message: message.into(),
        });
    }
}

/// Rewrites serde's messages into the words the rest of capdeck uses.
fn toml_message(msg: &str, keys: &[&str]) -> String {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let key = &rest[..end];
        let candidates: Vec<&str> = rest[end..]
            .split('`')
            .skip(2)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .collect();
        let cands = if candidates.is_empty() {
            keys.to_vec()
        } else {
            candidates
        };
        if cands.iter().all(|c| *c != key) && keys.contains(&key) && !candidates_are(keys, &cands) {
            return format!(
                "unknown key `{key}` in this table: a top-level key must come before the first [table] header"
            );
        }
        return match nearest(key, cands.iter().copied()) {
            Some(n) => format!("unknown key `{key}` (did you mean `{n}`?)"),
            None => format!(
                "unknown key `{key}` (expected one of: {})",
                cands.join(", ")
            ),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some(end) = rest.find('`')
    {
        let word = &rest[..end];
        let cands: Vec<&str> = rest[end..].split('`').skip(2).step_by(2).collect();
        return format!("`{word}` is not one of {}", cands.join(", "));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        return format!("missing key `{}", rest);
    }
    msg.lines().next().unwrap_or(msg).to_string()
}

fn candidates_are(keys: &[&str], cands: &[&str]) -> bool {
    cands.len() == keys.len() && cands.iter().all(|c| keys.contains(c))
}

/// Offset of a string value's first character inside its quotes.
fn string_start(toml_text: &str, span_start: usize) -> usize {
    let rest = &toml_text[span_start.min(toml_text.len())..];
    if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        span_start + 3
    } else {
        span_start + 1
    }
}

/// The raw offset in the TOML text of the character `decoded` characters
/// into a string value whose span starts at `span_start`, walking escapes
/// of basic strings (`\"` is two raw bytes for one character).
fn raw_offset(toml_text: &str, span_start: usize, decoded: usize) -> usize {
    let start = string_start(toml_text, span_start);
    let literal = toml_text[span_start.min(toml_text.len())..].starts_with('\'');
    let rest = &toml_text[start.min(toml_text.len())..];
    let b = rest.as_bytes();
    let (mut raw, mut dec) = (0usize, 0usize);
    while dec < decoded && raw < b.len() {
        if !literal && b[raw] == b'\\' {
            raw += match b.get(raw + 1) {
                Some(b'u') => 6,
                Some(b'U') => 10,
                _ => 2,
            };
            dec += 1;
        } else {
            let ch = rest[raw..].chars().next().map(char::len_utf8).unwrap_or(1);
            raw += ch;
            dec += ch;
        }
    }
    start + raw
}

/// Parses a runbook. Never fails: whatever cannot be read is a problem.
pub fn parse_runbook(text: &str) -> Runbook {
    let mut cx = Ctx {
        text,
        idx: LineIndex::new(text),
        problems: Vec::new(),
    };
    let (meta, body_start) = front_matter(&mut cx);
    let meta = meta.unwrap_or_default();
    let (title, intro, steps) = body(&mut cx, &meta, body_start);
    let mut problems = cx.problems;
    problems.sort();
    Runbook {
        meta,
        title,
        intro,
        steps,
        hash: sha256_hex(text.as_bytes()),
        problems,
    }
}

fn front_matter(cx: &mut Ctx) -> (Option<Meta>, usize) {
    let text = cx.text;
    let first_end = text.find('\n').unwrap_or(text.len());
    if text[..first_end].trim_end() != "+++" {
        cx.problem(
            0,
            "missing front matter: the file must start with a `+++` line, TOML, and a closing `+++` line",
        );
        return (None, 0);
    }
    let toml_start = (first_end + 1).min(text.len());
    let mut at = toml_start;
    let mut close = None;
    while at < text.len() {
        let end = text[at..].find('\n').map(|i| at + i).unwrap_or(text.len());
        if text[at..end].trim_end() == "+++" {
            close = Some((at, (end + 1).min(text.len())));
            break;
        }
        at = end + 1;
    }
    let Some((toml_end, body_start)) = close else {
        cx.problem(
            0,
            "the front matter is not closed: add a `+++` line after it",
        );
        return (None, text.len());
    };
    let toml_text = &text[toml_start..toml_end];
    let raw: RawMeta = match toml::from_str(toml_text) {
        Ok(r) => r,
        Err(e) => {
            let off = e.span().map(|s| s.start).unwrap_or(0);
            let msg = format!("front matter: {}", toml_message(e.message(), META_KEYS));
            cx.problem(toml_start + off, msg);
            return (lenient_meta(toml_text), body_start);
        }
    };
    let at = |cx: &Ctx, off: usize| cx.pos(toml_start + off);
    let mut meta = Meta {
        schema: *raw.schema.get_ref(),
        id: raw.id.get_ref().clone(),
        title: raw.title,
        kind: raw.kind,
        version: raw.version,
        summary: raw.summary,
        owners: raw.owners,
        source: raw.source,
        rto: raw.objectives.rto,
        rpo: raw.objectives.rpo,
        ..Meta::default()
    };
    if meta.schema != 1 {
        let off = raw.schema.span().start;
        cx.problem(
            toml_start + off,
            format!(
                "front matter: schema {} is not supported (this capdeck reads schema 1)",
                meta.schema
            ),
        );
    }
    if meta.id.is_empty()
        || !meta
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        let off = string_start(toml_text, raw.id.span().start);
        cx.problem(
            toml_start + off,
            format!(
                "front matter: id `{}` must be made of a-z, 0-9 and `-`",
                meta.id
            ),
        );
    }
    for t in &raw.triggers {
        let pos = at(cx, string_start(toml_text, t.span().start));
        if !t.get_ref().contains('/') {
            cx.problems.push(Problem {
                pos,
                message: format!(
                    "front matter: trigger `{}` must be written DOMAIN/ID",
                    t.get_ref()
                ),
            });
        }
        meta.triggers.push((t.get_ref().clone(), pos));
    }
    match raw.watch {
        None => {}
        Some(RawWatch::List(list)) => {
            for w in list {
                let off = string_start(toml_text, w.span().start);
                let expr = w.get_ref().trim().to_string();
                let name: String = expr
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let pos = at(cx, off);
                let after = expr[name.len()..].trim_start();
                if name.is_empty()
                    || name.starts_with(|c: char| c.is_ascii_digit())
                    || !(after.is_empty() || after.starts_with('{'))
                {
                    cx.problems.push(Problem {
                        pos,
                        message: format!(
                            "front matter: watch entry `{expr}` is not a selector; write a table `[watch]` of `name = \"expression\"` for expressions"
                        ),
                    });
                    continue;
                }
                meta.watch.push(Watch { name, expr, pos });
            }
        }
        Some(RawWatch::Table(t)) => {
            for (name, e) in t {
                let pos = at(cx, string_start(toml_text, e.span().start));
                meta.watch.push(Watch {
                    name,
                    expr: e.get_ref().clone(),
                    pos,
                });
            }
        }
    }
    for (name, input) in raw.inputs {
        let off = input.span().start;
        let pos = at(cx, off);
        let i = input.into_inner();
        if !name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            cx.problems.push(Problem {
                pos,
                message: format!(
                    "front matter: input `{name}` must be an environment variable name (A-Z, 0-9, _)"
                ),
            });
        }
        if let Some(d) = &i.default
            && !i.choices.is_empty()
            && !i.choices.contains(d.get_ref())
        {
            cx.problem(
                toml_start + string_start(toml_text, d.span().start),
                format!(
                    "front matter: default `{}` of input `{name}` is not one of its choices ({})",
                    d.get_ref(),
                    i.choices.join(", ")
                ),
            );
        }
        meta.inputs.push(InputSpec {
            name,
            prompt: i.prompt,
            choices: i.choices,
            default: i.default.map(Spanned::into_inner),
            secret: i.secret,
            pos,
        });
    }
    for (name, c) in raw.conditions {
        let off = string_start(toml_text, c.span().start);
        let parsed = match cond::parse(c.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                cx.problem(
                    toml_start + raw_offset(toml_text, c.span().start, e.offset),
                    format!("condition `{name}`: {}", e.message),
                );
                None
            }
        };
        meta.conditions.push(NamedCond {
            name,
            text: c.get_ref().clone(),
            cond: parsed,
            pos: at(cx, off),
        });
    }
    (Some(meta), body_start)
}

/// What a list can still show of a runbook whose front matter is wrong.
fn lenient_meta(toml_text: &str) -> Option<Meta> {
    let t: toml::Table = toml::from_str(toml_text).ok()?;
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(Meta {
        id: s("id").unwrap_or_default(),
        title: s("title").unwrap_or_default(),
        kind: match s("kind").as_deref() {
            Some("failover") => Kind::Failover,
            Some("restore") => Kind::Restore,
            Some("degrade") => Kind::Degrade,
            Some("scale") => Kind::Scale,
            Some("drill") => Kind::Drill,
            _ => Kind::Other,
        },
        ..Meta::default()
    })
}

/// `key=value` pairs inside `{…}`, values optionally double-quoted, with
/// the byte offset of each key. Bare words have no value.
/// One `key=value` (or bare `key`) with the byte offset of its key.
pub type Attr = (String, Option<String>, usize);

pub fn split_attrs(inner: &str, base: usize) -> Result<Vec<Attr>, (usize, String)> {
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        let key = inner[start..i].to_string();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            if i < b.len() && b[i] == b'"' {
                let q = i;
                i += 1;
                let mut v = String::new();
                loop {
                    match b.get(i) {
                        None => {
                            return Err((
                                base + q,
                                format!("unterminated quoted value of `{key}`"),
                            ));
                        }
                        Some(b'\\') if b.get(i + 1) == Some(&b'"') => {
                            v.push('"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = inner[i..].chars().next().unwrap_or('?');
                            v.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((key, Some(v), base + start));
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                out.push((key, Some(inner[vs..i].to_string()), base + start));
            }
        } else {
            out.push((key, None, base + start));
        }
    }
    Ok(out)
}

/// The trailing `{…}` of a line: its inner text and offset.
fn trailing_braces(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    if !t.ends_with('}') {
        return None;
    }
    let open = t.rfind('{')?;
    Some((open, &t[open + 1..t.len() - 1]))
}

fn parse_requires(v: &str) -> Requires {
    Requires(
        v.split(',')
            .map(|g| {
                g.split('|')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|g| !g.is_empty())
            .collect(),
    )
}

fn step_heading(cx: &mut Ctx, start: usize, line: &str) -> Step {
    let hashes = line.len() - line.trim_start_matches('#').len();
    let after = &line[hashes..];
    let mut step = Step {
        pos: cx.pos(start),
        ..Step::default()
    };
    let Some((open, inner)) = trailing_braces(after) else {
        step.title = after.trim().to_string();
        cx.problem(
            start,
            format!(
                "step `{}` has no id: end its heading with `{{#id …}}`",
                step.title
            ),
        );
        return step;
    };
    step.title = after[..open].trim().to_string();
    let base = start + hashes + open + 1;
    let attrs = match split_attrs(inner, base) {
        Ok(a) => a,
        Err((off, msg)) => {
            cx.problem(off, msg);
            return step;
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (key, value, off) in attrs {
        let pos = cx.pos(off);
        if let Some(id) = key.strip_prefix('#') {
            if value.is_some() {
                cx.problem(off, "a step id is written `#id`, without `=`");
            } else if !step.id.is_empty() {
                cx.problem(
                    off,
                    format!("step has a second id `#{id}`: a heading carries exactly one"),
                );
            } else if id.is_empty() {
                cx.problem(off, "empty step id");
            } else {
                step.id = id.to_string();
                step.attr_pos.insert("#id".into(), pos);
            }
            continue;
        }
        if key.starts_with('.') {
            cx.problem(
                off,
                format!("unknown step attribute `{key}` (classes are not used)"),
            );
            continue;
        }
        if !STEP_ATTRS.contains(&key.as_str()) {
            let hint = nearest(&key, STEP_ATTRS.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_else(|| format!(" (expected one of: {})", STEP_ATTRS.join(", ")));
            cx.problem(off, format!("unknown step attribute `{key}`{hint}"));
            continue;
        }
        if seen.insert(key.clone(), off).is_some() {
            cx.problem(off, format!("step attribute `{key}` is given twice"));
            continue;
        }
        step.attr_pos.insert(key.clone(), pos);
        let val_off = off + key.len() + 1;
        let Some(v) = value else {
            if key == "ponr" {
                step.ponr = true;
            } else {
                cx.problem(
                    off,
                    format!("step attribute `{key}` needs a value (`{key}=…`)"),
                );
            }
            continue;
        };
        match key.as_str() {
            "ponr" => cx.problem(off, "`ponr` takes no value: write it alone"),
            "eta" => match parse_duration(&v) {
                Ok(d) => step.eta = Some(d),
                Err(e) => cx.problem(val_off, format!("eta: {e}")),
            },
            "owner" => step.owner = Some(v),
            "danger" => {
                step.danger = match v.as_str() {
                    "none" => Danger::None,
                    "low" => Danger::Low,
                    "medium" => Danger::Medium,
                    "high" => Danger::High,
                    "critical" => Danger::Critical,
                    _ => {
                        cx.problem(
                            val_off,
                            format!("danger `{v}` is not one of none, low, medium, high, critical"),
                        );
                        Danger::None
                    }
                }
            }
            "approval" => match v.as_str() {
                "ack" => step.approval = Some(Approval::Ack),
                "two-person" => step.approval = Some(Approval::TwoPerson),
                _ => cx.problem(
                    val_off,
                    format!("approval `{v}` is not one of ack, two-person"),
                ),
            },
            "requires" => step.requires = parse_requires(&v),
            "when" => step.when = Some(v),
            "role" => {
                if v == "rollback" {
                    step.rollback = true;
                } else {
                    cx.problem(
                        val_off,
                        format!("role `{v}` is unknown: the only role is `rollback`"),
                    );
                }
            }
            "undoes" => {
                step.undoes = v
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "on_fail" => {
                step.on_fail = Some(match v.as_str() {
                    "stop" => OnFail::Stop,
                    "ask" => OnFail::Ask,
                    id => OnFail::Step(id.to_string()),
                })
            }
            "marks" => {
                for m in v.split(',') {
                    match Mark::parse(m.trim()) {
                        Some(m) if !step.marks.contains(&m) => step.marks.push(m),
                        Some(_) => {}
                        None => cx.problem(
                            val_off,
                            format!("mark `{m}` is not one of mitigated, restored, resolved"),
                        ),
                    }
                }
            }
            _ => {}
        }
    }
    if step.id.is_empty() && !cx.problems.iter().any(|p| p.pos == step.pos) {
        cx.problem(start, format!("step `{}` has no `#id`", step.title));
    }
    if step.rollback && step.undoes.is_empty() {
        cx.problem(
            start,
            format!("rollback step `{}` has no `undoes=…`", step.id),
        );
    }
    if !step.undoes.is_empty()
        && !step.rollback
        && let Some(p) = step.attr_pos.get("undoes").copied()
    {
        {
            cx.problems.push(Problem {
                pos: p,
                message: "`undoes` is only for rollback steps: add `role=rollback`".into(),
            });
        }
    }
    step
}

fn parse_expect(
    cx: &mut Ctx,
    content: &str,
    content_start: usize,
    list: Vec<Spanned<String>>,
    what: &str,
) -> Vec<Expect> {
    let mut out = Vec::new();
    for e in list {
        let off = content_start + string_start(content, e.span().start);
        let text = e.get_ref().clone();
        let parsed = match cond::parse(&text) {
            Ok(c) => Some(c),
            Err(err) => {
                cx.problem(
                    content_start + raw_offset(content, e.span().start, err.offset),
                    format!("{what}: {}", err.message),
                );
                None
            }
        };
        out.push(Expect {
            text,
            cond: parsed,
            pos: cx.pos(off),
        });
    }
    out
}

fn fence(cx: &mut Ctx, start: usize, content: &str, content_start: usize) -> Option<Action> {
    let text = cx.text;
    let line_end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let line = &text[start..line_end];
    let indent = line.len() - line.trim_start().len();
    let marker = line.trim_start();
    let fence_len = marker.len() - marker.trim_start_matches(['`', '~']).len();
    let info = &marker[fence_len..];
    let info_off = start + indent + fence_len;
    let lang_len = info
        .find(|c: char| c.is_whitespace() || c == '{')
        .unwrap_or(info.len());
    let lang = &info[..lang_len];
    if !matches!(lang, "sh" | "gate" | "assert") {
        return None;
    }
    let pos = cx.pos(start);
    let rest = &info[lang_len..];
    let mut attrs: Vec<(String, Option<String>, usize)> = Vec::new();
    let trimmed = rest.trim();
    if !trimmed.is_empty() {
        if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
            let off = info_off + lang_len + (rest.len() - rest.trim_start().len());
            cx.problem(
                off,
                format!("`{lang}` fence attributes are written inside `{{…}}`"),
            );
        } else {
            let open = info_off + lang_len + rest.find('{').unwrap_or(0);
            let inner = &trimmed[1..trimmed.len() - 1];
            match split_attrs(inner, open + 1) {
                Ok(a) => attrs = a,
                Err((off, msg)) => cx.problem(off, msg),
            }
        }
    }
    let allowed = if lang == "sh" { SH_ATTRS } else { GATE_ATTRS };
    let mut id = None;
    let mut timeout = Dur::secs(300);
    let mut confirm = None;
    let mut seen = Vec::new();
    for (k, v, off) in attrs {
        if !allowed.contains(&k.as_str()) {
            let hint = nearest(&k, allowed.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_else(|| format!(" (expected one of: {})", allowed.join(", ")));
            cx.problem(off, format!("unknown `{lang}` fence attribute `{k}`{hint}"));
            continue;
        }
        if seen.contains(&k) {
            cx.problem(
                off,
                format!("`{lang}` fence attribute `{k}` is given twice"),
            );
            continue;
        }
        seen.push(k.clone());
        let Some(v) = v else {
            cx.problem(
                off,
                format!("fence attribute `{k}` needs a value (`{k}=…`)"),
            );
            continue;
        };
        match k.as_str() {
            "id" => id = Some(v),
            "timeout" => match parse_duration(&v) {
                Ok(d) if !d.is_zero() => timeout = d,
                Ok(_) => cx.problem(
                    off + k.len() + 1,
                    "timeout: a command timeout must be more than 0s",
                ),
                Err(e) => cx.problem(off + k.len() + 1, format!("timeout: {e}")),
            },
            "confirm" => {
                if v.trim().is_empty() {
                    cx.problem(off, "confirm: the phrase is empty");
                }
                confirm = Some(v)
            }
            _ => {}
        }
    }
    let kind = match lang {
        "sh" => ActionKind::Command {
            text: content.to_string(),
            timeout,
            confirm,
        },
        "gate" => match toml::from_str::<RawGate>(content) {
            Ok(g) => {
                let expect = parse_expect(cx, content, content_start, g.expect, "gate");
                let (on_timeout, on_timeout_step) =
                    match g.on_timeout.as_ref().map(|s| s.get_ref().as_str()) {
                        None | Some("ask") => (OnTimeout::Ask, None),
                        Some("fail") => (OnTimeout::Fail, None),
                        Some(step) => (OnTimeout::Fail, Some(step.to_string())),
                    };
                if expect.is_empty() {
                    cx.problem(
                        start,
                        "gate: `expect` is empty: a gate needs at least one condition",
                    );
                }
                if let Some(s) = &g.on_timeout
                    && on_timeout_step.is_some()
                {
                    // Checked against step ids by the linter; remember where.
                    let _ = s;
                }
                ActionKind::Gate {
                    expect,
                    hold: g.hold.unwrap_or(Dur::ZERO),
                    timeout: g.timeout.filter(|d| !d.is_zero()),
                    on_timeout,
                    on_timeout_step,
                }
            }
            Err(e) => {
                let off = e.span().map(|s| s.start).unwrap_or(0);
                cx.problem(
                    content_start + off,
                    format!(
                        "gate: {}",
                        toml_message(e.message(), &["expect", "hold", "timeout", "on_timeout"])
                    ),
                );
                ActionKind::Gate {
                    expect: Vec::new(),
                    hold: Dur::ZERO,
                    timeout: None,
                    on_timeout: OnTimeout::Ask,
                    on_timeout_step: None,
                }
            }
        },
        _ => match toml::from_str::<RawAssert>(content) {
            Ok(a) => {
                let expect = parse_expect(cx, content, content_start, a.expect, "assert");
                if expect.is_empty() {
                    cx.problem(start, "assert: `expect` is empty");
                }
                ActionKind::Assert { expect }
            }
            Err(e) => {
                let off = e.span().map(|s| s.start).unwrap_or(0);
                cx.problem(
                    content_start + off,
                    format!("assert: {}", toml_message(e.message(), &["expect"])),
                );
                ActionKind::Assert { expect: Vec::new() }
            }
        },
    };
    Some(Action { id, kind, pos })
}

fn body(cx: &mut Ctx, _meta: &Meta, body_start: usize) -> (String, String, Vec<Step>) {
    let text = cx.text;
    let body = &text[body_start..];
    let mut title = String::new();
    let mut title_seen = false;
    let mut intro_range: Option<(usize, usize)> = None;
    let mut steps: Vec<(Step, usize)> = Vec::new();
    let events = Parser::new_ext(body, Options::ENABLE_TASKLISTS | Options::ENABLE_TABLES)
        .into_offset_iter();
    let mut in_item: Option<usize> = None;
    let mut code: Option<(usize, String, Option<usize>)> = None;
    for (ev, range) in events {
        let start = body_start + range.start;
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                let line_end = text[start..]
                    .find('\n')
                    .map(|i| start + i)
                    .unwrap_or(text.len());
                let line = text[start..line_end].trim_end_matches('\r');
                match level {
                    HeadingLevel::H1 => {
                        if title_seen {
                            cx.problem(start, "a second `#` heading: a runbook has one title; steps are `##` headings");
                        } else {
                            title_seen = true;
                            title = line.trim_start_matches('#').trim().to_string();
                            intro_range = Some((line_end, line_end));
                        }
                    }
                    HeadingLevel::H2 => {
                        if let Some((last, body_from)) = steps.last_mut() {
                            last.body = text[*body_from..start].trim().to_string();
                        } else if let Some(r) = intro_range.as_mut() {
                            r.1 = start;
                        }
                        let step = step_heading(cx, start, line);
                        steps.push((step, (line_end + 1).min(text.len())));
                    }
                    _ => {}
                }
            }
            Event::Start(Tag::Item) => in_item = Some(start),
            Event::TaskListMarker(_) => {
                if let (Some(item_start), Some((step, _))) = (in_item, steps.last_mut()) {
                    let line_end = text[item_start..]
                        .find('\n')
                        .map(|i| item_start + i)
                        .unwrap_or(text.len());
                    let line = &text[start..line_end];
                    let label = line
                        .find(']')
                        .map(|i| line[i + 1..].trim())
                        .unwrap_or("")
                        .to_string();
                    step.actions.push(Action {
                        id: None,
                        kind: ActionKind::Check { text: label },
                        pos: cx.pos(item_start),
                    });
                }
            }
            Event::End(TagEnd::Item) => in_item = None,
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                code = Some((start, String::new(), None));
            }
            Event::Text(t) if code.is_some() => {
                if let Some((_, buf, first)) = code.as_mut() {
                    if first.is_none() {
                        *first = Some(start);
                    }
                    buf.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((fstart, content, first)) = code.take() {
                    let after_fence = text[fstart..]
                        .find('\n')
                        .map(|i| fstart + i + 1)
                        .unwrap_or(text.len());
                    let content_start = first.unwrap_or(after_fence);
                    if let Some(action) = fence(cx, fstart, &content, content_start) {
                        match steps.last_mut() {
                            Some((step, _)) => step.actions.push(action),
                            None => cx.problem(
                                fstart,
                                "a fence before the first step: put it under a `##` step",
                            ),
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some((last, body_from)) = steps.last_mut() {
        last.body = text[(*body_from).min(text.len())..].trim().to_string();
    } else if let Some(r) = intro_range.as_mut() {
        r.1 = text.len();
    }
    if !title_seen {
        cx.problem(body_start, "missing the `#` title heading");
    }
    let intro = intro_range
        .map(|(a, b)| text[a.min(b)..b].trim().to_string())
        .unwrap_or_default();
    (title, intro, steps.into_iter().map(|(s, _)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RB: &str = r#"+++
schema = 1
id = "demo"
title = "Demo"
kind = "failover"
watch = ['lag_seconds', 'waiting']

[objectives]
rto = "20m"

[inputs.REPLICA]
prompt = "Replica"
choices = ["a", "b"]

[conditions]
planned = "${REPLICA} == 'a'"
+++
# Demo runbook

Use it when things break.

## Fence the primary {#fence eta=2m owner=ops}

- [ ] Tell the channel
- [ ] Freeze deploys

```sh {id=fence-cmd timeout=30s confirm="FENCE ${REPLICA}"}
echo fence "$REPLICA"
```

## Promote {#promote danger=critical approval=two-person ponr eta=1m requires=fence|skip,other when=planned marks=mitigated,restored}

```gate {id=caught-up}
expect = ["lag_seconds{instance='${REPLICA}'} < 5s"]
hold = "30s"
timeout = "10m"
on_timeout = "fail"
```

```assert
expect = ["waiting < 10"]
```
"#;

    #[test]
    fn reads_front_matter_steps_and_actions() {
        let rb = parse_runbook(RB);
        assert_eq!(rb.problems, vec![]);
        assert_eq!(rb.meta.id, "demo");
        assert_eq!(rb.meta.kind, Kind::Failover);
        assert_eq!(rb.meta.rto, Some(Dur::secs(1200)));
        assert_eq!(rb.meta.watch.len(), 2);
        assert_eq!(rb.meta.watch[0].pos, Pos { line: 6, col: 11 });
        assert_eq!(rb.meta.inputs[0].name, "REPLICA");
        assert_eq!(rb.meta.conditions[0].pos, Pos { line: 16, col: 12 });
        assert_eq!(rb.title, "Demo runbook");
        assert_eq!(rb.intro, "Use it when things break.");
        assert_eq!(rb.steps.len(), 2);
        let f = &rb.steps[0];
        assert_eq!((f.id.as_str(), f.pos), ("fence", Pos { line: 22, col: 1 }));
        assert_eq!(f.eta, Some(Dur::secs(120)));
        assert_eq!(f.actions.len(), 3);
        assert_eq!(f.actions[0].pos, Pos { line: 24, col: 1 });
        assert!(
            matches!(&f.actions[0].kind, ActionKind::Check { text } if text == "Tell the channel")
        );
        match &f.actions[2].kind {
            ActionKind::Command {
                text,
                timeout,
                confirm,
            } => {
                assert_eq!(text, "echo fence \"$REPLICA\"\n");
                assert_eq!(*timeout, Dur::secs(30));
                assert_eq!(confirm.as_deref(), Some("FENCE ${REPLICA}"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.actions[2].id.as_deref(), Some("fence-cmd"));
        let p = &rb.steps[1];
        assert!(p.ponr);
        assert_eq!(p.danger, Danger::Critical);
        assert_eq!(p.approval, Some(Approval::TwoPerson));
        assert_eq!(
            p.requires.0,
            vec![
                vec!["fence".to_string(), "skip".into()],
                vec!["other".into()]
            ]
        );
        assert_eq!(p.marks, vec![Mark::Mitigated, Mark::Restored]);
        match &p.actions[0].kind {
            ActionKind::Gate {
                expect,
                hold,
                timeout,
                on_timeout,
                ..
            } => {
                assert_eq!(expect[0].pos, Pos { line: 34, col: 12 });
                assert_eq!(*hold, Dur::secs(30));
                assert_eq!(*timeout, Some(Dur::secs(600)));
                assert_eq!(*on_timeout, OnTimeout::Fail);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p.actions[1].kind, ActionKind::Assert { .. }));
        assert!(f.body.contains("Freeze deploys"));
    }

    #[test]
    fn problems_point_inside_fences_and_front_matter() {
        let bad = RB.replace("kind = \"failover\"", "kind = \"failover\"\ntitel = \"x\"");
        let rb = parse_runbook(&bad);
        let msgs: Vec<String> = rb
            .problems
            .iter()
            .map(|p| format!("{}:{}: {}", p.pos.line, p.pos.col, p.message))
            .collect();
        assert_eq!(
            msgs,
            vec!["6:1: front matter: unknown key `titel` (did you mean `title`?)".to_string()]
        );
        let rb = parse_runbook(&RB.replace("< 5s\"]", "< 5x\"]"));
        assert_eq!(rb.problems[0].pos, Pos { line: 34, col: 50 });
        assert!(rb.problems[0].message.starts_with("gate: unknown unit `x`"));
    }

    #[test]
    fn attributes_with_quotes_and_escapes() {
        let a = split_attrs(r#"id=x confirm="SAY \"HI\" now" ponr"#, 10).unwrap();
        assert_eq!(a[0], ("id".into(), Some("x".into()), 10));
        assert_eq!(a[1].1.as_deref(), Some("SAY \"HI\" now"));
        assert_eq!(a[2], ("ponr".into(), None, 10 + 30));
        assert!(split_attrs(r#"confirm="open"#, 0).is_err());
    }

    #[test]
    fn line_index_counts_characters() {
        let t = "ab\nçé x\n";
        let i = LineIndex::new(t);
        assert_eq!(i.pos(t, 0), Pos { line: 1, col: 1 });
        assert_eq!(i.pos(t, t.find('x').unwrap()), Pos { line: 2, col: 4 });
    }
}
