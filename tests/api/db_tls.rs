//! TLS to PostgreSQL (issue #16, point 5), against a real PostgreSQL this test starts with TLS on:
//! a throwaway cluster (initdb, pg_ctl) on a free loopback port whose certificate is issued by a
//! CA made here, and whose pg_hba refuses every connection without TLS. Each mode is shown doing
//! what it says: verify-full connects only with the CA and the right name, require connects
//! unverified, disable is turned away, and the gateway serves on a verify-full connection.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use resetgate::storage::postgres::tls::DbTls;
use resetgate::storage::postgres::PostgresStore;

use crate::helpers::spawn_app_on;

/// The PostgreSQL server binaries of this machine (Debian's layout), newest first.
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql (package postgresql)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop().expect("initdb under /usr/lib/postgresql/*/bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a server binary as the postgres user (initdb refuses root).
fn as_postgres(bin: &Path, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin)
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it issued for 127.0.0.1 only (no DNS name, so `localhost` is
/// the wrong name).
struct Pki {
    ca: String,
    server: String,
    server_key: String,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "resetgate test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(Vec::<String>::new()).unwrap();
    server.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    Pki {
        ca: ca_cert.pem(),
        server: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    }
}

/// A PostgreSQL cluster with TLS required, stopped (immediately) when dropped.
struct TlsCluster {
    pg_ctl: PathBuf,
    data: PathBuf,
    port: u16,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsCluster {
    fn start() -> Self {
        let bin = bindir();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let pki = pki();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &pki.ca).unwrap();
        // postgres must be able to reach its own directory inside the temp dir.
        Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        let write_owned = |name: &str, body: &str, mode: &str| {
            let p = data.join(name);
            std::fs::write(&p, body).unwrap();
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&p)
                .status()
                .unwrap();
            Command::new("chmod").arg(mode).arg(&p).status().unwrap();
        };
        write_owned("server.crt", &pki.server, "0644");
        write_owned("server.key", &pki.server_key, "0600");
        // TLS or nothing, from loopback only.
        write_owned(
            "pg_hba.conf",
            "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\nlocal all all trust\n",
            "0600",
        );
        let port = free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\n\
             ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\nmax_connections = 20\n",
            dir.path().display()
        );
        let mut existing = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        existing.push_str(&conf);
        write_owned("postgresql.conf", &existing, "0600");
        let pg_ctl = bin.join("pg_ctl");
        as_postgres(
            &pg_ctl,
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                data.join("log").to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Self {
            pg_ctl,
            data,
            port,
            ca_file,
            _dir: dir,
        }
    }

    fn url(&self, host: &str, sslmode: Option<&str>) -> String {
        let mode = sslmode.map(|m| format!("?sslmode={m}")).unwrap_or_default();
        format!("postgres://postgres@{host}:{}/postgres{mode}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&self.pg_ctl)
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

/// An error with every cause, so a test can say which check refused.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Connects the store and asks the server whether this very connection is encrypted.
async fn encrypted(url: &str, tls: &DbTls) -> Result<bool, String> {
    let store = PostgresStore::connect(url, tls, 2, Duration::from_secs(5), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let client = store.pool().get().await.map_err(|e| chain(&e))?;
    let row = client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sslmode_does_what_it_says_against_a_real_tls_postgres() {
    let pg = TlsCluster::start();
    let ca = Some(pg.ca_file.clone());
    let verify = DbTls::VerifyFull { ca_file: ca };

    // verify-full with our CA and the name the certificate holds: encrypted.
    assert_eq!(encrypted(&pg.url("127.0.0.1", None), &verify).await, Ok(true));
    // The right CA, the wrong name: refused before any query.
    let wrong_name = encrypted(&pg.url("localhost", None), &verify).await;
    assert!(
        wrong_name.as_ref().unwrap_err().contains("not valid for name"),
        "{wrong_name:?}"
    );
    // The public roots do not know our CA: refused.
    let unknown_ca = encrypted(&pg.url("127.0.0.1", None), &DbTls::VerifyFull { ca_file: None }).await;
    assert!(
        unknown_ca.as_ref().unwrap_err().contains("UnknownIssuer"),
        "{unknown_ca:?}"
    );
    // require: encrypted, whatever the certificate says.
    assert_eq!(
        encrypted(&pg.url("localhost", None), &DbTls::Require).await,
        Ok(true)
    );
    // disable: plaintext, which this server turns away (pg_hba: hostnossl reject).
    let plain = encrypted(&pg.url("127.0.0.1", None), &DbTls::Disable).await;
    assert!(plain.as_ref().unwrap_err().contains("no encryption"), "{plain:?}");
}

async fn readyz(app: &crate::helpers::TestApp) -> u16 {
    app.client
        .get(format!("http://{}/readyz", app.ops_addr))
        .send()
        .await
        .expect("readyz")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_on_a_verified_connection_from_its_settings() {
    let pg = TlsCluster::start();
    let ca = pg.ca_file.display().to_string();
    let url = pg.url("127.0.0.1", Some("verify-full"));
    // The whole gateway: migrations, a reset request, its outbox row, over verify-full.
    let app = spawn_app_on(
        None,
        &[
            ("RESETGATE_DATABASE_URL", url.as_str()),
            ("RESETGATE_DATABASE_CA_FILE", ca.as_str()),
        ],
    )
    .await;
    assert!(app.config.database.is_some(), "serve mode on the TLS cluster");
    app.create_account("tls@example.com", Some(crate::helpers::PASSWORD), false)
        .await;
    assert_eq!(app.request_reset("tls@example.com").await.status(), 202);
    let mails = app.wait_for_mails("tls@example.com", 1).await;
    assert!(!mails[0].token().is_empty());
    assert_eq!(readyz(&app).await, 200);

    // The same settings without the CA file: the gateway starts (the pool connects lazily) but
    // the database is unreachable to it, and readiness says so.
    let app = spawn_app_on(
        None,
        &[
            ("RESETGATE_DATABASE_URL", url.as_str()),
            ("RESETGATE_MIGRATE_ON_START", "false"),
        ],
    )
    .await;
    assert_eq!(readyz(&app).await, 503);
}
