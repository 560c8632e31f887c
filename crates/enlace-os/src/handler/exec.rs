//! The `Exec=` value of a Desktop Entry: quoting (only when needed) and parsing back.
//!
//! Two layers of escaping apply, in this order when reading (Desktop Entry Specification 1.5,
//! "The Exec key"):
//! 1. the general rule for string values: `\s` `\n` `\t` `\r` `\\`;
//! 2. the quoting rule for arguments: an argument containing a reserved character is enclosed in
//!    double quotes, and inside quotes `"` `` ` `` `$` `\` are escaped with a backslash.
//!
//! A literal `%` is written `%%` (field codes such as `%u` start with `%`).
//!
//! We quote only when needed because the generic backend of Debian's `xdg-open` (xdg-utils
//! 1.1.3) splits `Exec` on white space and cannot start a quoted program path.

use std::path::Path;

/// Characters that force an `Exec` argument to be quoted.
const RESERVED: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

/// Why an `Exec` value cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The program path is relative.
    #[error("the program path is not absolute: {0}")]
    NotAbsolute(String),
    /// The program path is not valid UTF-8.
    #[error("the program path is not valid UTF-8")]
    NotUtf8,
    /// The program path contains a control character (e.g. a newline).
    #[error("the program path contains a control character")]
    ControlCharacter,
    /// A double quote is never closed.
    #[error("unterminated quoted argument in Exec")]
    UnterminatedQuote,
    /// The value ends with a lone backslash.
    #[error("Exec ends with a lone backslash")]
    TrailingBackslash,
    /// A backslash escape that neither rule allows.
    #[error("invalid escape sequence in Exec: \\{0}")]
    InvalidEscape(char),
}

/// The `Exec=` value that starts `exe` with one URL: `<exe> %u`, the path quoted only when it
/// contains a reserved character.
pub fn exec_value(exe: &Path) -> Result<String, ExecError> {
    let text = exe.to_str().ok_or(ExecError::NotUtf8)?;
    if !exe.is_absolute() {
        return Err(ExecError::NotAbsolute(text.to_owned()));
    }
    if text.chars().any(char::is_control) {
        return Err(ExecError::ControlCharacter);
    }
    Ok(format!("{} %u", escape_string(&quote_arg(text))))
}

/// Quotes one argument for the `Exec` key (quoting layer only), when it needs it.
fn quote_arg(arg: &str) -> String {
    let percent_escaped = arg.replace('%', "%%");
    if !arg.contains(RESERVED) {
        return percent_escaped;
    }
    let mut out = String::with_capacity(percent_escaped.len() + 2);
    out.push('"');
    for c in percent_escaped.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The general escape rule for string values (only what a program path can contain: control
/// characters are rejected before).
fn escape_string(value: &str) -> String {
    value.replace('\\', "\\\\")
}

/// Undoes the general escape rule for string values.
fn unescape_string(value: &str) -> Result<String, ExecError> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            // Left for the quoting layer (e.g. `\"` or `\$` inside quotes).
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => return Err(ExecError::TrailingBackslash),
        }
    }
    Ok(out)
}

/// Splits an `Exec=` value back into arguments: string escapes and quoting undone, `%%` turned
/// into `%`; field codes (`%u`, `%U`, `%f`, …) are returned as they are.
pub fn parse_exec(value: &str) -> Result<Vec<String>, ExecError> {
    let text = unescape_string(value)?;
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(ExecError::UnterminatedQuote),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '`' | '$' | '\\')) => arg.push(c),
                        Some(c) => return Err(ExecError::InvalidEscape(c)),
                        None => return Err(ExecError::UnterminatedQuote),
                    },
                    Some(c) => arg.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                arg.push(c);
            }
        }
        args.push(unescape_percent(&arg));
    }
    Ok(args)
}

/// `%%` → `%`; a field code (a whole argument like `%u`) stays as it is.
fn unescape_percent(arg: &str) -> String {
    if arg.len() == 2 && arg.starts_with('%') && arg != "%%" {
        return arg.to_owned();
    }
    arg.replace("%%", "%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn plain_path_is_not_quoted() {
        let v = exec_value(Path::new("/opt/enlace/enlace")).unwrap();
        assert_eq!(v, "/opt/enlace/enlace %u");
    }

    #[test]
    fn reserved_characters_force_quotes_and_escapes() {
        let table = [
            ("/opt/my apps/enlace", r#""/opt/my apps/enlace" %u"#),
            ("/opt/a$b/enlace", r#""/opt/a\\$b/enlace" %u"#),
            ("/opt/a\"b/enlace", r#""/opt/a\\"b/enlace" %u"#),
            ("/opt/a\\b/enlace", r#""/opt/a\\\\b/enlace" %u"#),
            ("/opt/a`b (x)/enlace", r#""/opt/a\\`b (x)/enlace" %u"#),
            ("/opt/100%/enlace", "/opt/100%%/enlace %u"),
            ("/opt/100% sure/enlace", r#""/opt/100%% sure/enlace" %u"#),
            ("/home/ana/~bin/enlace", r#""/home/ana/~bin/enlace" %u"#),
        ];
        for (path, expected) in table {
            assert_eq!(exec_value(Path::new(path)).unwrap(), expected, "{path}");
        }
    }

    #[test]
    fn every_value_parses_back_to_the_path_and_the_url_code() {
        let paths = [
            "/opt/enlace/enlace",
            "/opt/my apps/enlace",
            "/opt/a$b/c\"d/e\\f/g`h/i'j/k;l&m|n<o>p*q?r#s(t)u~v/enlace",
            "/opt/100% sure/enlace",
            "/opt/100%/enlace",
            "/opt/ñandú/enlace",
        ];
        for path in paths {
            let value = exec_value(Path::new(path)).unwrap();
            assert_eq!(
                parse_exec(&value).unwrap(),
                vec![path.to_owned(), "%u".to_owned()]
            );
        }
    }

    #[test]
    fn bad_paths_are_rejected() {
        assert_eq!(
            exec_value(Path::new("enlace")),
            Err(ExecError::NotAbsolute("enlace".into()))
        );
        assert_eq!(
            exec_value(&PathBuf::from("/opt/a\nb")),
            Err(ExecError::ControlCharacter)
        );
    }

    #[test]
    fn parse_reads_values_written_by_others() {
        // What tauri-plugin-deep-link writes.
        assert_eq!(
            parse_exec(r#""/work/target/debug/demoapp" %u"#).unwrap(),
            vec!["/work/target/debug/demoapp", "%u"]
        );
        assert_eq!(
            parse_exec(r"/usr/bin/app\s--flag  %U").unwrap(),
            vec!["/usr/bin/app", "--flag", "%U"]
        );
        assert_eq!(parse_exec(r#""/a b"#), Err(ExecError::UnterminatedQuote));
        assert_eq!(
            parse_exec(r#""/a\\xb""#),
            Err(ExecError::InvalidEscape('x'))
        );
        assert_eq!(parse_exec("").unwrap(), Vec::<String>::new());
    }
}
