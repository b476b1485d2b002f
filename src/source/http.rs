//! The HTTP client shared by the Prometheus and JSON sources: secrets from
//! the environment or files, extra headers, rustls with an optional CA and
//! client certificate, the proxy from the environment (reqwest's default),
//! a time budget per call, retries with jittered exponential backoff that
//! honour `Retry-After`, and a size cap enforced while the body streams in.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use crate::config::SourceConfig;

use super::SourceError;

/// Largest answer accepted when the source sets no `max_response`.
pub const DEFAULT_MAX_RESPONSE: u64 = 32 * 1024 * 1024;
/// Retries of a failed request when the source sets no `retries`.
pub const DEFAULT_RETRIES: u32 = 2;
/// Time limit of one call when the source sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parameters longer than this go in a POST form body instead of the URL:
/// long PromQL passes proxies that limit URL length (the Prometheus API
/// takes both).
const LONG_PARAMS: usize = 4096;

const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where a secret comes from; it is read on every request so a rotated
/// token file is picked up without a restart.
#[derive(Debug, Clone)]
enum Secret {
    Env(String),
    File(PathBuf),
}

impl Secret {
    fn read(&self, what: &str) -> Result<String, SourceError> {
        match self {
            Secret::Env(var) => std::env::var(var).map_err(|_| {
                SourceError::Other(format!("{what}: environment variable {var} is not set"))
            }),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| SourceError::Other(format!("{what}: {}: {e}", path.display()))),
        }
    }
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Bearer(Secret),
    Basic {
        user: String,
        password: Option<Secret>,
    },
}

/// A finished exchange: the final status and the whole body.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    /// The URL asked, for messages.
    pub url: String,
    /// `GET` or `POST`.
    pub method: &'static str,
}

impl Fetched {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for an error message.
    pub fn body_excerpt(&self) -> String {
        excerpt(&self.body, 300)
    }
}

/// At most `max` characters of `bytes` as lossy text, on one line.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max * 4)]);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    let one_line = one_line.trim().to_string();
    if text.chars().count() > max {
        format!("{one_line}…")
    } else {
        one_line
    }
}

pub struct HttpClient {
    source: String,
    base: String,
    client: reqwest::Client,
    auth: Auth,
    headers: HeaderMap,
    pub timeout: Duration,
    retries: u32,
    max_bytes: u64,
}

fn resolve(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// What one attempt ended in.
enum Attempt {
    Done(Fetched),
    /// Worth another try, after at least this long (from `Retry-After`).
    Retry {
        error: SourceError,
        after: Option<Duration>,
        last: Option<Fetched>,
    },
    Fail(SourceError),
}

impl HttpClient {
    /// Builds the client of a source; relative file paths are taken from
    /// `base_dir` (the configuration file's folder).
    pub fn new(cfg: &SourceConfig, base_dir: &Path) -> Result<HttpClient, String> {
        let name = &cfg.name;
        let base = cfg
            .url
            .as_deref()
            .ok_or_else(|| format!("source `{name}` needs `url`"))?
            .trim_end_matches('/')
            .to_string();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("capdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(
                Duration::from_secs(5).min(cfg.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0)),
            )
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some(ca) = &cfg.ca_file {
            let path = resolve(base_dir, ca);
            let pem = std::fs::read(&path)
                .map_err(|e| format!("source `{name}`: ca_file {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "source `{name}`: ca_file {}: not PEM certificates: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "source `{name}`: ca_file {} holds no certificate",
                    path.display()
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        match (&cfg.client_cert, &cfg.client_key) {
            (Some(cert), Some(key)) => {
                let (cp, kp) = (resolve(base_dir, cert), resolve(base_dir, key));
                let mut pem = std::fs::read(&cp)
                    .map_err(|e| format!("source `{name}`: client_cert {}: {e}", cp.display()))?;
                pem.push(b'\n');
                pem.extend(
                    std::fs::read(&kp).map_err(|e| {
                        format!("source `{name}`: client_key {}: {e}", kp.display())
                    })?,
                );
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    format!("source `{name}`: client_cert/client_key: not a PEM certificate and key: {e}")
                })?;
                builder = builder.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "source `{name}`: give both `client_cert` and `client_key`"
                ));
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("source `{name}`: cannot build the HTTP client: {e}"))?;

        let mut headers = HeaderMap::new();
        for (k, v) in &cfg.headers {
            let hn = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("source `{name}`: `{k}` is not a valid header name"))?;
            let hv = HeaderValue::from_str(v)
                .map_err(|_| format!("source `{name}`: header `{k}` has an invalid value"))?;
            headers.insert(hn, hv);
        }
        let auth = if let Some(var) = &cfg.bearer_token_env {
            Auth::Bearer(Secret::Env(var.clone()))
        } else if let Some(f) = &cfg.bearer_token_file {
            Auth::Bearer(Secret::File(resolve(base_dir, f)))
        } else if let Some(user) = &cfg.basic_user {
            let password = match (&cfg.basic_password_env, &cfg.basic_password_file) {
                (Some(v), _) => Some(Secret::Env(v.clone())),
                (None, Some(f)) => Some(Secret::File(resolve(base_dir, f))),
                (None, None) => None,
            };
            Auth::Basic {
                user: user.clone(),
                password,
            }
        } else {
            Auth::None
        };
        Ok(HttpClient {
            source: name.clone(),
            base,
            client,
            auth,
            headers,
            timeout: cfg.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
            retries: cfg.retries.unwrap_or(DEFAULT_RETRIES),
            max_bytes: cfg
                .max_response
                .map_or(DEFAULT_MAX_RESPONSE, |q| q.0.max(1.0) as u64),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of `path` (which may carry its own query string).
    pub fn url_of(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.is_empty() {
            self.base.clone()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// GETs `path` with `params` within `budget` (POSTs them as a form when
    /// they are long), retrying what is worth retrying. Any final status is
    /// returned with its body; transport failures, timeouts and oversized
    /// bodies are errors.
    pub async fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
        budget: Duration,
    ) -> Result<Fetched, SourceError> {
        let url = self.url_of(path);
        let long: usize = params.iter().map(|(k, v)| k.len() + v.len()).sum();
        let method = if long > LONG_PARAMS { "POST" } else { "GET" };
        let deadline = Instant::now() + budget;
        let mut attempt = 0u32;
        loop {
            let outcome = self.attempt(method, &url, params, deadline, budget).await;
            let (error, after, last) = match outcome {
                Attempt::Done(f) => return Ok(f),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { error, after, last } => (error, after, last),
            };
            if attempt >= self.retries {
                return last.ok_or(error);
            }
            let wait = backoff(attempt).max(after.unwrap_or_default());
            if Instant::now() + wait >= deadline {
                // No time left to wait for another try: say what happened.
                return last.ok_or(error);
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: &'static str,
        url: &str,
        params: &[(&str, String)],
        deadline: Instant,
        budget: Duration,
    ) -> Attempt {
        let mut req = if method == "POST" {
            self.client.post(url).form(params)
        } else {
            self.client.get(url).query(params)
        }
        .headers(self.headers.clone());
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(s) => match s.read("bearer token") {
                Ok(t) => req = req.bearer_auth(t.trim()),
                Err(e) => return Attempt::Fail(e),
            },
            Auth::Basic { user, password } => {
                let pw = match password.as_ref().map(|p| p.read("basic-auth password")) {
                    Some(Ok(p)) => Some(p),
                    Some(Err(e)) => return Attempt::Fail(e),
                    None => None,
                };
                req = req.basic_auth(user, pw);
            }
        }
        let secs = budget.as_secs_f64();
        let sent = match tokio::time::timeout_at(deadline, req.send()).await {
            Err(_) => {
                return Attempt::Fail(SourceError::Timeout(format!(
                    "{secs:.1}s: {method} {url} sent no response headers"
                )));
            }
            Ok(Err(e)) => {
                let msg = format!("{method} {url}: {}", error_chain(&e));
                let error = if e.is_connect() {
                    SourceError::Connect(msg)
                } else if e.is_timeout() {
                    SourceError::Timeout(format!("{secs:.1}s: {msg}"))
                } else {
                    SourceError::Other(msg)
                };
                return Attempt::Retry {
                    error,
                    after: None,
                    last: None,
                };
            }
            Ok(Ok(r)) => r,
        };
        let status = sent.status().as_u16();
        let retry_after = sent
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if let Some(len) = sent.content_length()
            && len > self.max_bytes
        {
            return Attempt::Fail(SourceError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let body = match tokio::time::timeout_at(deadline, self.read_body(sent)).await {
            Err(_) => {
                return Attempt::Fail(SourceError::Timeout(format!(
                    "{secs:.1}s: {method} {url}: the body was still arriving"
                )));
            }
            Ok(Err(e)) => return Attempt::Fail(e.with_url(method, url)),
            Ok(Ok(b)) => b,
        };
        let fetched = Fetched {
            status,
            body,
            url: url.to_string(),
            method,
        };
        if matches!(status, 429 | 500 | 502 | 503 | 504) {
            let error = SourceError::Http {
                status,
                body: format!("{} ({method} {url})", fetched.body_excerpt()),
            };
            Attempt::Retry {
                error,
                after: retry_after,
                last: Some(fetched),
            }
        } else {
            Attempt::Done(fetched)
        }
    }

    /// Reads the body chunk by chunk, stopping as soon as it passes the cap
    /// (a missing or lying Content-Length cannot make us hold more).
    async fn read_body(&self, mut r: reqwest::Response) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::with_capacity(
            r.content_length()
                .unwrap_or(0)
                .min(self.max_bytes)
                .min(64 * 1024 * 1024) as usize,
        );
        loop {
            match r.chunk().await {
                Ok(Some(c)) => {
                    if (out.len() + c.len()) as u64 > self.max_bytes {
                        return Err(BodyError::TooLarge(self.max_bytes));
                    }
                    out.extend_from_slice(&c);
                }
                Ok(None) => return Ok(out),
                Err(e) => return Err(BodyError::Read(error_chain(&e), out.len())),
            }
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

enum BodyError {
    TooLarge(u64),
    Read(String, usize),
}

impl BodyError {
    fn with_url(self, method: &str, url: &str) -> SourceError {
        match self {
            BodyError::TooLarge(limit) => SourceError::TooLarge { limit },
            BodyError::Read(e, n) => SourceError::Other(format!(
                "{method} {url}: body broke off after {n} bytes: {e}"
            )),
        }
    }
}

/// An error with its causes, which carry the useful part (`Connection refused`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let top = e.to_string();
    // reqwest's top line repeats the URL with its query string; the URL is
    // already in our message, the causes say what went wrong.
    let (mut out, mut cur) = match e.source() {
        Some(c) if top.starts_with("error sending request") => (c.to_string(), c.source()),
        _ => (top, e.source()),
    };
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// Full-jitter exponential backoff: uniform in [0, min(max, base × 2^n)],
/// never below a tenth of it so retries do not all fire at once.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX);
    ceiling.mul_f64(0.1 + 0.9 * jitter_unit())
}

/// A uniform draw in [0, 1): clock nanoseconds and a counter, mixed
/// (splitmix64). Jitter needs spread between processes, not secrecy.
fn jitter_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = when.timestamp_millis() - crate::time::now_ms();
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 0..20 {
            let b = backoff(n);
            let ceiling = BACKOFF_BASE.saturating_mul(1 << n.min(16)).min(BACKOFF_MAX);
            assert!(b <= ceiling && b >= ceiling.mul_f64(0.1), "{n}: {b:?}");
        }
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(excerpt(b"a\nb", 10), "a b");
        assert_eq!(excerpt(&[b'x'; 20], 5), "xxxxx…");
    }
}
