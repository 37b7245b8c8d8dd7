//! The `rapport` binary: parses the command line and runs the server or the demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rapport::demo::DemoOptions;
use rapport::options::ServeOptions;
use tracing_subscriber::EnvFilter;

/// mimalloc: the write path allocates many small, short-lived values, where it beats the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Real-time customer profiles, compatible with the AEP profile API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the HTTP server on the embedded store.
    Serve {
        #[command(flatten)]
        options: ServeOptions,
        /// A TOML file with the same options (kebab-case keys); flags and RAPPORT_* win over it
        #[arg(long, env = "RAPPORT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Loads a demo retailer (customers, devices, web and app sessions, email campaigns, support
    /// calls and a few hard cases), prints lookup URLs of interesting customers, and serves;
    /// with --out, only writes the demo's files (JSON Lines, CSV and Parquet).
    Demo {
        #[command(flatten)]
        options: ServeOptions,
        #[arg(long, env = "RAPPORT_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        demo: DemoOptions,
    },
    /// Sends files through the batch API of a running server, with progress, and exits non-zero
    /// when the batch fails.
    Ingest(rapport::cli::ingest::IngestOptions),
    /// Trains the built-in models (lifetime value, churn propensity) on a running server.
    Models(rapport::cli::models::ModelsOptions),
    /// Prints a new master key; creates, lists, rotates and revokes API keys on a running server.
    Keys(rapport::cli::keys::KeysOptions),
    /// Manages the console's users on a running server.
    Users(rapport::cli::users::UsersOptions),
    /// Manages the console's roles on a running server.
    Roles(rapport::cli::users::RolesOptions),
    /// Works on a stopped server's data directory: `store rewrite` erases deleted data from the
    /// files too.
    Store(rapport::cli::store::StoreOptions),
}

/// Runs a command that talks to a server on a small runtime, and exits with its code.
fn exit_with(
    command: impl std::future::Future<Output = anyhow::Result<i32>>,
) -> anyhow::Result<std::convert::Infallible> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::process::exit(runtime.block_on(command)?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (options, config, demo) = match cli.command {
        Command::Ingest(options) => match exit_with(rapport::cli::ingest::run(options))? {},
        Command::Models(options) => match exit_with(rapport::cli::models::run(options))? {},
        Command::Keys(options) => match exit_with(rapport::cli::keys::run(options))? {},
        Command::Users(options) => match exit_with(rapport::cli::users::run_users(options))? {},
        Command::Roles(options) => match exit_with(rapport::cli::users::run_roles(options))? {},
        Command::Store(options) => return rapport::cli::store::run(options),
        Command::Serve { options, config } => (options, config, None),
        Command::Demo {
            mut options,
            config,
            demo,
        } => {
            if demo.out.is_some() {
                print!("{}", rapport::demo::write_files(&demo)?);
                return Ok(());
            }
            options.data_dir = options
                .data_dir
                .or_else(|| Some(PathBuf::from("./rapport-demo-data")));
            // Without a master key the demo runs in development mode (loopback only), so its
            // console and curl lines work as they are; it still prints a real key to try.
            if options.master_key.is_none() && std::env::var_os("RAPPORT_MASTER_KEY").is_none() {
                options.dev_mode = true;
            }
            (options, config, Some(demo))
        }
    };
    let settings = options.resolve(config.as_deref())?;
    // Logs go to standard error, in colour only on a terminal; standard output is for the URLs.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&settings.log).context("--log is not a valid log filter")?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings, demo))
}

async fn serve(
    settings: rapport::options::Settings,
    demo: Option<DemoOptions>,
) -> anyhow::Result<()> {
    let address = settings.http_addr;
    // A bad certificate or key stops start-up before the store is opened.
    let tls = match &settings.tls {
        Some(files) => Some(rapport::tls::server_config(files)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Held until the server stops: `rapport store rewrite` refuses to run beside it.
    let _lock = rapport::data_dir::lock(&settings.data_dir)?;
    let state = rapport::build_state(settings)?;
    if let Some(demo) = demo {
        let engine = state.engine.clone();
        let summary =
            tokio::task::spawn_blocking(move || rapport::demo::load(&engine, &demo)).await??;
        println!("{}", summary.report(&format!("{scheme}://{address}")));
        println!("{}", rapport::demo::access_note(&state)?);
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, tls = tls.is_some(), "rapport is listening");
    println!(
        "rapport is listening on {scheme}://{address} (the agent console: {scheme}://{address}/)"
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Some(config) = tls {
        rapport::tls::serve(listener, rapport::http::app(state), config, shutdown).await;
        return Ok(());
    }
    // Responses are small and latency matters: never let Nagle hold a response back.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    // The peer's address goes into audit entries.
    let app =
        rapport::http::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
