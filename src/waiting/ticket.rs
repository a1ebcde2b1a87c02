//! Waiting-room tickets: what a shed answer hands a client so that its next try keeps its place.
//!
//! A ticket is 54 bytes, sent as 72 characters of URL-safe base64:
//! `version (1) | key id (4) | lane (1) | arrival ms (8) | expiry ms (8) | binding (16) | mac (16)`.
//! - **Signed:** HMAC-SHA256 (truncated to 128 bits) under a key derived from the pepper with
//!   HKDF, named by its key id so a rotated key's tickets are recognised as such; tickets are
//!   short-lived, so a retired key only needs to be honoured for one ticket lifetime.
//! - **Bound to the request:** the binding is a keyed digest of what the request is about (the
//!   email for a login, the reset token's digest for a confirm), so a ticket cannot be traded or
//!   reused for another account; the client learns nothing from it that it did not send.
//! - **Never an error:** anything that does not verify (forged, expired, for another account or
//!   lane, from a key we do not hold) reads as "no ticket", a new arrival.
//!
//! Written by hand over `hmac` rather than as a JWT: the format is fixed, tiny, has one
//! algorithm, and a JWT library's header parsing and algorithm choice would be attack surface
//! for nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::hashing::pool::Lane;
use crate::mail::seal::derive_key;
use crate::secret::SecretString;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const BINDING_LEN: usize = 16;
const MAC_LEN: usize = 16;
const BODY_LEN: usize = 1 + KEY_ID_LEN + 1 + 8 + 8 + BINDING_LEN;
pub const TICKET_LEN: usize = BODY_LEN + MAC_LEN;
/// The encoded length: 54 bytes in unpadded base64.
pub const ENCODED_LEN: usize = 72;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
struct TicketKey {
    id: [u8; KEY_ID_LEN],
    key: [u8; 32],
}

impl TicketKey {
    fn derive(secret: &SecretString) -> Self {
        let (key, id) = derive_key(secret, b"waiting-ticket-v1", b"resetgate-ticket-key-id-v1");
        Self { id: id.0, key }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    fn binding(&self, lane: Lane, subject: &[u8]) -> [u8; BINDING_LEN] {
        let mut mac = self.mac();
        mac.update(b"binding");
        mac.update(&[lane as u8]);
        mac.update(subject);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; BINDING_LEN];
        out.copy_from_slice(&full[..BINDING_LEN]);
        out
    }
}

/// What a valid ticket says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub lane: Lane,
    /// When the client first arrived, in ms since the Unix epoch (wall clock: tickets travel
    /// between replicas).
    pub arrival_ms: u64,
    pub expires_ms: u64,
}

/// Issues and checks tickets with the current key; also checks those of retired keys.
#[derive(Clone)]
pub struct TicketKeys {
    current: TicketKey,
    retired: Vec<TicketKey>,
}

impl std::fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKeys([redacted])")
    }
}

impl TicketKeys {
    #[must_use]
    pub fn new(secret: &SecretString) -> Self {
        Self::with_retired(secret, &[])
    }

    #[must_use]
    pub fn with_retired(secret: &SecretString, retired: &[SecretString]) -> Self {
        Self {
            current: TicketKey::derive(secret),
            retired: retired.iter().map(TicketKey::derive).collect(),
        }
    }

    /// A ticket for `subject` in `lane`, signed with the current key.
    #[must_use]
    pub fn issue(&self, ticket: Ticket, subject: &[u8]) -> String {
        let k = &self.current;
        let mut bytes = Vec::with_capacity(TICKET_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&k.id);
        bytes.push(ticket.lane as u8);
        bytes.extend_from_slice(&ticket.arrival_ms.to_be_bytes());
        bytes.extend_from_slice(&ticket.expires_ms.to_be_bytes());
        bytes.extend_from_slice(&k.binding(ticket.lane, subject));
        let mut mac = k.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The ticket `presented` for `subject` in `lane`, if it is ours, intact, for this very
    /// request and not expired at `now_ms`. Anything else is `None`.
    #[must_use]
    pub fn check(&self, presented: &str, lane: Lane, subject: &[u8], now_ms: u64) -> Option<Ticket> {
        if presented.len() != ENCODED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(presented).ok()?;
        if bytes.len() != TICKET_LEN || bytes[0] != VERSION {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let id = &body[1..=KEY_ID_LEN];
        let key = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id == id)?;
        let mut mac = key.mac();
        mac.update(body);
        // Constant time: the comparison says nothing about how much of a forged tag was right.
        mac.verify_truncated_left(tag).ok()?;
        let at = 1 + KEY_ID_LEN;
        if body[at] != lane as u8 {
            return None;
        }
        let arrival_ms = u64::from_be_bytes(body[at + 1..at + 9].try_into().ok()?);
        let expires_ms = u64::from_be_bytes(body[at + 9..at + 17].try_into().ok()?);
        let binding = &body[at + 17..];
        // Not secret-dependent timing: the binding is recomputed from what the client sent.
        if binding != key.binding(lane, subject) || expires_ms <= now_ms || arrival_ms > now_ms {
            return None;
        }
        Some(Ticket {
            lane,
            arrival_ms,
            expires_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TicketKeys {
        TicketKeys::new(&SecretString::new(
            "a pepper that is long enough for tests".into(),
        ))
    }

    const T: Ticket = Ticket {
        lane: Lane::Login,
        arrival_ms: 1_000_000,
        expires_ms: 2_000_000,
    };

    #[test]
    fn a_ticket_verifies_for_its_own_request_only() {
        let k = keys();
        let s = k.issue(T, b"ann@example.com");
        assert_eq!(s.len(), ENCODED_LEN);
        assert_eq!(k.check(&s, Lane::Login, b"ann@example.com", 1_500_000), Some(T));
        assert_eq!(
            k.check(&s, Lane::Login, b"bob@example.com", 1_500_000),
            None,
            "another account"
        );
        assert_eq!(
            k.check(&s, Lane::Confirm, b"ann@example.com", 1_500_000),
            None,
            "another lane"
        );
        assert_eq!(
            k.check(&s, Lane::Login, b"ann@example.com", 2_000_000),
            None,
            "expired"
        );
        assert_eq!(
            k.check(&s, Lane::Login, b"ann@example.com", 999_999),
            None,
            "from the future"
        );
    }

    #[test]
    fn forged_and_foreign_tickets_are_no_tickets() {
        let k = keys();
        let s = k.issue(T, b"ann@example.com");
        // Every single-character change is refused.
        for i in 0..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(b).unwrap();
            assert_eq!(
                k.check(&forged, Lane::Login, b"ann@example.com", 1_500_000),
                None,
                "{i}"
            );
        }
        for junk in ["", "x", &"A".repeat(ENCODED_LEN), &"é".repeat(36)] {
            assert_eq!(k.check(junk, Lane::Login, b"ann@example.com", 1_500_000), None);
        }
        let other = TicketKeys::new(&SecretString::new(
            "another deployment's pepper, also long".into(),
        ));
        assert_eq!(other.check(&s, Lane::Login, b"ann@example.com", 1_500_000), None);
    }

    #[test]
    fn a_retired_key_is_still_honoured_and_new_tickets_use_the_current_one() {
        let old = SecretString::new("the pepper before the rotation, long".into());
        let new = SecretString::new("the pepper after the rotation, also long".into());
        let before = TicketKeys::new(&old).issue(T, b"ann@example.com");
        let rotated = TicketKeys::with_retired(&new, &[old]);
        assert_eq!(
            rotated.check(&before, Lane::Login, b"ann@example.com", 1_500_000),
            Some(T)
        );
        let after = rotated.issue(T, b"ann@example.com");
        assert_eq!(
            TicketKeys::new(&new).check(&after, Lane::Login, b"ann@example.com", 1_500_000),
            Some(T)
        );
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", keys()), "TicketKeys([redacted])");
    }
}
