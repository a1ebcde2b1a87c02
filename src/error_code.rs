//! The stable, machine-readable codes of error responses: the `code` member of every problem
//! document the API sends, and the `code` label of `resetgate_http_errors_total`.
//!
//! Low in the layer order and depending on nothing in the crate, so that both `http` (which turns
//! errors into responses) and `metrics` (which pre-registers the codes dashboards divide by) can
//! name codes without one importing the other. A code is a promise to clients: renaming one is a
//! breaking change of the API (docs/openapi.json lists them all, docs/api.md explains each).

/// Declares the codes once: the enum, its wire spelling and the list of all of them.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $wire:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The code as clients and metric labels see it.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }
        }
    };
}

error_codes! {
    /// The body is not valid JSON.
    MalformedJson = "malformed_json",
    /// Valid JSON, but a field is missing or has the wrong type.
    InvalidRequest = "invalid_request",
    /// The body could not be read.
    BodyReadFailed = "body_read_failed",
    /// Not an email address.
    InvalidEmail = "invalid_email",
    /// A reset token that is malformed, unknown, used, replaced or expired.
    TokenInvalidOrExpired = "token_invalid_or_expired",
    /// A campaign scope the admin API does not accept.
    InvalidScope = "invalid_scope",
    /// A campaign reason that is empty or too long.
    InvalidReason = "invalid_reason",
    /// Wrong email/password pair.
    InvalidCredentials = "invalid_credentials",
    /// Missing, malformed, expired or signed-out session.
    SessionInvalid = "session_invalid",
    /// The admin API without a valid admin token.
    Unauthorized = "unauthorized",
    /// A live session of an account a campaign requires to turn on two-step verification; it
    /// serves enrolment only until a factor is confirmed.
    TwoStepSetupRequired = "two_step_setup_required",
    /// No such endpoint.
    NotFound = "not_found",
    /// No campaign with that id.
    CampaignNotFound = "campaign_not_found",
    /// Admin: no account with that id.
    AccountNotFound = "account_not_found",
    /// Known path, wrong method.
    MethodNotAllowed = "method_not_allowed",
    /// A campaign action that does not apply in the campaign's state.
    InvalidTransition = "invalid_transition",
    /// The body is larger than the limit.
    PayloadTooLarge = "payload_too_large",
    /// The body is not declared as JSON.
    UnsupportedMediaType = "unsupported_media_type",
    /// Shorter than the password policy's minimum.
    PasswordTooShort = "password_too_short",
    /// Longer than the password policy's maximum.
    PasswordTooLong = "password_too_long",
    /// In the common-passwords list.
    PasswordBlocklisted = "password_blocklisted",
    /// Equal to the account's email address or its local part.
    PasswordMatchesEmail = "password_matches_email",
    /// Right password, but the account has a second factor: send a code with the challenge.
    MfaRequired = "mfa_required",
    /// A second-factor code or recovery code that is wrong or was already used.
    MfaCodeInvalid = "mfa_code_invalid",
    /// A sign-in challenge that is unknown, used or expired.
    MfaChallengeInvalid = "mfa_challenge_invalid",
    /// Too many wrong codes: the account's second-factor checks are locked for a while.
    MfaLocked = "mfa_locked",
    /// Enrolment asked for an account that already has a second factor.
    MfaAlreadyEnrolled = "mfa_already_enrolled",
    /// A confirm without an enrolment in progress.
    MfaNotEnrolling = "mfa_not_enrolling",
    /// An operation on a second factor the account does not have.
    MfaNotEnrolled = "mfa_not_enrolled",
    /// A rate limit refused the request.
    RateLimited = "rate_limited",
    /// A bug; the cause is logged, never sent.
    InternalError = "internal_error",
    /// Campaigns on a store that cannot run them (the demo's in-memory store).
    CampaignsNeedPostgres = "campaigns_need_postgres",
    /// The database did not answer in time.
    ServiceUnavailable = "service_unavailable",
    /// Too many requests in flight: shed at once.
    Overloaded = "overloaded",
    /// The hashing pool cannot take the job within its budget: shed without hashing.
    HashingOverloaded = "hashing_overloaded",
    /// The request ran past its time limit.
    Timeout = "timeout",
    /// /readyz: draining or the database is unreachable.
    NotReady = "not_ready",
}

impl ErrorCode {
    /// Codes that mean the gateway refused work to protect itself (load shedding), as opposed to
    /// failing at it. Dashboards and alerts tell the two apart with these.
    pub const SHED: [Self; 3] = [Self::HashingOverloaded, Self::Overloaded, Self::Timeout];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ErrorCode;

    #[test]
    fn codes_are_unique_snake_case() {
        let wire: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(wire.len(), ErrorCode::ALL.len(), "two codes share a spelling");
        for code in wire {
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }
}
