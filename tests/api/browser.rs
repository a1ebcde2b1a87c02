//! The pages in a real browser: Debian's Chromium, driven over WebDriver (chromedriver and
//! fantoccini), against the real gateway on PostgreSQL with mail over real SMTP. The journey of
//! issue #13 (forgot, mail, a scanner's GET, a refused then a good password, done, the API),
//! keyboard-only and French; axe-core (WCAG 2.x A and AA) on every page state at desktop, 360 px and
//! 200 % zoom; the Nu Html Checker on every page state; screenshots for docs/pages/ when
//! `RG_SCREENSHOTS=1`.
//!
//! The tools come from `./scripts/test` (see docs/development.md); a test whose tool is missing
//! fails and says so, it never skips. Everything runs on loopback and is bounded in time.

mod axe;
mod chrome;
mod enrol;
mod french;
mod journey;
mod keyboard;
mod site;
mod states;
mod tools;
mod validator;
