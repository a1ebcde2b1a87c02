//! The virtual users: when each arrives (a spike after the breach email, then decay), and how
//! each behaves when refused, by strategy. Every user wants one thing: one login verified (one
//! argon2 computation), and gives up after too many refusals or too long a wait.

use std::time::{Duration, Instant};

use rand::RngExt as _;

/// How a refused user comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// As told: after `Retry-After`, with the ticket of the last answer.
    Ticket,
    /// Today's naive client: every second, no ticket.
    EverySecond,
    /// Exponential backoff with full jitter (AWS), 1 s base, 60 s cap, no ticket.
    Backoff,
}

impl Strategy {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::EverySecond => "every-second",
            Self::Backoff => "backoff",
        }
    }
}

/// When a user gives up.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub refusals: u32,
    pub wait: Duration,
}

/// Arrival offsets of `n` users over `5 × decay`: the quantiles of an exponential decay (most
/// come in the first minutes after the email), the same for every strategy.
#[must_use]
pub fn arrivals(n: usize, decay: Duration) -> Vec<Duration> {
    let tail = 1.0 - (-5.0_f64).exp();
    (0..n)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let u = (i as f64 + 0.5) / n as f64;
            decay.mul_f64(-(1.0 - u * tail).ln())
        })
        .collect()
}

/// What happened to one user.
#[derive(Debug, Clone, Copy)]
pub struct Fate {
    pub arrival: Duration,
    /// From the run's start, when served; `None`: gave up.
    pub done: Option<Duration>,
    pub requests: u32,
    /// Refusals and failures alike: what the user experienced as "not yet".
    pub refusals: u32,
    /// Of the refusals, answers that were not a shed (no connection, a timeout, another status).
    pub errors: u32,
}

/// One user's life: arrive, try, be refused and come back per `strategy`, until served or out of
/// patience.
pub async fn live(
    http: reqwest::Client,
    urls: std::sync::Arc<[String]>,
    id: usize,
    start: Instant,
    arrival: Duration,
    strategy: Strategy,
    patience: Patience,
) -> Fate {
    tokio::time::sleep_until((start + arrival).into()).await;
    let body = serde_json::json!({
        // An address without an account: the gateway verifies against its dummy hash, one
        // argon2 computation like any login, and answers 401. No account needs seeding.
        "email": format!("user{id}@example.com"),
        "password": "the password of a virtual user",
    });
    let mut fate = Fate {
        arrival,
        done: None,
        requests: 0,
        refusals: 0,
        errors: 0,
    };
    let mut ticket: Option<String> = None;
    loop {
        // Round robin over the replicas, request by request, as a load balancer would.
        let url = &urls[(id + fate.requests as usize) % urls.len()];
        let mut req = http.post(url).json(&body);
        if let Some(t) = &ticket {
            req = req.header("resetgate-ticket", t);
        }
        fate.requests += 1;
        let answer = req.send().await;
        let retry_after = match answer {
            Ok(resp) if matches!(resp.status().as_u16(), 200 | 401) => {
                fate.done = Some(start.elapsed());
                return fate;
            }
            Ok(resp) => {
                if resp.status().as_u16() != 503 {
                    fate.errors += 1;
                }
                if strategy == Strategy::Ticket {
                    ticket = resp
                        .headers()
                        .get("resetgate-ticket")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                        .or(ticket);
                }
                resp.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1)
            }
            Err(_) => {
                fate.errors += 1;
                1
            }
        };
        fate.refusals += 1;
        if fate.refusals >= patience.refusals || start.elapsed().saturating_sub(arrival) >= patience.wait {
            return fate;
        }
        let pause = match strategy {
            Strategy::Ticket => Duration::from_secs(retry_after),
            Strategy::EverySecond => Duration::from_secs(1),
            Strategy::Backoff => {
                let cap = 60.0_f64.min(2.0_f64.powi(i32::try_from(fate.refusals - 1).unwrap_or(30)));
                Duration::from_secs_f64(rand::rng().random_range(0.0..cap))
            }
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_spike_then_decay() {
        let a = arrivals(1000, Duration::from_secs(60));
        assert_eq!(a.len(), 1000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "in order");
        let first_minute = a.iter().filter(|t| t.as_secs() < 60).count();
        assert!((620..650).contains(&first_minute), "{first_minute}");
        assert!(a[999] < Duration::from_secs(300));
    }
}
