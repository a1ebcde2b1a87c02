//! The hyper 1 accept loop with graceful drain.
//!
//! Shutdown sequence: the token is cancelled (SIGTERM/SIGINT) → /readyz answers 503 at once → the
//! listener keeps accepting for `shutdown_delay` (0 by default; raise it so a load balancer sees
//! the 503 before connections are refused) → the listener closes → in-flight requests finish,
//! idle keep-alive connections close → after `drain_timeout` anything left is cut.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::stack::HttpService;
use crate::admission::client_ip::PeerAddr;

/// Slow-loris guard: a client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    pub listener: TcpListener,
    pub service: HttpService,
    pub shutdown: CancellationToken,
    pub shutdown_delay: Duration,
    pub drain_timeout: Duration,
}

impl Server {
    /// Serves until shutdown and drain complete. Returns `false` if the drain timed out.
    pub async fn run(self) -> bool {
        let graceful = GracefulShutdown::new();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);

        let accept = |stream: tokio::net::TcpStream, peer: std::net::SocketAddr| {
            let svc = self.service.clone();
            // Adapter instead of hyper-util's TowerToHyperService: it converts the stack's (never
            // produced) BoxError into a response, which avoids a higher-ranked `From` bound.
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                // Rate limits key on the client address; the peer is where that starts.
                req.extensions_mut().insert(PeerAddr(peer));
                let svc = svc.clone();
                async move {
                    let resp = svc.oneshot(req).await;
                    Ok::<_, std::convert::Infallible>(
                        super::errors::from_middleware(resp)
                            .unwrap_or_else(|_| super::errors::Error::Internal.into_response()),
                    )
                }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with error");
                }
            });
        };

        // Armed only once shutdown starts; until then it is a far-future placeholder.
        let delay = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
        tokio::pin!(delay);
        let mut draining = false;
        loop {
            tokio::select! {
                res = self.listener.accept() => match res {
                    Ok((stream, peer)) => accept(stream, peer),
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                () = self.shutdown.cancelled(), if !draining => {
                    tracing::info!(delay_ms = self.shutdown_delay.as_millis(), "shutdown requested; readiness is now 503");
                    draining = true;
                    delay.as_mut().reset(tokio::time::Instant::now() + self.shutdown_delay);
                }
                () = &mut delay, if draining => break,
            }
        }
        drop(self.listener);
        tracing::info!("listener closed; draining in-flight requests");
        if tokio::time::timeout(self.drain_timeout, graceful.shutdown())
            .await
            .is_ok()
        {
            tracing::info!("drained");
            true
        } else {
            tracing::warn!(
                timeout_ms = self.drain_timeout.as_millis(),
                "drain timed out; closing remaining connections"
            );
            false
        }
    }
}
