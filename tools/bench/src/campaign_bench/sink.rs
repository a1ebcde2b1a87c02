//! A minimal SMTP receiver for the campaign bench: enough of RFC 5321 for lettre (EHLO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT), recording when each message arrived and its Message-ID. It
//! exists because the bench pushes a million messages through, which the tests' Python sink
//! (aiosmtpd) cannot take on a 2-core box without becoming the bottleneck being measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Default)]
pub struct Received {
    /// Milliseconds since the sink started, per message, in arrival order.
    pub at_ms: Vec<u32>,
    /// Message-ID -> times received.
    pub ids: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct Sink {
    pub port: u16,
    pub started: Instant,
    pub received: Arc<Mutex<Received>>,
}

impl Sink {
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let sink = Self {
            port: listener.local_addr()?.port(),
            started: Instant::now(),
            received: Arc::new(Mutex::new(Received::default())),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        Ok(sink)
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 bench-sink ESMTP\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => write.write_all(b"250-bench-sink\r\n250 8BITMIME\r\n").await?,
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    let mut id = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" || line == ".\n" {
                            break;
                        }
                        // `get`, not slicing: a header with a multi-byte character must not panic.
                        let is_id = line
                            .get(..11)
                            .is_some_and(|n| n.eq_ignore_ascii_case("message-id:"));
                        if id.is_empty() && is_id {
                            line.get(11..).unwrap_or("").trim().clone_into(&mut id);
                        }
                    }
                    {
                        let mut r = self.received.lock();
                        let ms = u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX);
                        r.at_ms.push(ms);
                        *r.ids.entry(id).or_insert(0) += 1;
                    }
                    write.write_all(b"250 OK queued\r\n").await?;
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"250 OK\r\n").await?,
            }
        }
    }
}
