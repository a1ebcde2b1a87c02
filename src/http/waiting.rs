//! The waiting room at the HTTP edge: the ticket a client presents (a header for API clients,
//! a cookie for browsers) and what a flow's outcome means for its place in line.

use http::HeaderMap;

use crate::hashing::pool::Lane;
use crate::http::state::AppState;
use crate::reset::service;
use crate::waiting::room::{Arrival, Turn};

/// The request and response header that carries a ticket.
pub const TICKET_HEADER: &str = "resetgate-ticket";
/// The cookie that carries a browser's ticket (one per lane: a sign-in and a reset wait apart).
#[must_use]
pub fn ticket_cookie(lane: Lane) -> String {
    format!("rg_ticket_{}", lane.as_str())
}

/// The ticket the request presents for `lane`: the header, else the lane's cookie.
#[must_use]
pub fn presented(headers: &HeaderMap, lane: Lane) -> Option<String> {
    if let Some(v) = headers.get(TICKET_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    crate::http::pages::session_cookie::value(headers, &ticket_cookie(lane)).map(str::to_owned)
}

/// How long a browser keeps the ticket of `turn` (and what the page remembers with it): the
/// announced wait and its grace, as long as the ticket is valid (see `WaitingRoom`).
#[must_use]
pub fn cookie_max_age(turn: &Turn) -> u64 {
    let secs = turn.retry_after.as_secs().max(1);
    secs + secs.max(60)
}

/// The request's arrival in `lane` for `subject` (what its ticket is bound to), from the
/// ticket it presented ([`presented`], read before the body consumes the request).
#[must_use]
pub fn arrive(state: &AppState, ticket: Option<&str>, lane: Lane, subject: &[u8]) -> Arrival {
    state.waiting.arrive(lane, subject, ticket)
}

/// A flow's result, as far as the line is concerned: shed means a place in line (the client's
/// turn and ticket); anything else means the client had its turn.
///
/// # Errors
/// The [`Turn`] when the pool shed the request.
pub fn settle<T>(
    state: &AppState,
    arrival: &Arrival,
    subject: &[u8],
    result: Result<T, service::Error>,
) -> Result<Result<T, service::Error>, Turn> {
    match result {
        Err(service::Error::Overloaded { .. }) => Err(state.waiting.turned_away(arrival, subject)),
        other => {
            state.waiting.admitted(arrival);
            Ok(other)
        }
    }
}
