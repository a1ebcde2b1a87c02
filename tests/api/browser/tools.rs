//! Where the browser tests' tools are: `./scripts/test` installs them (Debian packages, and npm
//! packages pinned in tests/browser/package-lock.json) and exports their paths in these variables.
//! They are never guessed and a test never skips without them.

use std::path::PathBuf;

const INSTALL: &str = "run the browser tests through ./scripts/test (e.g. `./scripts/test --test api browser::`): \
     it installs Chromium, chromedriver, a Java runtime, axe-core and the Nu Html Checker, and exports their paths";

fn path(var: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| panic!("{var} is unset; {INSTALL}")));
    assert!(
        path.is_file(),
        "{var}={} is not a file; {INSTALL}",
        path.display()
    );
    path
}

pub fn chromium() -> PathBuf {
    path("BROWSER_CHROMIUM")
}

pub fn chromedriver() -> PathBuf {
    path("BROWSER_CHROMEDRIVER")
}

/// axe-core's `axe.min.js`, at the version tests/browser/package-lock.json pins.
pub fn axe_js() -> PathBuf {
    path("BROWSER_AXE_JS")
}

pub fn java() -> PathBuf {
    path("HTML_VALIDATOR_JAVA")
}

/// The Nu Html Checker's `vnu.jar`, at the version tests/browser/package-lock.json pins.
pub fn vnu_jar() -> PathBuf {
    path("HTML_VALIDATOR_JAR")
}

/// Where screenshots go when `RG_SCREENSHOTS=1`: docs/pages/, shown by docs/pages.md.
pub fn screenshot_dir() -> Option<PathBuf> {
    (std::env::var("RG_SCREENSHOTS").as_deref() == Ok("1"))
        .then(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/pages")))
}

/// What a tool failing to start means, for panic messages.
pub const BROKEN: &str = INSTALL;
