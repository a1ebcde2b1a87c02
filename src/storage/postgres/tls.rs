//! TLS to PostgreSQL with rustls (no OpenSSL), in libpq's `sslmode` terms:
//!
//! - `disable`: plaintext. The default only when the database is on this machine (loopback or a
//!   Unix socket), where there is no network to listen on.
//! - `require`: encrypted, the server's certificate not checked. Stops a passive listener, not an
//!   active one; for networks you trust to deliver packets where they are addressed.
//! - `verify-full`: encrypted, the certificate chained to the CA file (or, without one, the public
//!   web roots) and valid for the host connected to. The default for any other host, and the
//!   documented production setting.
//!
//! `prefer` and `allow` are refused: they fall back to plaintext without saying so. `verify-ca`
//! (chain without name) is refused in favour of `verify-full`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTls {
    Disable,
    Require,
    /// With the CA certificates of this PEM file, or the public web roots without one.
    VerifyFull {
        ca_file: Option<PathBuf>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsConfigError {
    #[error("sslmode={0} is not supported: use disable, require or verify-full")]
    UnknownMode(String),
    #[error(
        "sslmode={0} would fall back to plaintext without saying so: use require or verify-full (or disable)"
    )]
    SilentFallback(String),
    #[error("sslmode=verify-ca checks the chain but not the name: use verify-full")]
    VerifyCa,
    #[error("cannot read the CA file {path}: {why}")]
    CaFile { path: String, why: String },
    #[error("the CA file {0} holds no certificate")]
    CaFileEmpty(String),
    #[error("a CA file only means something with sslmode=verify-full")]
    CaWithoutVerify,
}

impl DbTls {
    /// The mode from the URL's `sslmode` (if any) and an optional CA file. `local`: the host is
    /// this machine, which decides the default.
    ///
    /// # Errors
    /// An unsupported or unsafe mode, or a CA file without verification.
    pub fn parse(
        sslmode: Option<&str>,
        ca_file: Option<PathBuf>,
        local: bool,
    ) -> Result<Self, TlsConfigError> {
        let mode = match sslmode {
            Some(m) => m.to_ascii_lowercase(),
            None if ca_file.is_some() || !local => "verify-full".to_owned(),
            None => "disable".to_owned(),
        };
        let tls = match mode.as_str() {
            "disable" => Self::Disable,
            "require" => Self::Require,
            "verify-full" => return Ok(Self::VerifyFull { ca_file }),
            "prefer" | "allow" => return Err(TlsConfigError::SilentFallback(mode)),
            "verify-ca" => return Err(TlsConfigError::VerifyCa),
            _ => return Err(TlsConfigError::UnknownMode(mode)),
        };
        if ca_file.is_some() {
            return Err(TlsConfigError::CaWithoutVerify);
        }
        Ok(tls)
    }

    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Require => "require",
            Self::VerifyFull { .. } => "verify-full",
        }
    }

    /// The connector, `None` for plaintext. Reads the CA file now, so a bad one fails at start.
    ///
    /// # Errors
    /// When the CA file cannot be read or holds no certificate.
    pub fn connector(&self) -> Result<Option<MakeRustlsConnect>, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsConfigError::UnknownMode(e.to_string()))?;
        let config = match self {
            Self::Disable => return Ok(None),
            Self::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
            Self::VerifyFull { ca_file } => {
                let roots = match ca_file {
                    Some(path) => roots_from(path)?,
                    None => RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    },
                };
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

fn roots_from(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let shown = path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsConfigError::CaFile {
            path: shown.clone(),
            why: e.to_string(),
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::CaFile {
            path: shown.clone(),
            why: e.to_string(),
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsConfigError::CaFileEmpty(shown));
    }
    Ok(roots)
}

/// `sslmode=require`: any certificate is accepted (libpq's meaning), but the handshake's
/// signatures are still checked, so the session is encrypted to whoever holds the key it shows.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_verifies_unless_the_database_is_on_this_machine() {
        assert_eq!(DbTls::parse(None, None, true), Ok(DbTls::Disable));
        assert_eq!(
            DbTls::parse(None, None, false),
            Ok(DbTls::VerifyFull { ca_file: None })
        );
        let ca = Some(PathBuf::from("/etc/ca.pem"));
        assert_eq!(
            DbTls::parse(None, ca.clone(), true),
            Ok(DbTls::VerifyFull { ca_file: ca.clone() }),
            "a CA file asks for verification even on loopback"
        );
        assert_eq!(DbTls::parse(Some("Require"), None, false), Ok(DbTls::Require));
        assert_eq!(DbTls::parse(Some("disable"), None, false), Ok(DbTls::Disable));
    }

    #[test]
    fn unsafe_and_unknown_modes_are_refused() {
        for (mode, want) in [
            ("prefer", TlsConfigError::SilentFallback("prefer".into())),
            ("allow", TlsConfigError::SilentFallback("allow".into())),
            ("verify-ca", TlsConfigError::VerifyCa),
            ("on", TlsConfigError::UnknownMode("on".into())),
        ] {
            assert_eq!(DbTls::parse(Some(mode), None, true), Err(want));
        }
        assert_eq!(
            DbTls::parse(Some("require"), Some(PathBuf::from("/x")), true),
            Err(TlsConfigError::CaWithoutVerify)
        );
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let missing = DbTls::VerifyFull {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
        };
        assert!(matches!(missing.connector(), Err(TlsConfigError::CaFile { .. })));
        let mut empty = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut empty, b"not a certificate\n").unwrap();
        let bad = DbTls::VerifyFull {
            ca_file: Some(empty.path().to_owned()),
        };
        assert!(matches!(bad.connector(), Err(TlsConfigError::CaFileEmpty(_))));
        assert!(DbTls::Require.connector().unwrap().is_some());
        assert!(DbTls::Disable.connector().unwrap().is_none());
        assert!(DbTls::VerifyFull { ca_file: None }.connector().unwrap().is_some());
    }
}
