//! API tests against the real server: one file per feature. Most run on both stores.

// A fault drill reads as one story (start, break, check, heal, check); split, it would not.
#![allow(clippy::too_many_lines)]

mod helpers;

mod account_pages;
mod admission;
mod branding;
mod browser;
mod campaign;
mod campaign_faults;
mod campaign_two_step;
mod cli;
mod dashboard;
mod db_tls;
mod deploy;
mod factor_flow;
mod factor_store;
mod health;
mod languages;
mod logging;
mod login;
mod login_throttle;
mod malformed;
mod mfa;
mod openapi;
mod overload;
mod pacing;
mod pages;
mod pepper_rotation;
mod proxy;
mod reset_confirm;
mod reset_flood;
mod reset_request;
mod sessions;
mod smtp;
mod smtp_sink;
mod waiting_room;
