//! Text from untrusted input (a checkpoint's vocabulary, a corpus, a pair file, a file name) on
//! the terminal: control characters are shown escaped, so no byte of a file can move the cursor,
//! recolour the screen or run a terminal's escape sequence.

/// `text` with every control character (C0, DEL, C1: ESC, CR, BEL, NUL, the 8-bit CSI, …)
/// written as `\e`-style escapes; `keep_newlines` leaves line breaks (and tabs) of multi-line
/// messages as they are.
pub fn escaped(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' if keep_newlines => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A warning on stderr (`warning: …`), its control characters escaped.
pub fn warn(text: &str) {
    eprintln!("warning: {}", escaped(text, true));
}

/// One token, word or name on one line: every control character escaped.
pub fn printable(text: &str) -> String {
    escaped(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\e[2Jb");
        assert_eq!(printable("x\ny\tz\r\u{7}\u{0}\u{9b}é"), "x\\ny\\tz\\r\\u{7}\\u{0}\\u{9b}é");
        assert_eq!(escaped("line one\nline\u{1b}two", true), "line one\nline\\etwo");
    }
}
