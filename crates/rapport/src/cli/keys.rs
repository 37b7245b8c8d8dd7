//! `rapport keys`: prints a new master key, and creates, lists, rotates and revokes API keys on
//! a running server (with a key granting `keys.manage`).

use serde_json::{json, Value};

use crate::client::{connect_command, Connection};

#[derive(Debug, Clone, clap::Args)]
pub struct KeysOptions {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Prints a new random master key (no server needed): set it as RAPPORT_MASTER_KEY
    GenerateMaster,
    /// Creates an API key and prints it (it is shown only this once)
    Create {
        #[command(flatten)]
        server: ServerOptions,
        /// A name for the key
        #[arg(long)]
        name: String,
        /// What it may do, comma-separated: actions (profiles.read), families (profiles.*) or *
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// Where, comma-separated sandbox names, or * for every sandbox
        #[arg(long, value_delimiter = ',', default_value = "prod")]
        sandboxes: Vec<String>,
        /// When it stops working, as an RFC 3339 date-time
        #[arg(long)]
        expires_at: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Its own rate limit, requests a second (with --rate-limit-burst); else the server's
        #[arg(long, requires = "rate_limit_burst")]
        rate_limit_per_second: Option<u32>,
        /// Its own burst, requests at once (with --rate-limit-per-second)
        #[arg(long, requires = "rate_limit_per_second")]
        rate_limit_burst: Option<u32>,
    },
    /// Lists the keys (never their secrets)
    List {
        #[command(flatten)]
        server: ServerOptions,
    },
    /// Gives a key a new secret and prints it; the old one works for --grace-seconds more
    Rotate {
        #[command(flatten)]
        server: ServerOptions,
        id: String,
        #[arg(long, default_value_t = 0)]
        grace_seconds: u32,
    },
    /// Revokes a key at once
    Revoke {
        #[command(flatten)]
        server: ServerOptions,
        id: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServerOptions {
    /// The server's URL
    #[arg(long, env = "RAPPORT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// A key granting keys.manage (or the master key)
    #[arg(long, env = "RAPPORT_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

async fn connect(options: &ServerOptions) -> anyhow::Result<Connection> {
    connect_command(&options.server, None, options.key.as_deref()).await
}

/// Runs the command; returns the process exit code.
pub async fn run(options: KeysOptions) -> anyhow::Result<i32> {
    let print = |value: &Value| {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        )
    };
    match options.command {
        KeysCommand::GenerateMaster => println!(
            "{}",
            auth::MasterKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?
        ),
        KeysCommand::Create {
            server,
            name,
            actions,
            sandboxes,
            expires_at,
            description,
            rate_limit_per_second,
            rate_limit_burst,
        } => {
            let mut body = json!({"name": name, "actions": actions, "sandboxes": sandboxes});
            if let (Some(per_second), Some(burst)) = (rate_limit_per_second, rate_limit_burst) {
                body["rateLimit"] = json!({"perSecond": per_second, "burst": burst});
            }
            if let Some(at) = expires_at {
                body["expiresAt"] = json!(at);
            }
            if let Some(text) = description {
                body["description"] = json!(text);
            }
            print(
                &connect(&server)
                    .await?
                    .post_json("/data/rapport/keys", &body)
                    .await?,
            );
        }
        KeysCommand::List { server } => {
            print(
                &connect(&server)
                    .await?
                    .get_json("/data/rapport/keys")
                    .await?,
            );
        }
        KeysCommand::Rotate {
            server,
            id,
            grace_seconds,
        } => {
            let path = format!("/data/rapport/keys/{id}/rotate");
            let body = json!({"graceSeconds": grace_seconds});
            print(&connect(&server).await?.post_json(&path, &body).await?);
        }
        KeysCommand::Revoke { server, id } => {
            connect(&server)
                .await?
                .request_json(
                    hyper::Method::DELETE,
                    &format!("/data/rapport/keys/{id}"),
                    None,
                )
                .await?;
            println!("revoked {id}");
        }
    }
    Ok(0)
}
