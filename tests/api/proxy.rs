//! A TCP proxy in front of PostgreSQL that a test can cut and restore, to simulate an outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Cancelled on `cut`: kills every open connection.
    conns: Arc<Mutex<CancellationToken>>,
}

impl Proxy {
    pub async fn start(target_url: &str) -> Self {
        let target = url::Url::parse(target_url).expect("url");
        let target = format!(
            "{}:{}",
            target.host_str().unwrap_or("127.0.0.1"),
            target.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(CancellationToken::new()));
        let (up2, conns2) = (Arc::clone(&up), Arc::clone(&conns));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let cancel = conns2.lock().clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cancel.cancelled() => {}
                    }
                });
            }
        });
        Self { port, up, conns }
    }

    pub fn url_for(&self, db_url: &str) -> String {
        let mut u = url::Url::parse(db_url).expect("url");
        u.set_host(Some("127.0.0.1")).expect("host");
        u.set_port(Some(self.port)).expect("port");
        u.to_string()
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let mut guard = self.conns.lock();
        guard.cancel();
        *guard = CancellationToken::new();
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
