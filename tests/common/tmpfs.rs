//! A small tmpfs the test mounts (tests run as root, also on CI), for storage that
//! fills up: `Tmpfs::mount("8m", dir)`, unmounted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` (`mount -o size=`) mounted on `at`; unmounted on drop.
pub struct Tmpfs {
    pub at: PathBuf,
}

impl Tmpfs {
    pub fn mount(size: &str, at: &Path) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], at);
        Tmpfs {
            at: at.to_path_buf(),
        }
    }

    /// `mount -o remount,<mode>` (e.g. `ro`, `rw`).
    pub fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], &self.at);
    }
}

fn mount(args: &[&str], at: &Path) {
    let output = Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .expect("running mount");
    assert!(
        output.status.success(),
        "mount {args:?} {} failed (the storage tests mount a tmpfs and need root): {}",
        at.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a server may still hold a file open at this point.
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Writes a file of `bytes` zeros at `path` (to take space on a tmpfs).
pub fn filler(path: &Path, bytes: usize) {
    std::fs::write(path, vec![0u8; bytes]).unwrap();
}
