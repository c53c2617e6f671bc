//! Where a manifest's bytes come from: a path or standard input, read up to the size limit, and
//! the name messages show for it.

use std::io::Read;

use crate::manifest::limits::MAX_MANIFEST_BYTES;
use crate::util::bytes::Bytes;

/// [`read_source`], or with `map`, a regular file mapped rather than read (`check` and
/// `--dry-run`: see [`Bytes`]); standard input and other files are read.
pub fn read_source_bytes(path: &str, map: bool) -> std::io::Result<Bytes> {
    if let Some(b) = map
        .then(|| path != "-")
        .filter(|&m| m)
        .and_then(|_| Bytes::map(std::path::Path::new(path)))
    {
        if b.len() as u64 <= MAX_MANIFEST_BYTES {
            return Ok(b);
        }
    }
    read_source(path).map(Bytes::Owned)
}

/// Reads the manifest's bytes from a path, or from standard input for `-`: at most
/// [`MAX_MANIFEST_BYTES`], else an error saying so.
pub fn read_source(path: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut buf)?;
    } else {
        let file = std::fs::File::open(path)?;
        // A regular file is read into a buffer of its size, not one grown by doubling.
        if let Ok(m) = file.metadata() {
            buf.reserve_exact(m.len().min(MAX_MANIFEST_BYTES) as usize + 1);
        }
        file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut buf)?;
    }
    if buf.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB (expected at most that; split it into several manifests)",
            MAX_MANIFEST_BYTES >> 20
        )));
    }
    Ok(buf)
}

/// The name shown in messages for a manifest path.
pub fn display_name(path: &str) -> String {
    if path == "-" {
        "<stdin>".to_string()
    } else {
        path.to_string()
    }
}
