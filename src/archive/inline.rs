//! JSON inlined in an HTML page: `<script type="application/json">` ends at the
//! first `</script` and a `<!--` inside it changes how the HTML parser reads what
//! follows, whatever the JSON means. So every `<`, `>` and `&` is written as its
//! `\u` escape (valid JSON with the same value: outside strings JSON has none of
//! them), and a team called `</script><script>alert(1)</script>` stays text.

use std::io::{self, Write};

/// The opening tag of an archive page's data element (archive.js reads it).
pub const DATA_OPEN: &str = r#"<script type="application/json" id="benchboard-archive">"#;
/// Its closing tag.
pub const DATA_CLOSE: &str = "</script>";

/// A writer that passes JSON through with `<`, `>` and `&` escaped.
pub struct ScriptSafe<W: Write>(pub W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, byte) in buf.iter().enumerate() {
            let escape: &[u8] = match byte {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                _ => continue,
            };
            self.0.write_all(&buf[start..i])?;
            self.0.write_all(escape)?;
            start = i + 1;
        }
        self.0.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Writes `value` as JSON safe inside a `<script>` element.
pub fn write_json(w: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(ScriptSafe(w), value).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_string_stays_inside_the_element() {
        let name = "</script><script>alert(1)</script><!-- & -->";
        let mut out = Vec::new();
        write_json(&mut out, &serde_json::json!({ "team_name": name })).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('<') && !text.contains('>') && !text.contains('&'),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["team_name"], name);
    }
}
