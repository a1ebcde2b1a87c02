//! The waiting room (issue #15): when the hash pool sheds, the answer says when this client's
//! turn should come, and a signed ticket keeps its place across retries.
//!
//! - `ticket`: the signed, short-lived, request-bound ticket that carries a client's arrival.
//! - `line`: per lane, who is waiting (by arrival second) and how fast the lane is served, and
//!   from those the Retry-After a shed answer gives.
//! - `room`: the two together, as the HTTP layer uses them.
//!
//! The pool orders each lane by arrival (`hashing::pool`), so a returning ticket holder goes
//! ahead of newer arrivals, and when the lane is full it displaces the newest queued job.

pub mod line;
pub mod room;
pub mod ticket;
