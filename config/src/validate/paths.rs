//! URL paths: the values of path matches and the replacement paths of
//! redirects and rewrites.
//!
//! `Exact` and `PathPrefix` values follow the Gateway API CRD rules to the
//! letter: absolute, at most 1024 characters, only characters valid in a URL
//! path (`%` only as a `%XX` escape), and none of `//`, `/./`, `/../`,
//! `%2f`, `%2F`, `#`, nor a trailing `/.` or `/..`. A prefix is stored
//! without its trailing `/` (except the root `/`): `/foo/` and `/foo` match
//! the same requests. `RegularExpression` values are any regex (as in the
//! Gateway API, they need not start with `/`), compiled anchored.

use super::limits::PATH_MAX;
use crate::model::{PathMatch, Pattern};
use crate::spec::PathMatchType;

/// The characters of a URL path besides letters, digits and `%XX` escapes
/// (RFC 3986 `pchar` and `/`).
const PATH_SYMBOLS: &str = "-/._~!$&'()*+,;=:@";

/// Checks the length, leading `/` and characters of a URL path.
fn check_url_path(s: &str) -> Result<(), String> {
    if s.len() > PATH_MAX {
        return Err(format!(
            "must be at most {PATH_MAX} bytes (has {})",
            s.len()
        ));
    }
    if !s.starts_with('/') {
        return Err("must be an absolute path starting with '/'".to_owned());
    }
    if s.contains('#') {
        return Err("must not contain '#'".to_owned());
    }
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        if c == '%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                return Err("must use '%' only in %XX escapes (two hex digits)".to_owned());
            }
        } else if !c.is_ascii_alphanumeric() && !PATH_SYMBOLS.contains(c) {
            return Err(format!(
                "must contain only letters, digits, %XX escapes and {PATH_SYMBOLS} (found {c:?})"
            ));
        }
    }
    Ok(())
}

/// Checks an `Exact` or `PathPrefix` match value (the Gateway API rules).
fn check_plain_path(s: &str) -> Result<(), String> {
    check_url_path(s)?;
    for bad in ["//", "/./", "/../", "%2f", "%2F"] {
        if s.contains(bad) {
            return Err(format!("must not contain '{bad}'"));
        }
    }
    for bad in ["/..", "/."] {
        if s.ends_with(bad) {
            return Err(format!("must not end with '{bad}'"));
        }
    }
    Ok(())
}

/// Validates a path match value of the given type into its typed form.
pub(super) fn path_match(kind: PathMatchType, value: &str) -> Result<PathMatch, String> {
    match kind {
        PathMatchType::Exact => {
            check_plain_path(value)?;
            Ok(PathMatch::Exact(value.to_owned()))
        }
        PathMatchType::PathPrefix => {
            check_plain_path(value)?;
            Ok(PathMatch::Prefix(strip_trailing_slash(value)))
        }
        PathMatchType::RegularExpression => {
            if value.is_empty() {
                return Err("must not be empty".to_owned());
            }
            Pattern::parse(value).map(PathMatch::Regex)
        }
    }
}

/// `/foo/` → `/foo`; `/` stays `/`.
fn strip_trailing_slash(s: &str) -> String {
    match s.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => s.to_owned(),
    }
}

/// Checks a `replaceFullPath` value: an absolute URL path of valid
/// characters (no `?` or `#`: a replacement changes the path only).
pub(super) fn full_path_replacement(s: &str) -> Result<String, String> {
    check_url_path(s)?;
    Ok(s.to_owned())
}

/// Checks a `replacePrefixMatch` value. As the Gateway API's table allows,
/// it may be empty, which means `/`; otherwise it is checked like a full
/// path. Stored without its trailing `/` (except `/`), as the Gateway API
/// ignores it.
pub(super) fn prefix_replacement(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Ok("/".to_owned());
    }
    check_url_path(s)?;
    Ok(strip_trailing_slash(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: &str, fragment: &str) {
        for kind in [PathMatchType::Exact, PathMatchType::PathPrefix] {
            match path_match(kind, value) {
                Ok(p) => panic!("{value:?} accepted as {p:?}, expected `{fragment}`"),
                Err(e) => assert!(e.contains(fragment), "{value:?}: `{e}` lacks `{fragment}`"),
            }
        }
    }

    #[test]
    fn plain_paths() {
        for ok in [
            "/",
            "/foo",
            "/foo/bar",
            "/a-b_c.d~e!$&'()*+,;=:@",
            "/%20x",
            "/.well-known",
            "/a.",
            "/..a",
        ] {
            assert!(path_match(PathMatchType::Exact, ok).is_ok(), "{ok}");
        }
        refused("", "starting with '/'");
        refused("foo", "starting with '/'");
        refused(&format!("/{}", "a".repeat(1024)), "at most 1024");
        refused("/a//b", "'//'");
        refused("/a/./b", "'/./'");
        refused("/a/../b", "'/../'");
        refused("/a%2fb", "'%2f'");
        refused("/a%2Fb", "'%2F'");
        refused("/a#b", "'#'");
        refused("/a/..", "end with '/..'");
        refused("/a/.", "end with '/.'");
        refused("/a b", "found ' '");
        refused("/a?b", "found '?'");
        refused("/é", "found 'é'");
        refused("/a%", "%XX");
        refused("/a%zz", "%XX");
        refused("/a%2", "%XX");
    }

    #[test]
    fn prefixes_lose_their_trailing_slash() {
        let p = |v| path_match(PathMatchType::PathPrefix, v);
        assert_eq!(p("/"), Ok(PathMatch::Prefix("/".into())));
        assert_eq!(p("/foo/"), Ok(PathMatch::Prefix("/foo".into())));
        assert_eq!(p("/foo"), Ok(PathMatch::Prefix("/foo".into())));
        assert_eq!(
            path_match(PathMatchType::Exact, "/foo/"),
            Ok(PathMatch::Exact("/foo/".into()))
        );
    }

    #[test]
    fn regex_paths() {
        let r = path_match(PathMatchType::RegularExpression, "/api/v[0-9]+/.*");
        assert!(
            matches!(&r, Ok(PathMatch::Regex(p)) if p.is_match("/api/v2/x") && !p.is_match("/x/api/v2/"))
        );
        assert!(path_match(PathMatchType::RegularExpression, ".*\\.png").is_ok());
        assert!(path_match(PathMatchType::RegularExpression, "").is_err());
        let e = path_match(PathMatchType::RegularExpression, "/a(").expect_err("refused");
        assert!(e.contains("unclosed group"), "{e}");
    }

    #[test]
    fn replacements() {
        assert_eq!(full_path_replacement("/x/y"), Ok("/x/y".into()));
        assert!(full_path_replacement("x").is_err());
        assert!(full_path_replacement("/x?y=1").is_err());
        assert!(full_path_replacement("/x\r\n").is_err());
        assert_eq!(prefix_replacement(""), Ok("/".into()));
        assert_eq!(prefix_replacement("/"), Ok("/".into()));
        assert_eq!(prefix_replacement("/xyz/"), Ok("/xyz".into()));
        assert!(prefix_replacement("xyz").is_err());
    }
}
