//! Commands (`kind = "command"`): run a program (argv, no shell unless
//! `shell = true`) with a time limit, kill it when the limit passes, and read
//! a number, or JSON picked with `pointer`, from its standard output. For
//! bastion hosts: `psql -Atc 'select count(*) from pg_stat_activity'`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::config::{SourceConfig, SourceKind};
use crate::series::{Labels, Sample};

use super::http::{DEFAULT_MAX_RESPONSE, DEFAULT_TIMEOUT, excerpt};
use super::{Answer, BoxFuture, QuerySpec, SeriesData, Source, SourceError};

pub struct CommandSource {
    name: String,
    timeout: Duration,
    max_bytes: u64,
}

impl CommandSource {
    pub fn new(cfg: &SourceConfig) -> CommandSource {
        CommandSource {
            name: cfg.name.clone(),
            timeout: cfg.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
            max_bytes: cfg
                .max_response
                .map_or(DEFAULT_MAX_RESPONSE, |q| q.0.max(1.0) as u64),
        }
    }

    async fn run(&self, q: &QuerySpec, at_ms: i64) -> Result<Answer, SourceError> {
        let shown = q.command.join(" ");
        let mut cmd = if q.shell {
            let mut c = Command::new("sh");
            c.arg("-c").arg(&shown);
            c
        } else {
            let Some((prog, args)) = q.command.split_first() else {
                return Err(SourceError::Command("no command given".into()));
            };
            let mut c = Command::new(prog);
            c.args(args);
            c
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A timed-out or abandoned run never outlives its poll.
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| SourceError::Command(format!("cannot start `{shown}`: {e}")))?;
        let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(SourceError::Command(format!("`{shown}`: no output pipes")));
        };
        let limit = self.max_bytes;
        let work = async {
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            let mut out_cap = (&mut out).take(limit + 1);
            let mut err_cap = (&mut err).take(64 * 1024);
            let (o, e) = tokio::join!(
                out_cap.read_to_end(&mut stdout),
                err_cap.read_to_end(&mut stderr),
            );
            o.and(e)?;
            if stdout.len() as u64 > limit {
                // It would block on a full pipe: stop it now.
                let _ = child.start_kill();
            }
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((status, stdout, stderr))
        };
        let secs = self.timeout.as_secs_f64();
        let (status, stdout, stderr) = match tokio::time::timeout(self.timeout, work).await {
            Err(_) => {
                // Dropping `work` drops the child, which kills it.
                return Err(SourceError::Timeout(format!(
                    "{secs:.1}s: command `{shown}` did not finish and was killed"
                )));
            }
            Ok(Err(e)) => {
                return Err(SourceError::Command(format!("`{shown}`: {e}")));
            }
            Ok(Ok(r)) => r,
        };
        let bytes = (stdout.len() + stderr.len()) as u64;
        let stderr_note = || {
            let e = excerpt(&stderr, 300);
            if e.is_empty() {
                String::new()
            } else {
                format!("; stderr: {e}")
            }
        };
        if stdout.len() as u64 > limit {
            return Err(SourceError::Command(format!(
                "`{shown}` printed more than {limit} bytes"
            )));
        }
        if !status.success() {
            return Err(SourceError::Command(format!(
                "`{shown}` failed ({status}){}",
                stderr_note()
            )));
        }
        let v = parse_output(&stdout, q.pointer.as_deref())
            .map_err(|m| SourceError::Command(format!("`{shown}`: {m}{}", stderr_note())))?;
        Ok(Answer {
            series: vec![SeriesData {
                labels: Labels::new(),
                samples: vec![Sample::new(at_ms, v)],
            }],
            warnings: Vec::new(),
            bytes,
        })
    }
}

/// A number, or JSON with the number at `pointer`.
pub fn parse_output(stdout: &[u8], pointer: Option<&str>) -> Result<f64, String> {
    let text = String::from_utf8_lossy(stdout);
    let text = text.trim();
    if text.is_empty() {
        return Err("printed nothing".into());
    }
    if pointer.is_none()
        && let Ok(v) = text.parse::<f64>()
    {
        return Ok(v);
    }
    let shown = || excerpt(text.as_bytes(), 80);
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| format!("printed neither a number nor JSON: \"{}\"", shown()))?;
    let p = pointer.unwrap_or("");
    let picked = doc
        .pointer(p)
        .ok_or_else(|| format!("pointer `{p}` matches nothing in \"{}\"", shown()))?;
    super::json::number_of(picked).map_err(|m| format!("at `{p}`: {m}"))
}

impl Source for CommandSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Command
    }

    fn instant<'a>(
        &'a self,
        q: &'a QuerySpec,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<Answer, SourceError>> {
        Box::pin(self.run(q, at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_a_number_or_json() {
        assert_eq!(parse_output(b" 42\n", None), Ok(42.0));
        assert_eq!(
            parse_output(br#"{"a":{"b":[1,7]}}"#, Some("/a/b/1")),
            Ok(7.0)
        );
        assert!(parse_output(b"oops", None).unwrap_err().contains("oops"));
        assert!(parse_output(b"", None).unwrap_err().contains("nothing"));
        assert!(parse_output(b"{}", Some("/x")).unwrap_err().contains("/x"));
    }
}
