//! Who an account is, as the domain names it. It lives below storage because campaign scopes (a
//! list of account ids an operator typed) are domain values that exist before any store sees them.

/// The store's primary key for an account: assigned by the store, never chosen by a client.
pub type AccountId = i64;
