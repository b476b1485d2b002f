//! TLS through rustls: a private CA given by `ca_file`, and a client
//! certificate the server requires. The server is `openssl s_server`
//! serving a file over HTTPS on loopback; the certificates are made fresh.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workdir, trigger};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("these tests need the `openssl` command (Debian package `openssl`)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=capdeck test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (name, cn, ext) in [
        (
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "capdeck", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server -WWW` in `dir`, requiring a client certificate.
fn serve(dir: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
            "-CAfile",
            "ca.pem",
            "-Verify",
            "1",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let server = Server(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "openssl s_server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

fn config(port: u16, tls: &str) -> String {
    format!(
        r#"
[[source]]
name = "secure"
kind = "json"
url = "https://127.0.0.1:{port}"
timeout = "3s"
retries = 0
{tls}

[[domain]]
id = "d"
title = "D"
  [[domain.trigger]]
  id = "t"
  title = "T"
  query = "/value.json"
  pointer = "/v"
  capacity = 100
"#
    )
}

#[test]
fn a_private_ca_and_a_client_certificate_are_used() {
    let w = Workdir::new("");
    make_certs(w.path());
    std::fs::write(w.file("value.json"), r#"{"v": 61}"#).expect("value");
    let (_server, port) = serve(w.path());

    let both = "ca_file = \"ca.pem\"\nclient_cert = \"client.pem\"\nclient_key = \"client.key\"";
    std::fs::write(w.file("capdeck.toml"), config(port, both)).expect("config");
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(trigger(&run.json(), "d/t")["value"], 61.0);

    // Without a client certificate the server refuses the handshake.
    std::fs::write(w.file("capdeck.toml"), config(port, "ca_file = \"ca.pem\"")).expect("config");
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(
        run.code,
        Some(1),
        "the server requires a client certificate"
    );
    assert!(
        run.stderr
            .contains(&format!("https://127.0.0.1:{port}/value.json")),
        "{}",
        run.stderr
    );

    // Without the CA the server's certificate is refused, and says why.
    std::fs::write(w.file("capdeck.toml"), config(port, "")).expect("config");
    let run = w.report(&[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("UnknownIssuer"), "{}", run.stderr);
}

#[test]
fn an_unreadable_ca_file_is_named_before_any_request() {
    let w = Workdir::new(&config(1, "ca_file = \"missing-ca.pem\""));
    let run = w.report(&[]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("source `secure`: ca_file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("missing-ca.pem"), "{}", run.stderr);
}
