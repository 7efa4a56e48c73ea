//! Following a file that a tool is still writing, like `tail -F`.
//!
//! [`Follower::poll`] hands out what was appended since the last call, a bounded
//! chunk at a time. It waits for a file that does not exist yet, and notices when the
//! file is replaced (rotation: the path now names another file, after the old one was
//! read to its end) or cut shorter than what was read (truncation), and then starts
//! again from the new file's first byte ([`Poll::Restarted`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Bytes read per [`Follower::poll`] at most.
pub const CHUNK_BYTES: usize = 1 << 20;

/// What [`Follower::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// This many new bytes are in the buffer.
    Data(usize),
    /// Nothing new yet (or no file yet).
    Idle,
    /// The file started over; what follows is read from its beginning.
    Restarted(Restart),
}

/// Why the file being followed started over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The path now names another file (renamed away and re-created, as logrotate does).
    Rotated,
    /// The file became shorter than what was already read (truncated in place).
    Truncated,
}

/// A file followed by path.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of the open file.
    identity: (u64, u64),
    offset: u64,
    /// The old file was left for a new one that is not there yet.
    rotation_pending: bool,
}

impl Follower {
    /// Follows `path` from its first byte; the file may not exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Follower {
        Follower {
            path: path.into(),
            file: None,
            identity: (0, 0),
            offset: 0,
            rotation_pending: false,
        }
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes read from the current file so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads what is new into `buffer` (replacing its contents), at most [`CHUNK_BYTES`].
    pub fn poll(&mut self, buffer: &mut Vec<u8>) -> io::Result<Poll> {
        buffer.clear();
        if self.file.is_none() {
            let opened = self.open()?;
            if opened != Poll::Idle || self.file.is_none() {
                return Ok(opened);
            }
        }
        let file = self.file.as_mut().expect("opened above");
        let read = file.take(CHUNK_BYTES as u64).read_to_end(buffer)?;
        if read > 0 {
            self.offset += read as u64;
            return Ok(Poll::Data(read));
        }
        // At the end of the open file: has the path moved on?
        match std::fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) != self.identity => {
                self.file = None;
                self.rotation_pending = true;
                self.open()
            }
            Ok(meta) if meta.len() < self.offset => {
                file.seek(SeekFrom::Start(0))?;
                self.offset = 0;
                Ok(Poll::Restarted(Restart::Truncated))
            }
            // Same file and nothing new; or the path is gone for now (being rotated):
            // the old file is kept until a new one appears.
            Ok(_) => Ok(Poll::Idle),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Poll::Idle),
            Err(e) => Err(e),
        }
    }

    /// Opens the file at the path, when there is one.
    fn open(&mut self) -> io::Result<Poll> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Poll::Idle),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", self.path.display()),
            ));
        }
        self.identity = (meta.dev(), meta.ino());
        self.file = Some(file);
        self.offset = 0;
        Ok(if std::mem::take(&mut self.rotation_pending) {
            Poll::Restarted(Restart::Rotated)
        } else {
            Poll::Idle
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    /// Polls until something other than Idle comes, collecting data.
    fn next(follower: &mut Follower, buffer: &mut Vec<u8>) -> (Poll, Vec<u8>) {
        for _ in 0..10 {
            match follower.poll(buffer).unwrap() {
                Poll::Idle => continue,
                other => return (other, buffer.clone()),
            }
        }
        (Poll::Idle, Vec::new())
    }

    #[test]
    fn follows_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jtl");
        let mut follower = Follower::new(&path);
        let mut buffer = Vec::new();
        assert_eq!(follower.poll(&mut buffer).unwrap(), Poll::Idle); // no file yet
        append(&path, b"one\n");
        assert_eq!(
            next(&mut follower, &mut buffer),
            (Poll::Data(4), b"one\n".to_vec())
        );
        append(&path, b"two\n");
        assert_eq!(next(&mut follower, &mut buffer).1, b"two\n");
        // Rotation: the rest of the old file is read first, then the new one.
        append(&path, b"three\n");
        std::fs::rename(&path, dir.path().join("out.jtl.1")).unwrap();
        append(&path, b"new\n");
        assert_eq!(next(&mut follower, &mut buffer).1, b"three\n");
        assert_eq!(
            next(&mut follower, &mut buffer).0,
            Poll::Restarted(Restart::Rotated)
        );
        assert_eq!(next(&mut follower, &mut buffer).1, b"new\n");
        // Truncation in place: read again from the start.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        append(&path, b"x\n");
        assert_eq!(
            next(&mut follower, &mut buffer).0,
            Poll::Restarted(Restart::Truncated)
        );
        assert_eq!(next(&mut follower, &mut buffer).1, b"x\n");
        assert_eq!(follower.poll(&mut buffer).unwrap(), Poll::Idle);
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut follower = Follower::new(dir.path());
        let error = follower.poll(&mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
}
