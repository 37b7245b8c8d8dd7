//! `rapport users` and `rapport roles`: the console's users and roles on a running server
//! (with a key granting `users.manage`).

use std::io::Read;

use serde_json::{json, Value};

use super::keys::ServerOptions;
use crate::client::{connect_command, Connection};

#[derive(Debug, Clone, clap::Args)]
pub struct UsersOptions {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UsersCommand {
    /// Creates a user; without --password-stdin a password is generated and printed once
    Create {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
        #[arg(long)]
        role: String,
        /// Sandboxes the user may work in, comma-separated, or * [default: prod]
        #[arg(long, value_delimiter = ',')]
        sandboxes: Option<Vec<String>>,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the users
    List {
        #[command(flatten)]
        server: ServerOptions,
    },
    /// Gives a user another role
    SetRole {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
        role: String,
    },
    /// Sets a new password, read from standard input (ends the user's sessions)
    ResetPassword {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
    },
    /// Stops a user from signing in (ends their sessions)
    Disable {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
    },
    /// Deletes a user
    Delete {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RolesOptions {
    #[command(subcommand)]
    pub command: RolesCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RolesCommand {
    /// Lists the roles
    List {
        #[command(flatten)]
        server: ServerOptions,
    },
    /// Creates a role, or replaces its labels and actions
    Put {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
        /// Data-usage labels the role may see, comma-separated, or *
        #[arg(long, value_delimiter = ',', required = true)]
        labels: Vec<String>,
        /// Actions, comma-separated (profiles.read, profiles.*, *)
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
    },
    /// Deletes a role no user holds
    Delete {
        #[command(flatten)]
        server: ServerOptions,
        name: String,
    },
}

async fn connect(server: &ServerOptions) -> anyhow::Result<Connection> {
    connect_command(&server.server, None, server.key.as_deref()).await
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let password = text.lines().next().unwrap_or_default().to_owned();
    anyhow::ensure!(!password.is_empty(), "standard input: no password");
    Ok(password)
}

/// Runs `rapport users`; returns the process exit code.
pub async fn run_users(options: UsersOptions) -> anyhow::Result<i32> {
    match options.command {
        UsersCommand::Create {
            server,
            name,
            role,
            sandboxes,
            display_name,
            password_stdin,
        } => {
            let mut body = json!({"name": name, "role": role});
            if let Some(sandboxes) = sandboxes {
                body["sandboxes"] = json!(sandboxes);
            }
            if let Some(display_name) = display_name {
                body["displayName"] = json!(display_name);
            }
            if password_stdin {
                body["password"] = json!(password_from_stdin()?);
            }
            print(
                &connect(&server)
                    .await?
                    .post_json("/data/rapport/users", &body)
                    .await?,
            );
        }
        UsersCommand::List { server } => {
            print(
                &connect(&server)
                    .await?
                    .get_json("/data/rapport/users")
                    .await?,
            );
        }
        UsersCommand::SetRole { server, name, role } => {
            let path = format!("/data/rapport/users/{name}");
            let body = json!({"role": role});
            print(
                &connect(&server)
                    .await?
                    .request_json(hyper::Method::PATCH, &path, Some(&body))
                    .await?,
            );
        }
        UsersCommand::ResetPassword { server, name } => {
            let path = format!("/data/rapport/users/{name}/password");
            let body = json!({"password": password_from_stdin()?});
            connect(&server)
                .await?
                .request_json(hyper::Method::PUT, &path, Some(&body))
                .await?;
            println!("the password of {name} is changed; their sessions ended");
        }
        UsersCommand::Disable { server, name } => {
            let path = format!("/data/rapport/users/{name}");
            let body = json!({"disabled": true});
            connect(&server)
                .await?
                .request_json(hyper::Method::PATCH, &path, Some(&body))
                .await?;
            println!("{name} is disabled");
        }
        UsersCommand::Delete { server, name } => {
            let path = format!("/data/rapport/users/{name}");
            connect(&server)
                .await?
                .request_json(hyper::Method::DELETE, &path, None)
                .await?;
            println!("{name} is deleted");
        }
    }
    Ok(0)
}

/// Runs `rapport roles`; returns the process exit code.
pub async fn run_roles(options: RolesOptions) -> anyhow::Result<i32> {
    match options.command {
        RolesCommand::List { server } => {
            print(
                &connect(&server)
                    .await?
                    .get_json("/data/rapport/roles")
                    .await?,
            );
        }
        RolesCommand::Put {
            server,
            name,
            labels,
            actions,
        } => {
            let path = format!("/data/rapport/roles/{name}");
            let body = json!({"labels": labels, "actions": actions});
            print(
                &connect(&server)
                    .await?
                    .request_json(hyper::Method::PUT, &path, Some(&body))
                    .await?,
            );
        }
        RolesCommand::Delete { server, name } => {
            let path = format!("/data/rapport/roles/{name}");
            connect(&server)
                .await?
                .request_json(hyper::Method::DELETE, &path, None)
                .await?;
            println!("role {name} is deleted");
        }
    }
    Ok(0)
}
