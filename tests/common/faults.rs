//! A misbehaving HTTP server on 127.0.0.1:0, written by hand so it can do
//! what no well-behaved server does: stall, trickle, lie, flood.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How to answer request number `n` (from 0) with path `path`.
pub type Responder = Arc<dyn Fn(usize, &str, &mut TcpStream) + Send + Sync>;

pub struct FaultServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl FaultServer {
    pub fn start(respond: Responder) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let respond = respond.clone();
                std::thread::spawn(move || {
                    let Some(path) = read_head(&conn) else { return };
                    respond(n, &path, &mut conn);
                });
            }
        });
        FaultServer { url, hits }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads a request head; the path of its request line.
fn read_head(conn: &TcpStream) -> Option<String> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
    }
    first.split_whitespace().nth(1).map(str::to_string)
}

/// A complete response with `Connection: close`.
pub fn respond(conn: &mut TcpStream, status: &str, extra_headers: &str, body: &[u8]) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    );
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

/// A port nothing listens on.
pub fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

/// Reads the request, then holds the connection open without a word.
pub fn stall() -> Responder {
    Arc::new(|_, _, _conn| std::thread::sleep(Duration::from_secs(60)))
}

/// Headers at once, then one byte of the body every 300 ms.
pub fn trickle() -> Responder {
    Arc::new(|_, _, conn| {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        for b in body {
            if conn.write_all(&[*b]).is_err() {
                return;
            }
            let _ = conn.flush();
            std::thread::sleep(Duration::from_millis(300));
        }
    })
}

/// The same status and body to every request.
pub fn fixed(status: &'static str, headers: &'static str, body: &'static str) -> Responder {
    Arc::new(move |_, _, conn| respond(conn, status, headers, body.as_bytes()))
}

/// `mb` MiB of JSON-looking bytes, chunked, with no Content-Length.
pub fn flood(mb: usize) -> Responder {
    Arc::new(move |_, _, conn| {
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let chunk = vec![b' '; 1024 * 1024];
        for _ in 0..mb {
            if write!(conn, "{:x}\r\n", chunk.len()).is_err()
                || conn.write_all(&chunk).is_err()
                || conn.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
        let _ = conn.write_all(b"0\r\n\r\n");
    })
}

/// Fails the first `failures` requests with `status`, then answers `body`.
pub fn fail_then(failures: usize, status: &'static str, body: String) -> Responder {
    Arc::new(move |n, _, conn| {
        if n < failures {
            respond(conn, status, "Retry-After: 0\r\n", b"try later");
        } else {
            respond(conn, "200 OK", "", body.as_bytes());
        }
    })
}
