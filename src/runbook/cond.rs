//! The condition language of gates, asserts and named conditions:
//! comparisons of selectors, numbers with units, strings, inputs and
//! trigger utilisations, combined with `and`, `or`, `not` and parentheses.
//!
//! Evaluation is three-valued: a selector that matches nothing, or a stale
//! or NaN sample, makes its comparison unknown, and unknown is never true.

use std::collections::BTreeMap;
use std::fmt;

/// A parse error at a byte offset into the condition text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CondError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    fn num(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One label matcher of a selector: `instance='${REPLICA}'` or `role!='primary'`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Matcher {
    pub name: String,
    pub negated: bool,
    /// May contain `${INPUT}` until substituted.
    pub value: String,
}

impl Matcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        (v == self.value) != self.negated
    }
}

/// A metric selector: a metric name and label matchers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector {
    pub metric: String,
    pub matchers: Vec<Matcher>,
    /// Byte offset of the metric name in the condition text.
    pub offset: usize,
}

impl Selector {
    /// The selector with `${INPUT}` replaced in label values.
    pub fn substituted(&self, inputs: &BTreeMap<String, String>) -> Selector {
        Selector {
            metric: self.metric.clone(),
            matchers: self
                .matchers
                .iter()
                .map(|m| Matcher {
                    value: substitute(&m.value, inputs),
                    ..m.clone()
                })
                .collect(),
            offset: self.offset,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if !self.matchers.is_empty() {
            let parts: Vec<String> = self
                .matchers
                .iter()
                .map(|m| {
                    format!(
                        "{}{}'{}'",
                        m.name,
                        if m.negated { "!=" } else { "=" },
                        m.value.replace('\'', "\\'")
                    )
                })
                .collect();
            write!(f, "{{{}}}", parts.join(","))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Selector(Selector),
    /// A number with its unit already applied (seconds, bytes, fraction).
    Number {
        value: f64,
        text: String,
    },
    Str(String),
    /// `${NAME}`: a string, or a number when it parses as one.
    Input(String),
    /// `trigger:DOMAIN/ID`: the trigger's utilisation (a fraction).
    Trigger {
        key: String,
        offset: usize,
    },
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Selector(s) => write!(f, "{s}"),
            Operand::Number { text, .. } => f.write_str(text),
            Operand::Str(s) => write!(f, "'{}'", s.replace('\'', "\\'")),
            Operand::Input(n) => write!(f, "${{{n}}}"),
            Operand::Trigger { key, .. } => write!(f, "trigger:{key}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp { lhs: Operand, op: Op, rhs: Operand },
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Cmp { lhs, op, rhs } => write!(f, "{lhs} {} {rhs}", op.text()),
            Cond::And(a, b) => write!(f, "({a} and {b})"),
            Cond::Or(a, b) => write!(f, "({a} or {b})"),
            Cond::Not(a) => write!(f, "not {a}"),
        }
    }
}

impl Cond {
    /// Every selector in the condition, in order.
    pub fn selectors(&self) -> Vec<&Selector> {
        let mut out = Vec::new();
        self.walk(&mut |o| {
            if let Operand::Selector(s) = o {
                out.push(s);
            }
        });
        out
    }

    /// Every `${INPUT}` name used, as an operand or in a label value.
    pub fn inputs(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |o| match o {
            Operand::Input(n) => out.push(n.clone()),
            Operand::Selector(s) => {
                for m in &s.matchers {
                    out.extend(input_names(&m.value).into_iter().map(|(n, _)| n));
                }
            }
            _ => {}
        });
        out
    }

    /// Every `trigger:` key with its offset.
    pub fn triggers(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.walk(&mut |o| {
            if let Operand::Trigger { key, offset } = o {
                out.push((key.clone(), *offset));
            }
        });
        out
    }

    /// Comparisons whose literal has a time unit: what the RPO evidence is
    /// taken from (a lag compared with `5s`).
    pub fn has_duration_literal(&self) -> bool {
        let mut found = false;
        self.walk(&mut |o| {
            if let Operand::Number { text, .. } = o {
                found |= text.ends_with(['s', 'm', 'h', 'd']) && !text.ends_with("B");
            }
        });
        found
    }

    fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Operand)) {
        match self {
            Cond::Cmp { lhs, rhs, .. } => {
                f(lhs);
                f(rhs);
            }
            Cond::And(a, b) | Cond::Or(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Cond::Not(a) => a.walk(f),
        }
    }
}

/// `${NAME}` occurrences: names with their byte offsets.
pub fn input_names(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find("${") {
        let start = i + rel;
        match text[start + 2..].find('}') {
            Some(end) => {
                out.push((text[start + 2..start + 2 + end].to_string(), start));
                i = start + 2 + end + 1;
            }
            None => break,
        }
    }
    out
}

/// Replaces every `${NAME}` whose input is known; unknown ones stay as written.
pub fn substitute(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match inputs.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64, String),
    Str(String),
    Input(String),
    Trigger(String),
    Op(Op),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Assign,
    NotEq,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, CondError> {
    Err(CondError {
        offset,
        message: message.into(),
    })
}

fn unit_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "" => 1.0,
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "%" => 0.01,
        _ => return None,
    })
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, CondError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push((Tok::LParen, start)),
            b')' => out.push((Tok::RParen, start)),
            b'{' => out.push((Tok::LBrace, start)),
            b'}' => out.push((Tok::RBrace, start)),
            b',' => out.push((Tok::Comma, start)),
            b'<' | b'>' | b'=' | b'!' => {
                let next = b.get(i + 1).copied();
                let (tok, len) = match (c, next) {
                    (b'<', Some(b'=')) => (Tok::Op(Op::Le), 2),
                    (b'<', _) => (Tok::Op(Op::Lt), 1),
                    (b'>', Some(b'=')) => (Tok::Op(Op::Ge), 2),
                    (b'>', _) => (Tok::Op(Op::Gt), 1),
                    (b'=', Some(b'=')) => (Tok::Op(Op::Eq), 2),
                    (b'=', Some(b'~')) | (b'!', Some(b'~')) => {
                        return err(
                            start,
                            "regular-expression matchers (`=~`, `!~`) are not supported: match exact label values",
                        );
                    }
                    (b'=', _) => (Tok::Assign, 1),
                    (b'!', Some(b'=')) => (Tok::NotEq, 2),
                    _ => return err(start, "unexpected `!`: write `not` or `!=`"),
                };
                out.push((tok, start));
                i += len;
                continue;
            }
            b'\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return err(start, "unterminated string: a `'` is missing"),
                        Some(b'\\') if b.get(i + 1) == Some(&b'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((Tok::Str(s), start));
                continue;
            }
            b'"' => {
                return err(
                    start,
                    "strings are written in single quotes ('value'), not double quotes",
                );
            }
            b'$' => {
                if b.get(i + 1) != Some(&b'{') {
                    return err(start, "expected `${` to start an input reference");
                }
                let Some(end) = text[i + 2..].find('}') else {
                    return err(start, "unterminated `${`: a `}` is missing");
                };
                let name = &text[i + 2..i + 2 + end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return err(start, format!("`${{{name}}}` is not an input name"));
                }
                out.push((Tok::Input(name.to_string()), start));
                i += 2 + end + 1;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b'_') {
                    j += 1;
                }
                if j + 1 < b.len() && (b[j] == b'e' || b[j] == b'E') && b[j + 1].is_ascii_digit() {
                    j += 1;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                let num_text = text[i..j].replace('_', "");
                let Ok(n) = num_text.parse::<f64>() else {
                    return err(start, format!("`{}` is not a number", &text[i..j]));
                };
                let mut k = j;
                while k < b.len() && (b[k].is_ascii_alphabetic() || b[k] == b'%') {
                    k += 1;
                }
                let unit = &text[j..k];
                let Some(f) = unit_factor(unit) else {
                    return err(
                        j,
                        format!(
                            "unknown unit `{unit}` (use ms s m h d, B KiB MiB GiB TiB, KB MB GB TB, or %)"
                        ),
                    );
                };
                out.push((Tok::Number(n * f, text[i..k].to_string()), start));
                i = k;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let mut j = i;
                if text[i..].starts_with("trigger:") {
                    j = i + "trigger:".len();
                } else {
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':')
                    {
                        j += 1;
                    }
                }
                let word = &text[i..j];
                if word == "trigger:" {
                    let mut k = j;
                    while k < b.len()
                        && (b[k].is_ascii_alphanumeric() || matches!(b[k], b'_' | b'-' | b'/'))
                    {
                        k += 1;
                    }
                    let key = &text[j..k];
                    if !key.contains('/') || key.starts_with('/') || key.ends_with('/') {
                        return err(start, "expected `trigger:DOMAIN/ID`");
                    }
                    out.push((Tok::Trigger(key.to_string()), start));
                    i = k;
                    continue;
                }
                out.push((Tok::Ident(word.to_string()), start));
                i = j;
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return err(start, format!("unexpected `{ch}`"));
            }
        }
        i += 1;
    }
    Ok(out)
}

struct P<'t> {
    toks: Vec<(Tok, usize)>,
    at: usize,
    len: usize,
    _text: &'t str,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.at).map(|t| t.1).unwrap_or(self.len)
    }
    fn bump(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(x)) if x == w)
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut lhs = self.and()?;
        while self.is_word("or") {
            self.bump();
            let rhs = self.and()?;
            lhs = Cond::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut lhs = self.not()?;
        while self.is_word("and") {
            self.bump();
            let rhs = self.not()?;
            lhs = Cond::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        if self.is_word("not") {
            self.bump();
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.bump();
            let inner = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return err(self.offset(), "a `)` is missing");
            }
            self.bump();
            return Ok(inner);
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Cond, CondError> {
        let lhs = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            Some(Tok::NotEq) => Op::Ne,
            Some(Tok::Assign) => {
                return err(self.offset(), "`=` is not a comparison: write `==`");
            }
            _ => {
                return err(
                    self.offset(),
                    "expected a comparison (<, <=, >, >=, ==, !=) after the operand",
                );
            }
        };
        self.bump();
        let rhs = self.operand()?;
        Ok(Cond::Cmp { lhs, op, rhs })
    }

    fn operand(&mut self) -> Result<Operand, CondError> {
        let off = self.offset();
        match self.bump() {
            Some((Tok::Number(value, text), _)) => Ok(Operand::Number { value, text }),
            Some((Tok::Str(s), _)) => Ok(Operand::Str(s)),
            Some((Tok::Input(n), _)) => Ok(Operand::Input(n)),
            Some((Tok::Trigger(key), o)) => Ok(Operand::Trigger { key, offset: o }),
            Some((Tok::Ident(w), o)) if !matches!(w.as_str(), "and" | "or" | "not") => {
                let mut matchers = Vec::new();
                if self.peek() == Some(&Tok::LBrace) {
                    self.bump();
                    loop {
                        if self.peek() == Some(&Tok::RBrace) {
                            self.bump();
                            break;
                        }
                        let name = match self.bump() {
                            Some((Tok::Ident(n), _)) => n,
                            _ => {
                                return err(
                                    self.toks.get(self.at - 1).map(|t| t.1).unwrap_or(self.len),
                                    "expected a label name",
                                );
                            }
                        };
                        let negated = match self.bump() {
                            Some((Tok::Assign, _)) => false,
                            Some((Tok::NotEq, _)) => true,
                            _ => {
                                return err(
                                    self.toks.get(self.at - 1).map(|t| t.1).unwrap_or(self.len),
                                    format!("expected `=` or `!=` after label `{name}`"),
                                );
                            }
                        };
                        let value = match self.bump() {
                            Some((Tok::Str(v), _)) => v,
                            _ => {
                                return err(
                                    self.toks.get(self.at - 1).map(|t| t.1).unwrap_or(self.len),
                                    format!("expected a quoted value for label `{name}` ('value')"),
                                );
                            }
                        };
                        matchers.push(Matcher {
                            name,
                            negated,
                            value,
                        });
                        match self.peek() {
                            Some(Tok::Comma) => {
                                self.bump();
                            }
                            Some(Tok::RBrace) => {}
                            _ => {
                                return err(self.offset(), "expected `,` or `}` in the label list");
                            }
                        }
                    }
                }
                Ok(Operand::Selector(Selector {
                    metric: w,
                    matchers,
                    offset: o,
                }))
            }
            Some((t, o)) => err(o, format!("expected an operand, found {}", tok_name(&t))),
            None => err(off, "expected an operand, found the end of the condition"),
        }
    }
}

fn tok_name(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => format!("`{w}`"),
        Tok::Op(o) => format!("`{}`", o.text()),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Assign => "`=`".into(),
        Tok::NotEq => "`!=`".into(),
        _ => "a value".into(),
    }
}

/// Parses one condition.
pub fn parse(text: &str) -> Result<Cond, CondError> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return err(0, "empty condition");
    }
    let mut p = P {
        toks,
        at: 0,
        len: text.len(),
        _text: text,
    };
    let c = p.or()?;
    if p.at < p.toks.len() {
        let (t, o) = p.toks[p.at].clone();
        return err(
            o,
            format!("unexpected {} after a complete condition", tok_name(&t)),
        );
    }
    Ok(c)
}

// ------------------------------------------------------------- evaluation

/// The live value of one series: its labels and newest sample (ms, value).
pub type Reading = (BTreeMap<String, String>, Option<(i64, f64)>);

/// What an evaluation may look up.
pub trait Lookup {
    fn input(&self, name: &str) -> Option<&str>;
    /// Series a (substituted) selector matches, with their newest samples.
    fn selector(&self, sel: &Selector) -> Vec<Reading>;
    /// A trigger's utilisation and when it was measured.
    fn trigger(&self, key: &str) -> Option<(i64, f64)>;
    fn now_ms(&self) -> i64;
    fn stale_after_ms(&self) -> i64;
}

/// One value an evaluation looked at, for the journal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    /// The operand as evaluated (`pg_replication_lag_seconds{instance='pg-main-2'}`).
    pub what: String,
    /// Labels of the series, when several matched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `None`: missing, stale or NaN.
    pub value: Option<f64>,
    /// Sample time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Nums(Vec<Option<f64>>),
    Str(String),
    Unknown,
}

/// Evaluates: `Some(true)`, `Some(false)`, or `None` when unknown. Every
/// value looked at is pushed onto `seen`.
pub fn eval(c: &Cond, env: &dyn Lookup, seen: &mut Vec<Seen>) -> Option<bool> {
    match c {
        Cond::And(a, b) => {
            let (x, y) = (eval(a, env, seen), eval(b, env, seen));
            match (x, y) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            }
        }
        Cond::Or(a, b) => {
            let (x, y) = (eval(a, env, seen), eval(b, env, seen));
            match (x, y) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }
        }
        Cond::Not(a) => eval(a, env, seen).map(|v| !v),
        Cond::Cmp { lhs, op, rhs } => {
            let l = value(lhs, env, seen);
            let r = value(rhs, env, seen);
            compare(&l, *op, &r)
        }
    }
}

fn value(o: &Operand, env: &dyn Lookup, seen: &mut Vec<Seen>) -> Val {
    let now = env.now_ms();
    let stale_after = env.stale_after_ms();
    match o {
        Operand::Number { value, .. } => Val::Nums(vec![Some(*value)]),
        Operand::Str(s) => Val::Str(s.clone()),
        Operand::Input(n) => match env.input(n) {
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Val::Nums(vec![Some(x)]),
                _ => Val::Str(v.to_string()),
            },
            None => Val::Unknown,
        },
        Operand::Trigger { key, .. } => {
            let got = env.trigger(key);
            let stale = got.is_some_and(|(t, _)| now - t > stale_after);
            let v = got.map(|g| g.1).filter(|v| v.is_finite() && !stale);
            seen.push(Seen {
                what: format!("trigger:{key}"),
                labels: BTreeMap::new(),
                value: got.map(|g| g.1).filter(|v| v.is_finite()),
                at: got.map(|g| g.0),
                stale,
            });
            Val::Nums(vec![v])
        }
        Operand::Selector(sel) => {
            let inputs: BTreeMap<String, String> = sel
                .matchers
                .iter()
                .flat_map(|m| input_names(&m.value))
                .filter_map(|(n, _)| env.input(&n).map(|v| (n, v.to_string())))
                .collect();
            let sel = sel.substituted(&inputs);
            let rows = env.selector(&sel);
            let what = sel.to_string();
            if rows.is_empty() {
                seen.push(Seen {
                    what,
                    labels: BTreeMap::new(),
                    value: None,
                    at: None,
                    stale: false,
                });
                return Val::Nums(vec![None]);
            }
            let several = rows.len() > 1;
            let vals = rows
                .into_iter()
                .map(|(mut labels, sample)| {
                    labels.remove("__name__");
                    let stale = sample.is_some_and(|(t, _)| now - t > stale_after);
                    let v = sample.map(|s| s.1).filter(|v| v.is_finite());
                    seen.push(Seen {
                        what: what.clone(),
                        labels: if several { labels } else { BTreeMap::new() },
                        value: v,
                        at: sample.map(|s| s.0),
                        stale,
                    });
                    v.filter(|_| !stale)
                })
                .collect();
            Val::Nums(vals)
        }
    }
}

fn compare(l: &Val, op: Op, r: &Val) -> Option<bool> {
    match (l, r) {
        (Val::Unknown, _) | (_, Val::Unknown) => None,
        (Val::Str(a), Val::Str(b)) => match op {
            Op::Eq => Some(a == b),
            Op::Ne => Some(a != b),
            _ => None,
        },
        (Val::Nums(a), Val::Nums(b)) => {
            // Every pair must hold; any missing value makes it unknown.
            let mut all = true;
            for x in a {
                for y in b {
                    let (Some(x), Some(y)) = (x, y) else {
                        return None;
                    };
                    all &= op.num(*x, *y);
                }
            }
            Some(all)
        }
        // A number against a string: the input did not parse as a number.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, BTreeMap<String, String>, Option<(i64, f64)>);

    struct Env {
        inputs: BTreeMap<String, String>,
        rows: Vec<Row>,
        now: i64,
    }

    impl Lookup for Env {
        fn input(&self, name: &str) -> Option<&str> {
            self.inputs.get(name).map(String::as_str)
        }
        fn selector(&self, sel: &Selector) -> Vec<Reading> {
            self.rows
                .iter()
                .filter(|(m, l, _)| *m == sel.metric && sel.matchers.iter().all(|x| x.matches(l)))
                .map(|(_, l, s)| (l.clone(), *s))
                .collect()
        }
        fn trigger(&self, key: &str) -> Option<(i64, f64)> {
            (key == "database/pool").then_some((self.now, 0.5))
        }
        fn now_ms(&self) -> i64 {
            self.now
        }
        fn stale_after_ms(&self) -> i64 {
            60_000
        }
    }

    fn l(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn env() -> Env {
        Env {
            inputs: l(&[
                ("REPLICA", "pg-main-2"),
                ("SCENARIO", "switchover"),
                ("N", "3"),
            ]),
            rows: vec![
                (
                    "lag".into(),
                    l(&[("instance", "pg-main-2")]),
                    Some((1_000_000, 2.0)),
                ),
                (
                    "lag".into(),
                    l(&[("instance", "pg-main-3")]),
                    Some((1_000_000, 9.0)),
                ),
                ("old".into(), l(&[]), Some((1, 1.0))),
                ("nan".into(), l(&[]), Some((1_000_000, f64::NAN))),
            ],
            now: 1_000_000,
        }
    }

    fn ev(text: &str) -> Option<bool> {
        let c = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        eval(&c, &env(), &mut Vec::new())
    }

    #[test]
    fn numbers_take_their_units() {
        let n = |t: &str| match parse(&format!("x < {t}")).unwrap() {
            Cond::Cmp {
                rhs: Operand::Number { value, .. },
                ..
            } => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(n("250ms"), 0.25);
        assert_eq!(n("5s"), 5.0);
        assert_eq!(n("2m"), 120.0);
        assert_eq!(n("1h"), 3600.0);
        assert_eq!(n("1d"), 86_400.0);
        assert_eq!(n("2KiB"), 2048.0);
        assert_eq!(n("3GB"), 3e9);
        assert_eq!(n("1TiB"), 1024f64.powi(4));
        assert_eq!(n("80%"), 0.8);
        assert_eq!(n("42"), 42.0);
        assert_eq!(n("1_000"), 1000.0);
    }

    #[test]
    fn selectors_with_matchers_and_inputs() {
        let c = parse("pg_lag{instance='${REPLICA}', role!='primary'} < 5s").unwrap();
        let s = c.selectors();
        assert_eq!(s[0].metric, "pg_lag");
        assert_eq!(s[0].matchers.len(), 2);
        assert!(s[0].matchers[1].negated);
        assert_eq!(c.inputs(), vec!["REPLICA".to_string()]);
        assert_eq!(ev("lag{instance='${REPLICA}'} < 5s"), Some(true));
        assert_eq!(ev("lag{instance='pg-main-3'} < 5s"), Some(false));
    }

    #[test]
    fn every_matching_series_must_hold() {
        assert_eq!(ev("lag < 5"), Some(false));
        assert_eq!(ev("lag < 10"), Some(true));
    }

    #[test]
    fn missing_stale_and_nan_are_unknown() {
        assert_eq!(ev("nothing < 5"), None);
        assert_eq!(ev("old < 5"), None);
        assert_eq!(ev("nan < 5"), None);
        assert_eq!(ev("not nothing < 5"), None);
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(ev("nothing < 5 and lag < 1"), Some(false));
        assert_eq!(ev("nothing < 5 or lag < 10"), Some(true));
        assert_eq!(ev("nothing < 5 and lag < 10"), None);
        assert_eq!(
            ev("not (lag < 1) and (lag < 10 or nothing > 1)"),
            Some(true)
        );
    }

    #[test]
    fn strings_inputs_and_triggers() {
        assert_eq!(ev("${SCENARIO} == 'switchover'"), Some(true));
        assert_eq!(ev("${SCENARIO} != 'switchover'"), Some(false));
        assert_eq!(ev("${N} >= 3"), Some(true));
        assert_eq!(ev("${MISSING} == 'x'"), None);
        assert_eq!(ev("trigger:database/pool < 80%"), Some(true));
        assert_eq!(ev("trigger:database/cpu < 80%"), None);
        assert_eq!(ev("'a' < 'b'"), None);
        assert_eq!(ev("x{a='it\\'s'} < 1"), None);
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let c = parse("a < 1 or b < 1 and c < 1").unwrap();
        assert!(matches!(c, Cond::Or(_, _)));
        let c = parse("not a < 1 and b < 1").unwrap();
        assert!(matches!(c, Cond::And(_, _)));
    }

    #[test]
    fn errors_point_at_the_offending_offset() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(e("lag <").offset, 5);
        assert_eq!(e("lag < 5x").offset, 7);
        assert!(e("lag < 5x").message.contains("unknown unit `x`"));
        assert_eq!(e("lag = 5").message, "`=` is not a comparison: write `==`");
        assert_eq!(e("lag{a=\"b\"} < 1").offset, 6);
        assert_eq!(e("(lag < 1").offset, 8);
        assert_eq!(e("lag < 1 lag").offset, 8);
        assert_eq!(e("").message, "empty condition");
        assert!(e("lag{a=~'x'} < 1").message.contains("regular-expression"));
        assert_eq!(e("lag{a='x'").offset, 9);
        assert!(e("trigger:pool < 1").message.contains("DOMAIN/ID"));
        assert!(e("x == 'open").message.contains("unterminated"));
    }

    #[test]
    fn values_seen_are_reported() {
        let c = parse("lag{instance='${REPLICA}'} < 5s").unwrap();
        let mut seen = Vec::new();
        eval(&c, &env(), &mut seen);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].what, "lag{instance='pg-main-2'}");
        assert_eq!(seen[0].value, Some(2.0));
    }

    #[test]
    fn substitution_keeps_unknown_inputs() {
        let i = l(&[("A", "1")]);
        assert_eq!(substitute("x ${A} ${B} ${", &i), "x 1 ${B} ${");
        assert_eq!(
            input_names("${A}-${B}"),
            vec![("A".into(), 0), ("B".into(), 5)]
        );
    }
}
