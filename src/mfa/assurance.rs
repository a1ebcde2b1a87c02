//! How a session was authenticated: its `amr` (authentication methods references, RFC 8176) and
//! its NIST SP 800-63B authenticator assurance level. Recorded when the session is created and
//! shown by `GET /v1/session`, so a client can ask for a step-up before a sensitive action.

/// The ways a session can come to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authn {
    /// A password alone (no factor enrolled): AAL1.
    Password,
    /// A password, then a TOTP code: AAL2.
    PasswordOtp,
    /// A password, then a recovery code: AAL2 (a look-up secret is a second factor).
    PasswordRecovery,
}

impl Authn {
    #[must_use]
    pub const fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordOtp => &["pwd", "otp"],
            Self::PasswordRecovery => &["pwd", "recovery"],
        }
    }

    #[must_use]
    pub const fn aal(self) -> i16 {
        match self {
            Self::Password => 1,
            Self::PasswordOtp | Self::PasswordRecovery => 2,
        }
    }

    /// The stored form: the `amr` list joined by spaces.
    #[must_use]
    pub fn as_stored(self) -> String {
        self.amr().join(" ")
    }

    /// Reads the stored form back; anything unknown is the weakest, never the strongest.
    #[must_use]
    pub fn from_stored(s: &str) -> Self {
        match s {
            "pwd otp" => Self::PasswordOtp,
            "pwd recovery" => Self::PasswordRecovery,
            _ => Self::Password,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_round_trip_and_unknown_is_weakest() {
        for a in [Authn::Password, Authn::PasswordOtp, Authn::PasswordRecovery] {
            assert_eq!(Authn::from_stored(&a.as_stored()), a);
        }
        assert_eq!(Authn::from_stored("otp"), Authn::Password);
        assert_eq!(Authn::PasswordOtp.aal(), 2);
        assert_eq!(Authn::Password.amr(), ["pwd"]);
    }
}
