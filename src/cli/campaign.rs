//! `resetgate campaign ...`: the admin API's campaign operations, straight against PostgreSQL, so
//! an operator can act on breach day even when the gateways are saturated (or not yet running).
//! Running gateways pick the campaign up within their poll interval.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use crate::app;
use crate::campaign::model::{Action, NewCampaign, Reason, Scope};
use crate::clock::{Clock as _, SystemClock};
use crate::config::{Config, Mode};
use crate::storage::campaigns::{CampaignStore as _, ChangeError};

#[derive(Subcommand, Debug)]
pub enum CampaignCommand {
    /// Start a campaign: mark accounts must-reset, optionally revoke sessions and notify.
    Start(StartArgs),
    /// Progress of one campaign, or of the most recent ones.
    Status { id: Option<i64> },
    /// Stop marking and sending; unsent notifications are held.
    Pause { id: i64 },
    /// Continue a paused campaign.
    Resume { id: i64 },
    /// Stop for good: unsent notifications are dropped. Marked accounts stay marked.
    Cancel { id: i64 },
}

/// Command-line switches: each bool is one `--flag`, as clap reads them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("scope").required(true)))]
pub struct StartArgs {
    /// Every account that exists now.
    #[arg(long, group = "scope")]
    all: bool,
    /// Comma-separated account ids.
    #[arg(long, group = "scope", value_delimiter = ',')]
    account_ids: Vec<i64>,
    /// A file of account ids, one per line.
    #[arg(long, group = "scope")]
    account_ids_file: Option<PathBuf>,
    /// A file of email addresses, one per line (e.g. the list found in the breach dump).
    #[arg(long, group = "scope")]
    emails_file: Option<PathBuf>,
    /// Accounts created before this RFC 3339 time.
    #[arg(long, group = "scope")]
    created_before: Option<DateTime<Utc>>,
    /// Sign out every session of the marked accounts.
    #[arg(long)]
    revoke_sessions: bool,
    /// Email each marked account a notice.
    #[arg(long)]
    notify: bool,
    /// After the reset, hold each account at two-step enrolment: its sessions are refused
    /// (`two_step_setup_required`) until the owner turns on a second factor.
    #[arg(long)]
    require_two_step: bool,
    /// Why, for the audit trail.
    #[arg(long)]
    reason: String,
}

fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn scope(a: &StartArgs) -> anyhow::Result<Scope> {
    let scope = if a.all {
        Scope::All
    } else if let Some(t) = a.created_before {
        Scope::CreatedBefore(t)
    } else if let Some(path) = &a.emails_file {
        Scope::emails(&lines(path)?)?
    } else if let Some(path) = &a.account_ids_file {
        let ids = lines(path)?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.parse::<i64>()
                    .with_context(|| format!("{} line {}: not an account id", path.display(), i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Scope::account_ids(ids)?
    } else {
        Scope::account_ids(a.account_ids.clone())?
    };
    Ok(scope)
}

fn print(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub async fn run(cmd: CampaignCommand) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(Mode::Migrate)?;
    let store = app::postgres_from_config(&config, true).await?;
    let now = SystemClock.now();
    match cmd {
        CampaignCommand::Start(args) => {
            let new = NewCampaign {
                scope: scope(&args)?,
                revoke_sessions: args.revoke_sessions,
                notify: args.notify,
                require_two_step: args.require_two_step,
                reason: Reason::parse(&args.reason)?,
            };
            let created = store.create_campaign(&new, now).await?;
            eprintln!(
                "campaign {} started over {} account(s); running gateways pick it up within {} ms",
                created.id,
                created.accounts_total,
                config.campaign.poll_interval.as_millis()
            );
            print(&created);
        }
        CampaignCommand::Status { id: Some(id) } => match store.campaign(id, now).await? {
            Some(p) => print(&p),
            None => anyhow::bail!("no campaign {id}"),
        },
        CampaignCommand::Status { id: None } => print(&store.campaigns(20, now).await?),
        CampaignCommand::Pause { id } => change(&store, id, Action::Pause).await?,
        CampaignCommand::Resume { id } => change(&store, id, Action::Resume).await?,
        CampaignCommand::Cancel { id } => change(&store, id, Action::Cancel).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn change(
    store: &crate::storage::postgres::PostgresStore,
    id: i64,
    action: Action,
) -> anyhow::Result<()> {
    match store.change_campaign(id, action, SystemClock.now()).await {
        Ok(state) => {
            print(&serde_json::json!({ "id": id, "state": state }));
            Ok(())
        }
        Err(ChangeError::NotFound) => anyhow::bail!("no campaign {id}"),
        Err(e) => Err(e.into()),
    }
}
