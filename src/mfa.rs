//! The second factor (issue #14): TOTP secrets and codes (`totp`) and single-use recovery codes
//! (`recovery`). Pure values and checks, below storage: remembering the last accepted step,
//! counting wrong codes and sealing secrets at rest are the callers' part, so that they hold
//! across replicas (docs/security-and-policy.md, "Second factor").

pub mod assurance;
pub mod recovery;
pub mod totp;
