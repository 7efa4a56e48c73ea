//! One server per data directory: a [`WritableStore`](super::WritableStore) holds an
//! exclusive `flock` on [`LOCK_FILE`] for as long as it lives, taken before anything
//! else in the directory is touched. A second one finds it taken, says by which
//! process, and changes nothing. The kernel drops the lock when its process ends,
//! however it ends, so a crash leaves no stale lock. Readers (`benchboard-history`)
//! need no lock: every name they read points at a complete file.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::{LOCK_FILE, StoreError, regular};

/// The held lock of a data directory; released when dropped.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `root` (creating the lock file if needed) and writes this
    /// process's id into it; [`StoreError::InUse`] with the holder's id when taken.
    pub(super) fn take(root: &Path) -> Result<DirLock, StoreError> {
        let path = root.join(LOCK_FILE);
        let mut file = regular::open_read_write(&path).map_err(|e| StoreError::write(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    root: root.to_path_buf(),
                    pid: holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::write(&path, e)),
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| StoreError::write(&path, e))?;
        Ok(DirLock { _file: file })
    }
}

/// The process id written in a taken lock file (it may be a moment late: `None`).
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::take(dir.path()).unwrap();
        let lock_file = std::fs::read(dir.path().join(LOCK_FILE)).unwrap();
        match DirLock::take(dir.path()) {
            Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected InUse, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(dir.path().join(LOCK_FILE)).unwrap(),
            lock_file
        );
        drop(first);
        DirLock::take(dir.path()).expect("free again once dropped");
    }
}
