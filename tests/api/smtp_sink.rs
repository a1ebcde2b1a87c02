//! A real SMTP server for tests: `tests/support/smtp_sink.py` (aiosmtpd) in a child process, and
//! the messages it received, parsed. The interpreter is the venv `scripts/test` makes, never the
//! system python3. Never skipped: without that venv a test panics and says to run `scripts/test`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mailparse::{MailHeaderMap as _, ParsedMail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
const INSTALL: &str =
    "run ./scripts/test: it makes target/test-venv (aiosmtpd, tests/requirements.txt) and runs the tests";
/// Set by `scripts/test` to its venv's interpreter; not `RESETGATE_*`, which is for settings.
const PYTHON_VAR: &str = "SMTP_SINK_PYTHON";
const VENV_PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate and key for `localhost`, made fresh per test; the certificate doubles as the CA
/// the gateway trusts (`RESETGATE_SMTP_CA_FILE`).
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCert {
    pub fn localhost() -> Self {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("generate a certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");
        Self {
            cert: cert_path,
            key: key_path,
            _dir: dir,
        }
    }
}

#[derive(Default)]
pub struct SinkOptions<'a> {
    /// Require AUTH (PLAIN or LOGIN) with this username and password.
    pub auth: Option<(&'a str, &'a str)>,
    /// Offer STARTTLS with this certificate and require it.
    pub starttls: Option<&'a TestCert>,
    /// Implicit TLS (smtps) with this certificate.
    pub tls: Option<&'a TestCert>,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope sender (MAIL FROM).
    pub from: String,
    /// Envelope recipients (RCPT TO).
    pub to: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub message_id: Option<String>,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// The login the client authenticated as, if it did.
    pub auth_login: Option<String>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// When the sink accepted it (its own clock): what pacing tests measure rates with.
    pub accepted_at: chrono::DateTime<chrono::Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The reset token from the link in the text part.
    pub fn token(&self) -> String {
        let text = self.text.as_deref().expect("mail has a text part");
        let at = text.find("?token=").expect("mail has a reset link") + "?token=".len();
        text[at..at + 43].to_owned()
    }
}

/// The sink's interpreter: `$SMTP_SINK_PYTHON`, else the venv `scripts/test` left under target/ (so
/// a bare `cargo test` works after one `scripts/test`). Never the system python3: it may lack
/// aiosmtpd, or have another version of it, and Debian's refuses `pip install` (PEP 668).
fn sink_python() -> PathBuf {
    if let Some(python) = std::env::var_os(PYTHON_VAR) {
        return python.into();
    }
    let venv = PathBuf::from(VENV_PYTHON);
    assert!(
        venv.exists(),
        "{PYTHON_VAR} is unset and {VENV_PYTHON} is missing; {INSTALL}"
    );
    venv
}

fn part_body(mail: &ParsedMail<'_>, mimetype: &str) -> Option<String> {
    if mail.ctype.mimetype == mimetype {
        return Some(mail.get_body().expect("decodable body"));
    }
    mail.subparts.iter().find_map(|p| part_body(p, mimetype))
}

#[derive(serde::Deserialize)]
struct Line {
    mail_from: String,
    rcpt_tos: Vec<String>,
    data: String,
    auth_login: Option<String>,
    tls: bool,
    received_at: chrono::DateTime<chrono::Utc>,
}

impl Line {
    fn parse(self) -> Received {
        let mail =
            mailparse::parse_mail(self.data.as_bytes()).expect("the sink received a parseable message");
        let headers = mail
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect();
        Received {
            from: self.mail_from,
            to: self.rcpt_tos,
            subject: mail.headers.get_first_value("Subject").unwrap_or_default(),
            message_id: mail.headers.get_first_value("Message-ID"),
            content_type: mail.ctype.mimetype.clone(),
            text: part_body(&mail, "text/plain"),
            html: part_body(&mail, "text/html"),
            headers,
            auth_login: self.auth_login,
            tls: self.tls,
            accepted_at: self.received_at,
        }
    }
}

pub struct SmtpSink {
    pub port: u16,
    child: Option<Child>,
    out: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start(opts: &SinkOptions<'_>) -> Self {
        Self::start_on_port(0, opts).await
    }

    /// Starts a sink on `port` (0 picks one): e.g. to bring a relay back where the gateway
    /// expects it.
    pub async fn start_on_port(port: u16, opts: &SinkOptions<'_>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("messages.jsonl");
        let stderr = dir.path().join("stderr.log");
        let python = sink_python();
        let mut cmd = Command::new(&python);
        cmd.arg(SCRIPT)
            .args(["--port", &port.to_string()])
            .arg("--out")
            .arg(&out);
        if let Some((user, password)) = opts.auth {
            cmd.args(["--auth-user", user, "--auth-password", password]);
        }
        if let Some(c) = opts.starttls {
            cmd.arg("--starttls-cert")
                .arg(&c.cert)
                .arg("--starttls-key")
                .arg(&c.key);
        }
        if let Some(c) = opts.tls {
            cmd.arg("--tls-cert").arg(&c.cert).arg("--tls-key").arg(&c.key);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} ({e}); {INSTALL}", python.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.strip_prefix("smtp_sink ready port=") {
                    return p.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await;
        let Ok(Some(port)) = ready else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let err = std::fs::read_to_string(&stderr).unwrap_or_default();
            assert!(
                !(err.contains("aiosmtpd") && err.contains("import")),
                "the SMTP sink cannot start: {INSTALL}\n{err}"
            );
            panic!("the SMTP sink exited or printed no ready line within {READY_TIMEOUT:?} (port {port}); {INSTALL}\nstderr:\n{err}");
        };
        Self {
            port,
            child: Some(child),
            out,
            stderr,
            _dir: dir,
        }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        read_messages(&self.out)
    }

    /// How many messages arrived so far, without parsing them: cheap enough to poll while
    /// thousands arrive.
    pub fn count(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .map_or(0, |raw| raw.lines().filter(|l| !l.trim().is_empty()).count())
    }

    /// Waits until at least `n` messages arrived; panics with what did arrive after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() <= timeout,
                "expected {n} message(s) at the SMTP sink within {timeout:?}, got {}: {:?}\nsink stderr:\n{}",
                got.len(),
                got.iter().map(|m| (&m.to, &m.subject)).collect::<Vec<_>>(),
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server and waits for the process to exit, so its port is free again.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

fn read_messages(path: &Path) -> Vec<Received> {
    let Ok(raw) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Line>(l)
                .expect("the sink writes one JSON object per line")
                .parse()
        })
        .collect()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // kill_on_drop would too; doing it here makes the intent plain.
            let _ = child.start_kill();
        }
    }
}
