//! Copying a capture file to the terminal, whole (`--output group`) or with every line
//! prefixed `[id] ` (`--output tag`).

use std::io::{BufRead, BufReader, Read, Write};

use crate::capture::Captured;

/// Copies a job's output file to `to`, prefixing each line with `tag` if given.
pub(crate) fn copy_file(
    from: &Captured,
    tag: Option<&str>,
    to: &mut dyn Write,
) -> std::io::Result<()> {
    let Some(mut file) = from.open() else {
        return Ok(());
    };
    match tag {
        None => {
            std::io::copy(&mut file, to)?;
        }
        Some(tag) => copy_tagged(&mut BufReader::with_capacity(TAG_CHUNK, file), tag, to)?,
    }
    Ok(())
}

/// The longest piece of a line `--output tag` holds: a longer line is cut into pieces of this
/// size, each on its own tagged line, so memory stays bounded whatever a job prints.
const TAG_CHUNK: usize = 64 * 1024;

/// Copies `from` to `to`, each line prefixed with `tag`; lines longer than [`TAG_CHUNK`] are
/// split, and a last line without a newline gets one.
fn copy_tagged<R: Read>(
    from: &mut BufReader<R>,
    tag: &str,
    to: &mut dyn Write,
) -> std::io::Result<()> {
    // Bytes of the current line written so far.
    let mut in_line = 0;
    loop {
        let buf = from.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let piece = &buf[..buf.len().min(TAG_CHUNK - in_line)];
        let (n, ends) = match piece.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (piece.len(), false),
        };
        if in_line == 0 {
            to.write_all(tag.as_bytes())?;
        }
        to.write_all(&piece[..n])?;
        from.consume(n);
        in_line = if ends { 0 } else { in_line + n };
        if in_line == TAG_CHUNK {
            to.write_all(b"\n")?;
            in_line = 0;
        }
    }
    if in_line > 0 {
        to.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        copy_tagged(&mut BufReader::with_capacity(16, input), "[a] ", &mut out).unwrap();
        out
    }

    #[test]
    fn tags_every_line() {
        assert_eq!(tagged(b""), b"");
        assert_eq!(tagged(b"x\ny\n"), b"[a] x\n[a] y\n");
        assert_eq!(tagged(b"x\n\ny"), b"[a] x\n[a] \n[a] y\n");
    }

    #[test]
    fn splits_long_lines() {
        let mut input = vec![b'x'; 2 * TAG_CHUNK + 3];
        input.extend_from_slice(b"\nend\n");
        let out = tagged(&input);
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 5, "3 pieces, 'end', and the empty tail");
        assert_eq!(lines[0].len(), 4 + TAG_CHUNK);
        assert_eq!(lines[1].len(), 4 + TAG_CHUNK);
        assert_eq!(lines[2], b"[a] xxx");
        assert_eq!(lines[3], b"[a] end");
        let exact = tagged(&vec![b'y'; TAG_CHUNK]);
        assert_eq!(
            exact.len(),
            4 + TAG_CHUNK + 1,
            "no empty tagged line after a full piece"
        );
    }
}
