//! User regular expressions (path, header and query matches): compiled with
//! the `regex` crate (RE2-like syntax, linear-time matching), anchored so
//! that the *whole* input must match, within the size limits of
//! [`limits`](super::limits).

use super::limits::{REGEX_SIZE_MAX, REGEX_SOURCE_MAX};
use regex::{Regex, RegexBuilder};

fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_MAX)
        .dfa_size_limit(REGEX_SIZE_MAX)
        .build()
}

/// The `regex` crate's reason on one line: its syntax errors span several
/// lines (the pattern, a caret, then `error: <reason>`); keep the reason.
fn one_line(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => {
            format!(
                "is too large: compiled, it exceeds the limit of {limit} bytes \
                 (repeated Unicode classes such as \\w or . are large: try ASCII \
                 classes such as (?-u:\\w) or [a-z0-9_], or fewer repetitions)"
            )
        }
        other => {
            let text = other.to_string();
            let reason = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error:"))
                .map(str::trim)
                .filter(|r| !r.is_empty());
            match reason {
                Some(r) => format!("is not a valid regular expression: {r}"),
                None => format!(
                    "is not a valid regular expression: {}",
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            }
        }
    }
}

/// Compiles a user regex anchored at both ends (`^(?:source)$`) within the
/// limits of [`limits`](super::limits).
///
/// The source is first compiled alone, so that a source such as `a)|(b`,
/// which would escape the anchoring group, is refused rather than turned
/// into an unanchored alternation; errors then point into the source as the
/// user wrote it.
pub fn compile_regex(source: &str) -> Result<Regex, String> {
    if source.len() > REGEX_SOURCE_MAX {
        return Err(format!(
            "must be at most {REGEX_SOURCE_MAX} bytes (has {})",
            source.len()
        ));
    }
    build(source).map_err(|e| one_line(&e))?;
    build(&format!("^(?:{source})$")).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => one_line(&e),
        // Valid alone but not inside `(?:...)`: an `(?x)` comment that runs
        // to the end of the source and swallows the closing `)`.
        _ => format!(
            "cannot be anchored as ^(?:...)$ ({}); end a (?x) comment with a newline",
            one_line(&e)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_whole_match() {
        let r = compile_regex("ab|cd").expect("accepted");
        assert!(r.is_match("ab") && r.is_match("cd"));
        assert!(!r.is_match("abx") && !r.is_match("xcd"));
        assert!(compile_regex("(?x) a b # spaced\n")
            .expect("accepted")
            .is_match("ab"));
    }

    #[test]
    fn refuses_group_escapes() {
        let e = compile_regex("a)|(b").expect_err("refused");
        assert!(e.starts_with("is not a valid regular expression: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn reasons_on_one_line() {
        let e = compile_regex("a(b").expect_err("refused");
        assert_eq!(e, "is not a valid regular expression: unclosed group");
        let e = compile_regex("a{2,1}").expect_err("refused");
        assert!(!e.contains('\n') && e.contains("invalid repetition"), "{e}");
        let e = compile_regex("(?x)a # trailing comment").expect_err("refused");
        assert!(e.starts_with("cannot be anchored"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn realistic_patterns_fit_the_limits() {
        for ok in [
            r"\w+",
            r".*",
            r"/api/v[0-9]+/orders/[^/]+",
            r"[a-zA-Z0-9._-]{1,64}",
            r"(?-u:\w){1,64}",
            r"/files/[^/]{1,255}",
            r".{1,255}",
            r"(?i)bearer [a-z0-9._~+/-]+=*",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            r"/users/\d+(/orders/\d+)?",
            r"\p{L}+",
        ] {
            if let Err(e) = compile_regex(ok) {
                panic!("{ok}: {e}");
            }
        }
    }

    #[test]
    fn limits() {
        let e = compile_regex(&"a".repeat(REGEX_SOURCE_MAX + 1)).expect_err("refused");
        assert!(e.contains("at most 1024 bytes"), "{e}");
        let e = compile_regex("[\\w.-]{1,64}").expect_err("refused");
        assert!(e.contains("too large") && e.contains("(?-u:\\w)"), "{e}");
    }
}
