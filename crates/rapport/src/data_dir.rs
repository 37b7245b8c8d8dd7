//! The data directory's lock: one `rapport` process at a time works on a data directory (the
//! server, or an offline `rapport store rewrite`), held through an advisory lock on
//! `<data-dir>/rapport.lock` for as long as the process runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Held while this process works on the data directory; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory's lock (creating the directory when needed), or says which
/// directory another process holds.
pub fn lock(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| anyhow::anyhow!("creating the data directory {}: {e}", data_dir.display()))?;
    let path = data_dir.join("rapport.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another rapport process (a server, or a store rewrite) is using the data directory {}; stop it first",
            data_dir.display()
        )),
        Err(TryLockError::Error(e)) => Err(anyhow::anyhow!("locking {}: {e}", path.display())),
    }
}
