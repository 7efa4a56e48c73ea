//! Opening files of a data directory only when they are what they claim to be: a
//! regular file, reached without following a symbolic link, of a bounded size. A data
//! directory may hold anything (a FIFO named like a report would hang a reader, a
//! report-named link to `/dev/zero` would eat its memory, a sidecar linked elsewhere
//! would be appended through), so every file the store opens goes through here.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// `O_NOFOLLOW`: a symbolic link in the last component fails with `ELOOP` instead of
/// being followed. `O_NONBLOCK`: opening a FIFO returns at once instead of waiting for
/// its other end (it is then refused by its type). Neither changes a regular file.
const FLAGS: libc::c_int = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// Reads the regular file at `path` whole, refusing a symbolic link, anything that is
/// not a regular file, and a file over `cap_bytes` (without reading more than that).
pub(super) fn read(path: &Path, cap_bytes: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(explain)?;
    let len = check_regular(&file)?;
    if len > cap_bytes {
        return Err(too_large(len, cap_bytes));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow after the check: read no more than the cap either way.
    file.take(cap_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap_bytes {
        return Err(too_large(bytes.len() as u64, cap_bytes));
    }
    Ok(bytes)
}

/// Opens (creating it if missing, mode 0644) the regular file at `path` to append to
/// it, never through a symbolic link and never a FIFO or device. Returns the file and
/// its current length.
pub(super) fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(explain)?;
    let len = check_regular(&file)?;
    Ok((file, len))
}

/// Opens (creating it if missing, mode 0644) the regular file at `path` to read and
/// write it in place, never through a symbolic link and never a FIFO or device.
pub(super) fn open_read_write(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(explain)?;
    check_regular(&file)?;
    Ok(file)
}

/// The length of an open file that must be a regular file.
fn check_regular(file: &File) -> io::Result<u64> {
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(meta.len());
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}, not a regular file: not opened"),
    ))
}

/// `ELOOP` from `O_NOFOLLOW` says "too many levels of symbolic links"; say what it means.
fn explain(error: io::Error) -> io::Error {
    if error.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a symbolic link: not followed (store files must be regular files)",
        )
    } else if error.raw_os_error() == Some(libc::ENXIO) {
        // O_WRONLY | O_NONBLOCK on a FIFO that nobody reads.
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a FIFO, not a regular file: not opened",
        )
    } else {
        error
    }
}

fn too_large(len: u64, cap_bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{len} bytes or more, over the limit of {cap_bytes} bytes: not read"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn reads_a_regular_file_and_refuses_links_fifos_devices_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read(&file, 5).unwrap(), b"12345");
        let error = read(&file, 4).unwrap_err().to_string();
        assert!(error.contains("over the limit of 4 bytes"), "{error}");

        let link = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let error = read(&link, 1 << 30).unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        let error = read(Path::new("/dev/zero"), 1 << 30)
            .unwrap_err()
            .to_string();
        assert!(error.contains("a device"), "{error}");

        let fifo = dir.path().join("fifo.json");
        mkfifo(&fifo);
        let error = read(&fifo, 1 << 30).unwrap_err().to_string();
        assert!(error.contains("a FIFO"), "{error}");
        let error = open_append(&fifo).unwrap_err().to_string();
        assert!(error.contains("a FIFO"), "{error}");
    }

    #[test]
    fn appends_only_to_a_regular_file_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join(".benchboard-index");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = open_append(&link).unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");

        let path = dir.path().join("new");
        let (mut file, len) = open_append(&path).unwrap();
        assert_eq!(len, 0);
        std::io::Write::write_all(&mut file, b"x").unwrap();
        assert_eq!(open_append(&path).unwrap().1, 1);
    }
}
