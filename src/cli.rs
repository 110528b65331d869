//! The command line: `serve`, `migrate`, `seed`, `client`, `schema`.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use serde_json::json;

use crate::auth::Role;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs, Settings};
use crate::domain::{CountryCode, OrganizationKind};
use crate::service::clients;
use crate::service::personal_data::{DataKeySource, DataKeys, PersonalData};
use crate::{db, graphql, seed, startup, telemetry};

/// embhub: the GraphQL API for international election events.
#[derive(Debug, Parser)]
#[command(name = "embhub", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(subcommand)]
    pub command: Command,
}

// One value parsed once per process: boxing `ServeArgs` would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations are applied on start).
    Serve(ServeArgs),
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load data; `--demo` loads the world of the 2017 NEC events (idempotent);
    /// `--bench` generates the benchmark data set into an empty database.
    Seed {
        /// Load the demo organizations, events and API clients.
        #[arg(long)]
        demo: bool,
        /// Generate the large, deterministic data set `bench/run` measures with
        /// (sizes below), with API clients for two partners and a coordinator.
        #[arg(long, conflicts_with = "demo")]
        bench: bool,
        #[command(flatten)]
        sizes: seed::bench::BenchSizes,
        /// Print new client credentials (and, with `--bench`, the ids the benchmark
        /// needs) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage API clients.
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Manage the keys of participants' personal data.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Add a new data key and re-encrypt every participant's personal data under
    /// it, in batches, while servers keep running; the old keys are removed once
    /// nothing uses them. Needs the same data key (`EMBHUB_DATA_KEY_FILE`, or the
    /// data folder's) as the servers.
    RotateDataKey {
        /// Rows re-encrypted per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u64,
        /// Seconds to let running servers switch to the new key before the last
        /// pass (longer than their key reload interval plus the longest request).
        #[arg(long, default_value_t = 45)]
        settle_secs: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Revert the last `steps` migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List applied and pending migrations.
    Status,
    /// Drop everything and migrate from scratch (destroys data).
    Fresh,
}

#[derive(Debug, Subcommand)]
pub enum ClientAction {
    /// Create a client and print its secret once.
    Create {
        /// Organization: UUID or acronym.
        #[arg(long)]
        org: String,
        /// Roles (repeat or comma-separate): ADMIN, COORDINATOR, PARTNER, READER,
        /// DIRECTORY.
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        /// A name that tells operators whose system this is.
        #[arg(long)]
        name: String,
        /// Create the organization with this name if `--org` is not found
        /// (bootstraps the first administrator of a new installation).
        #[arg(long)]
        org_name: Option<String>,
        /// Country of the organization created with `--org-name`.
        #[arg(long)]
        org_country: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client; its tokens stop working within a minute.
    Revoke {
        /// Client id.
        id: uuid::Uuid,
        #[arg(long)]
        json: bool,
    },
}

fn log_format(cli: &Cli) -> LogFormat {
    let production = matches!(&cli.command, Command::Serve(s) if s.production);
    cli.database.log_format.unwrap_or(if production {
        LogFormat::Json
    } else {
        LogFormat::Pretty
    })
}

fn service_error(err: crate::error::AppError) -> anyhow::Error {
    anyhow::anyhow!(err.public_message())
}

/// The data keys and default retention for a command other than `serve`, from
/// the same settings (the data key file, or the data folder's key).
async fn personal_data(
    args: &DatabaseArgs,
    database: &sea_orm::DatabaseConnection,
) -> anyhow::Result<PersonalData> {
    let master =
        DataKeySource::choose(args.data_key_file.as_deref(), &args.data_dir, false)?.load()?;
    Ok(PersonalData {
        keys: DataKeys::load_or_create(database, master).await?,
        retention_days: crate::config::PersonalDataSettings::DEFAULT_RETENTION_DAYS,
    })
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let _log_writer = telemetry::init(log_format(&cli));
    if let Command::Schema = cli.command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    if let Command::Serve(serve) = &cli.command {
        let settings = Settings::from_args(&cli.database, serve)?;
        let app = startup::Application::build(settings, serve.demo).await?;
        return app.run_until_stopped().await;
    }
    let database = db::connect(&cli.database.resolve()?).await?;
    match cli.command {
        Command::Serve(_) | Command::Schema => unreachable!("handled above"),
        Command::Migrate { action } => match action {
            MigrateAction::Up => {
                Migrator::up(&database, None).await?;
                println!("migrations applied");
            }
            MigrateAction::Down { steps } => {
                Migrator::down(&database, Some(steps)).await?;
                println!("reverted {steps} migration(s)");
            }
            MigrateAction::Status => {
                for m in Migrator::get_applied_migrations(&database).await? {
                    println!("applied  {}", m.name());
                }
                for m in Migrator::get_pending_migrations(&database).await? {
                    println!("pending  {}", m.name());
                }
            }
            MigrateAction::Fresh => {
                Migrator::fresh(&database).await?;
                println!("database recreated");
            }
        },
        Command::Seed {
            demo,
            bench,
            sizes,
            json,
        } => {
            db::migrate(&database).await?;
            let personal_data = personal_data(&cli.database, &database).await?;
            if bench {
                let fixture = seed::bench::generate(&database, &sizes, &personal_data.keys).await?;
                if json {
                    println!("{}", serde_json::to_string(&fixture)?);
                } else {
                    println!("benchmark data set written: {}", fixture.rows);
                    println!("API clients (the secrets are shown only this once):");
                    for (label, c) in [
                        ("small partner", &fixture.small_partner),
                        ("large partner", &fixture.large_partner),
                        ("coordinator", &fixture.coordinator),
                    ] {
                        println!(
                            "  {label:<13} client_id={}  client_secret={}",
                            c.client_id, c.client_secret
                        );
                    }
                }
                return Ok(());
            }
            if !demo {
                anyhow::bail!(
                    "nothing to seed: pass --demo to load the demo world, or --bench for the benchmark data set"
                );
            }
            let created = seed::demo(&database, &personal_data).await?;
            seed::print_clients(&created, json);
        }
        Command::Client { action } => {
            db::migrate(&database).await?;
            client_command(&database, action).await?;
        }
        Command::Keys {
            action:
                KeysAction::RotateDataKey {
                    batch_size,
                    settle_secs,
                    json,
                },
        } => {
            db::migrate(&database).await?;
            if batch_size == 0 {
                anyhow::bail!("--batch-size must be at least 1");
            }
            let keys = personal_data(&cli.database, &database).await?.keys;
            let done = crate::service::personal_data::rotation::rotate(
                &database,
                &keys,
                batch_size,
                std::time::Duration::from_secs(settle_secs),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&done)?);
            } else {
                println!(
                    "data key {} now seals all personal data: {} rows re-encrypted, old keys removed: {:?}",
                    done.key_id, done.rows, done.removed_key_ids
                );
            }
        }
    }
    Ok(())
}

/// The human form of `client list`: a header and one aligned row per client,
/// naming organizations by acronym (or name) rather than by UUID.
fn client_table(
    all: &[(
        clients::ClientInfo,
        Option<crate::entity::organization::Model>,
    )],
) -> String {
    let rows: Vec<[String; 5]> = all
        .iter()
        .map(|(c, org)| {
            let roles: Vec<_> = c.roles.iter().map(|r| r.as_str()).collect();
            [
                c.id.to_string(),
                c.name.clone(),
                org.as_ref()
                    .map(|o| o.acronym.clone().unwrap_or_else(|| o.name.clone()))
                    .unwrap_or_else(|| "(deleted)".to_owned()),
                roles.join(","),
                if c.revoked { "revoked" } else { "active" }.to_owned(),
            ]
        })
        .collect();
    let header = ["CLIENT ID", "NAME", "ORGANIZATION", "ROLES", "STATUS"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no clients yet: create one with `embhub client create`)\n");
    }
    out
}

async fn client_command(
    database: &sea_orm::DatabaseConnection,
    action: ClientAction,
) -> anyhow::Result<()> {
    match action {
        ClientAction::Create {
            org,
            roles,
            name,
            org_name,
            org_country,
            json,
        } => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r).ok_or_else(|| anyhow::anyhow!("unknown role `{r}`")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let organization = match clients::find_organization(database, &org).await {
                Ok(found) => found,
                Err(crate::error::AppError::NotFound { .. }) if org_name.is_some() => {
                    let country = org_country
                        .as_deref()
                        .map(|c| CountryCode::parse(c, "org-country").map(CountryCode::into_inner))
                        .transpose()
                        .map_err(service_error)?;
                    seed::ensure_organization(
                        database,
                        seed::OrganizationSeed {
                            kind: OrganizationKind::Other,
                            name: org_name.as_deref().unwrap_or_default(),
                            local_name: None,
                            acronym: Some(&org),
                            country_code: country.as_deref(),
                            website: None,
                            aweb_member: false,
                        },
                    )
                    .await?
                }
                Err(crate::error::AppError::NotFound { .. }) => {
                    anyhow::bail!("no organization `{org}` (pass --org-name to create it)")
                }
                Err(other) => return Err(service_error(other)),
            };
            let created = clients::register(database, organization.id, &roles, &name)
                .await
                .map_err(service_error)?;
            if json {
                println!(
                    "{}",
                    json!({
                        "client_id": created.info.id,
                        "client_secret": created.secret,
                        "organization_id": organization.id,
                        "roles": created.info.roles,
                    })
                );
            } else {
                println!("client_id:     {}", created.info.id);
                println!("client_secret: {}", created.secret);
                println!("(the secret is shown only this once)");
            }
        }
        ClientAction::List { json } => {
            let all = clients::list(database).await.map_err(service_error)?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|(c, org)| {
                        json!({
                            "client_id": c.id, "name": c.name, "organization_id": c.organization_id,
                            "organization": org.as_ref().map(|o| o.acronym.clone().unwrap_or_else(|| o.name.clone())),
                            "roles": c.roles, "revoked": c.revoked,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                print!("{}", client_table(&all));
            }
        }
        ClientAction::Revoke { id, json } => {
            let revoked = clients::revoke(database, id).await.map_err(service_error)?;
            if json {
                println!("{}", json!({ "client_id": revoked.id, "revoked": true }));
            } else {
                println!("revoked {}", revoked.id);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_has_a_header_and_names_organizations_by_acronym() {
        let nec = crate::entity::organization::Model {
            id: uuid::Uuid::now_v7(),
            kind: OrganizationKind::ElectionManagementBody,
            name: "National Election Commission".into(),
            local_name: None,
            acronym: Some("NEC".into()),
            country_code: Some("KR".into()),
            website: None,
            contact_email: None,
            aweb_member: true,
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let client = clients::ClientInfo {
            id: uuid::Uuid::now_v7(),
            name: "console".into(),
            organization_id: nec.id,
            roles: vec![Role::Coordinator, Role::Partner],
            revoked: false,
        };
        let table = client_table(&[(client.clone(), Some(nec.clone()))]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("CLIENT ID"), "{table}");
        assert!(lines[0].contains("ORGANIZATION"), "{table}");
        assert!(lines[1].contains("NEC"), "{table}");
        assert!(lines[1].contains("COORDINATOR,PARTNER"), "{table}");
        assert!(!lines[1].contains(&nec.id.to_string()), "{table}");
    }
}
