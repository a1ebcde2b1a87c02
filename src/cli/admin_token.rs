//! `resetgate admin-token`: a fresh admin API token, and the digest the gateway is configured with
//! (it never stores the token itself).

use std::process::ExitCode;

pub(super) fn run() -> ExitCode {
    let token = crate::reset::token::BearerToken::generate();
    let digest = token
        .digest()
        .as_bytes()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        });
    println!("admin token (for operators; shown once): {}", token.expose());
    println!("RESETGATE_ADMIN_TOKEN_SHA256={digest}");
    ExitCode::SUCCESS
}
