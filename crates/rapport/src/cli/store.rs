//! `rapport store rewrite`: rewrites the embedded store offline so that deleted data is gone
//! from the files too (LMDB keeps old pages until it reuses them), then notes on completed
//! privacy delete jobs that their data is physically erased.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct StoreOptions {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum StoreCommand {
    /// Copies every live entry into fresh data files that replace the old ones (the server must
    /// be stopped); completed privacy delete jobs then report physicalErasure "complete"
    Rewrite {
        /// Directory of the embedded store [default: ./rapport-data]
        #[arg(long, env = "RAPPORT_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The map size the server runs with, in GiB [default: 64]
        #[arg(long, env = "RAPPORT_MAP_SIZE_GIB")]
        map_size_gib: Option<usize>,
    },
}

/// Runs the command; prints what it did.
pub fn run(options: StoreOptions) -> anyhow::Result<()> {
    match options.command {
        StoreCommand::Rewrite {
            data_dir,
            map_size_gib,
        } => {
            let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./rapport-data"));
            let map_size_gib = map_size_gib.unwrap_or(64);
            anyhow::ensure!(
                map_size_gib >= 1,
                "--map-size-gib: at least 1, got {map_size_gib}"
            );
            print!("{}", rewrite(&data_dir, map_size_gib << 30)?);
            Ok(())
        }
    }
}

fn rewrite(data_dir: &std::path::Path, map_size_bytes: usize) -> anyhow::Result<String> {
    let main = data_dir.join("lmdb");
    anyhow::ensure!(
        main.join("data.mdb").exists(),
        "--data-dir: {} holds no store (no lmdb/data.mdb)",
        data_dir.display()
    );
    let _lock = crate::data_dir::lock(data_dir)?;
    let options = store::LmdbOptions { map_size_bytes };
    let mut report = String::new();
    let mut environments = vec![("store", main.clone(), &store::Table::MAIN[..])];
    let audit = data_dir.join("audit");
    if audit.join("data.mdb").exists() {
        environments.push(("audit log", audit, &[store::Table::Audit][..]));
    }
    for (name, dir, tables) in environments {
        let done = store::rewrite(&dir, &options, tables)
            .map_err(|e| anyhow::anyhow!("rewriting the {name} in {}: {e}", dir.display()))?;
        report.push_str(&format!(
            "{name}: {} entries rewritten; {} bytes before, {} after\n",
            done.entries, done.bytes_before, done.bytes_after
        ));
    }
    let store = store::LmdbStore::open(&main, &options)
        .map_err(|e| anyhow::anyhow!("reopening the store: {e}"))?;
    let noted = engine::privacy::note_rewrite(&store, engine::catalog::now_ms())
        .map_err(|e| anyhow::anyhow!("noting the rewrite on privacy jobs: {e}"))?;
    report.push_str(&format!(
        "privacy delete jobs now physically erased: {noted}\n"
    ));
    Ok(report)
}
