//! The archive's directory, written in full or not at all: every file goes into a
//! staging directory beside `-o`, which takes the place of `-o` only once the whole
//! archive is written. File names are made by the archive from checked team ids
//! ([`crate::team::TeamId`]: `[A-Za-z0-9_-]`), and checked again here, so nothing
//! is ever written outside the directory.

use std::fs;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// Why the archive's directory cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// `-o` exists, holds files, and `--force` was not given.
    #[error("{} is not empty: give --force to replace it, or another -o", .0.display())]
    NotEmpty(PathBuf),
    /// `-o` exists and is not a directory.
    #[error("{} is not a directory: give -o a new or empty directory", .0.display())]
    NotADirectory(PathBuf),
    /// A file name the archive made is not a plain relative name (a bug, refused).
    #[error("refusing to write {0:?}: not a plain name inside the archive")]
    BadName(String),
    /// The file system refused.
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The archive being written.
pub struct Site {
    target: PathBuf,
    staging: tempfile::TempDir,
}

impl Site {
    /// Checks `-o` (new, empty, or replaced with `force`) and makes the staging
    /// directory beside it.
    pub fn create(target: &Path, force: bool) -> Result<Site, SiteError> {
        match fs::symlink_metadata(target) {
            Ok(meta) if !meta.is_dir() => return Err(SiteError::NotADirectory(target.into())),
            Ok(_) => {
                let mut entries = fs::read_dir(target).map_err(io_error(target))?;
                if entries.next().is_some() && !force {
                    return Err(SiteError::NotEmpty(target.into()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(target)(e)),
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let staging = tempfile::Builder::new()
            .prefix(".benchboard-archive-")
            .tempdir_in(parent)
            .map_err(io_error(parent))?;
        Ok(Site {
            target: target.to_path_buf(),
            staging,
        })
    }

    /// Where the archive will be.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the file `relative` (`/`-separated plain names) in the archive.
    pub fn file(&self, relative: &str) -> Result<BufWriter<fs::File>, SiteError> {
        let plain = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !relative.split('/').all(plain) {
            return Err(SiteError::BadName(relative.to_string()));
        }
        let path = self.staging.path().join(relative);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        let file = fs::File::create(&path).map_err(io_error(&path))?;
        Ok(BufWriter::with_capacity(256 * 1024, file))
    }

    /// Puts the finished archive in place of `-o` (an old one is removed after).
    pub fn commit(self) -> Result<PathBuf, SiteError> {
        use std::os::unix::fs::PermissionsExt;
        let staging = self.staging.keep();
        // tempfile makes 0700: an archive is for a web server to read.
        fs::set_permissions(&staging, fs::Permissions::from_mode(0o755))
            .map_err(io_error(&staging))?;
        let old = if self.target.exists() {
            let old = staging.with_extension("old");
            fs::rename(&self.target, &old).map_err(io_error(&self.target))?;
            Some(old)
        } else {
            None
        };
        fs::rename(&staging, &self.target).map_err(io_error(&self.target))?;
        if let Some(old) = old {
            fs::remove_dir_all(&old).map_err(io_error(&old))?;
        }
        Ok(self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_leave_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(&dir.path().join("out"), false).unwrap();
        for bad in ["../x", "/etc/x", "team/../../x", "", "a//b", "a\\b", "é"] {
            assert!(
                matches!(site.file(bad), Err(SiteError::BadName(_))),
                "{bad}"
            );
        }
        assert!(site.file("team/t-1.html").is_ok());
    }

    #[test]
    fn replaces_a_full_directory_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("old.txt"), "x").unwrap();
        assert!(matches!(
            Site::create(&out, false),
            Err(SiteError::NotEmpty(_))
        ));
        let site = Site::create(&out, true).unwrap();
        drop(site.file("index.html").unwrap());
        site.commit().unwrap();
        assert!(out.join("index.html").exists() && !out.join("old.txt").exists());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no staging directory is left behind");
    }
}
