//! The `rapport` binary: parses the command line and runs the server or the demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Runs the server with a small demo company loaded, and prints URLs to try.
    Demo {
        #[command(flatten)]
        options: ServeOptions,
        #[arg(long, env = "RAPPORT_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (options, config, demo) = match cli.command {
        Command::Serve { options, config } => (options, config, false),
        Command::Demo {
            mut options,
            config,
        } => {
            options.data_dir = options
                .data_dir
                .or_else(|| Some(PathBuf::from("./rapport-demo-data")));
            (options, config, true)
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

async fn serve(settings: rapport::options::Settings, demo: bool) -> anyhow::Result<()> {
    let address = settings.http_addr;
    let state = rapport::build_state(settings)?;
    if demo {
        let engine = state.engine.clone();
        let summary = tokio::task::spawn_blocking(move || rapport::demo::load(&engine)).await??;
        println!("{summary}");
        println!("Demo data is loaded. Try:");
        println!("  curl 'http://{address}/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS=Email'", rapport::demo::SAMPLE_EMAIL);
        println!("  curl 'http://{address}/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId={}&relatedEntityIdNS=Email&orderby=-timestamp&limit=5'", rapport::demo::SAMPLE_EMAIL);
        println!(
            "  curl 'http://{address}/data/core/identity/graph?ns=Email&id={}'",
            rapport::demo::SAMPLE_EMAIL
        );
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(%address, "rapport is listening");
    println!("rapport is listening on http://{address}");
    // Responses are small and latency matters: never let Nagle hold a response back.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, rapport::http::app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
