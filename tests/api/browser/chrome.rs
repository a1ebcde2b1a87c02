//! One headless Chromium per test, driven through its own chromedriver on a free loopback port,
//! with a fresh profile, the language given, and nothing that talks to the network besides our
//! pages. chromedriver runs in a process group of its own, killed (with the Chromium it started)
//! when the `Browser` is dropped, pass or fail.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::tools;

/// How long one wait (a page load, an element, the driver starting) may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// A viewport: CSS pixels and device pixels per CSS pixel.
#[derive(Debug, Clone, Copy)]
pub struct Viewport {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}

pub const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 900,
    scale: 1.0,
};
/// The narrowest phone WCAG 1.4.10 (reflow) has in mind: 320 CSS px; 360 is today's common one.
pub const NARROW: Viewport = Viewport {
    name: "mobile",
    width: 360,
    height: 740,
    scale: 1.0,
};
/// A 1280 x 900 screen at 200 % zoom: half as many CSS pixels, each drawn twice as large.
pub const ZOOM_200: Viewport = Viewport {
    name: "zoom200",
    width: 640,
    height: 450,
    scale: 2.0,
};

pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Browser {
    /// Starts Chromium whose language (UI and `Accept-Language`) is `lang`, e.g. "en" or "fr".
    pub async fn start(lang: &str) -> Self {
        let profile = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let driver = tokio::process::Command::new(tools::chromedriver())
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group, so that dropping the Browser can end chromedriver and Chromium together.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run chromedriver ({e}); {}", tools::BROKEN));
        let browser = Self {
            client: connect(port, lang, profile.path()).await,
            driver,
            _profile: profile,
        };
        browser.set_viewport(DESKTOP).await;
        browser
    }

    /// Ends the WebDriver session (Chromium quits), then chromedriver.
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(WAIT, self.client.clone().close()).await;
        let _ = self.driver.start_kill();
        let _ = self.driver.wait().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` in the page (WebDriver runs it whatever the page's CSP) and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script:.200}"))
    }

    pub async fn js_str(&self, script: &str) -> String {
        match self.js(script).await {
            Value::String(s) => s,
            other => panic!("{script} returned {other}"),
        }
    }

    /// Polls `condition` (a script returning a boolean) until it holds; panics after [`WAIT`].
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            // A script during a navigation may fail; that is "not yet".
            if let Ok(Value::Bool(true)) = self.client.execute(condition, vec![]).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what}; the page is at {:?}:\n{}",
                self.client.current_url().await.map(|u| u.to_string()),
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Runs `act` (which submits a form, follows a link...) and waits until a new document has
    /// loaded in place of the current one.
    pub async fn next_page<F: std::future::Future<Output = ()>>(&self, act: F) {
        self.js("window.__rg_old_page = true; return true;").await;
        act.await;
        self.wait_until(
            "return window.__rg_old_page !== true && document.readyState === 'complete';",
            "the next page",
        )
        .await;
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Types `text` into the element `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// The text of the first `h1`.
    pub async fn heading(&self) -> String {
        self.find("h1").await.text().await.expect("h1 text")
    }

    /// Presses keys as a keyboard does (key down, key up), wherever the focus is: nothing is
    /// clicked and no element is addressed.
    pub async fn press(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client.perform_actions(actions).await.expect("key actions");
    }

    /// The focused element: `#id` when it has one, else e.g. `button[submit]` or `body`.
    pub async fn focused(&self) -> String {
        self.js_str(
            "const e = document.activeElement;
             if (!e) return '';
             if (e.id) return '#' + e.id;
             const t = e.tagName.toLowerCase();
             return e.type ? t + '[' + e.type + ']' : t;",
        )
        .await
    }

    /// Emulates `v` (size and device scale) in the current tab, without reloading it.
    pub async fn set_viewport(&self, v: Viewport) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": v.width, "height": v.height, "deviceScaleFactor": v.scale, "mobile": false }),
        )
        .await;
    }

    /// A PNG of the whole page, beyond the viewport when it is taller.
    pub async fn screenshot(&self, to: &Path) {
        // A blinking caret would make every run's picture of a focused field differ.
        self.js("document.documentElement.style.caretColor = 'transparent'; return true;")
            .await;
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().expect("screenshot data"),
        )
        .expect("base64 PNG");
        std::fs::write(to, png).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
    }

    /// A Chrome DevTools Protocol command, through chromedriver's `goog/cdp/execute`.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After quit() this finds nothing; after a panic it ends Chromium too, not only its driver.
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn connect(port: u16, lang: &str, profile: &Path) -> Client {
    let chrome_profile = profile.join("chrome");
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-extensions".to_owned(),
        "--hide-scrollbars".to_owned(),
        "--force-color-profile=srgb".to_owned(),
        format!("--user-data-dir={}", chrome_profile.display()),
        format!("--lang={lang}"),
        format!("--accept-lang={lang}"),
        format!("--window-size={},{}", DESKTOP.width, DESKTOP.height),
    ];
    let caps = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": { "pageLoad": WAIT.as_millis(), "script": WAIT.as_millis(), "implicit": 0 },
        "goog:chromeOptions": {
            "binary": tools::chromium(),
            "args": args,
            "prefs": { "intl.accept_languages": lang },
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("a JSON object")
    };
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + WAIT;
    loop {
        // chromedriver takes a moment to listen; until then the connection is refused.
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) => {
                let log = std::fs::read_to_string(profile.join("chromedriver.log")).unwrap_or_default();
                assert!(
                    Instant::now() < deadline && !log.contains("SessionNotCreated"),
                    "no WebDriver session from chromedriver on port {port} within {WAIT:?}: {e}; {}\n{log}",
                    tools::BROKEN
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}
