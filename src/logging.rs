//! Log lines on stderr, for the binaries, and [`clean`]: what a client sent, made safe
//! for a log line.

use std::fmt::Write as _;

/// Logs at `level` and above to stderr, one line each with a timestamp.
pub fn init(level: log::LevelFilter) {
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .format_target(false)
        .try_init();
}

/// Most characters of one client-supplied value (a path, a header value) in a log line.
pub const MAX_LOGGED_CHARS: usize = 200;

/// A client-supplied value (a path, a header value, an error quoting one) as it may
/// appear in a log line: control characters escaped (`\x1b`, `\n`, `\u{202e}`), so
/// that nothing a client sends can move an operator's cursor, clear the screen or
/// forge a log line, and cut after [`MAX_LOGGED_CHARS`] characters with a note of how
/// much was left out.
pub fn clean(text: &str) -> String {
    escape(text, MAX_LOGGED_CHARS)
}

/// [`clean`] with another length limit, in characters of the escaped text.
pub fn escape(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_add(32)));
    let mut shown = 0;
    for (at, c) in text.char_indices() {
        let before = out.len();
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe_in_a_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        shown += out[before..].chars().count();
        if shown >= max_chars && at + c.len_utf8() < text.len() {
            let left = text.len() - at - c.len_utf8();
            let _ = write!(out, "…(+{left} bytes)");
            break;
        }
    }
    out
}

/// Writes `line` on stderr as one line, escaped as [`escape`] does but uncut: for the
/// warnings of the command-line tools, which name files of a data directory (whose
/// names anyone with write access chose) and quote what a server sent.
pub fn eprint_line(line: &str) {
    eprintln!("{}", escape(line, usize::MAX));
}

/// C1 controls (a terminal takes U+009B as CSI), bidirectional overrides and line
/// separators: they reorder or split what an operator reads.
fn is_unsafe_in_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_terminal_tricks() {
        assert_eq!(
            clean("/api/\u{1b}[2J\nGET / 200"),
            "/api/\\x1b[2J\\nGET / 200"
        );
        assert_eq!(clean("a\u{9b}b\u{202e}c\\"), "a\\u{9b}b\\u{202e}c\\\\");
        assert_eq!(clean("第一小组 ok"), "第一小组 ok");
    }

    #[test]
    fn cuts_long_values_and_says_how_much_is_left() {
        let long = "a".repeat(256 * 1024);
        let logged = clean(&long);
        assert!(logged.starts_with(&"a".repeat(MAX_LOGGED_CHARS)));
        assert!(logged.ends_with(&format!("…(+{} bytes)", 256 * 1024 - MAX_LOGGED_CHARS)));
        assert!(logged.len() < MAX_LOGGED_CHARS + 32);
        assert_eq!(
            clean(&"b".repeat(MAX_LOGGED_CHARS)),
            "b".repeat(MAX_LOGGED_CHARS)
        );
        let escaped = clean(&"\u{1b}".repeat(1000));
        assert!(escaped.chars().count() < MAX_LOGGED_CHARS + 32, "{escaped}");
    }

    #[test]
    fn escapes_without_a_limit() {
        // The store's start-up warnings are escaped uncut (they once overflowed here).
        let long = format!("{}\u{1b}", "c".repeat(1000));
        assert_eq!(
            escape(&long, usize::MAX),
            format!("{}\\x1b", "c".repeat(1000))
        );
    }
}
