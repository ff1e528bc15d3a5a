//! Names and tokens: resource names (DNS-1123 labels), hostnames (RFC 1123,
//! as the Gateway API restricts them), HTTP header names (RFC 9110 tokens)
//! and values, query parameter names and values, and Kubernetes-style label
//! keys and values (endpoint labels and zones).
//!
//! Each check returns the reason a string is refused, short and without the
//! field path (the caller knows the path).

use super::limits::{HEADER_NAME_MAX, HOSTNAME_MAX, NAME_MAX};
use std::net::IpAddr;

/// Longest label of a hostname or DNS subdomain (RFC 1123).
const DNS_LABEL_MAX: usize = 63;
/// Longest Kubernetes label name (the part after the prefix) and value.
const K8S_LABEL_MAX: usize = 63;
/// The characters of an RFC 9110 token besides letters and digits.
const TOKEN_SYMBOLS: &str = "!#$%&'*+-.^_`|~";

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Checks a DNS-1123 label (the rule for every resource name): 1..=63 of
/// `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn check_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > NAME_MAX {
        return Err(format!(
            "must be at most {NAME_MAX} characters (has {})",
            s.chars().count()
        ));
    }
    if let Some(c) = s.chars().find(|&c| !is_lower_alnum(c) && c != '-') {
        return Err(format!(
            "must contain only lower-case letters, digits and '-' (found {c:?})"
        ));
    }
    if !s.starts_with(is_lower_alnum) || !s.ends_with(is_lower_alnum) {
        return Err("must start and end with a lower-case letter or digit".to_owned());
    }
    Ok(())
}

/// Checks the dot-separated labels of a DNS-1123 subdomain (`a.b-c.d`):
/// lower-case letters, digits and `-`, each label 1..=63 and starting and
/// ending with a letter or digit. Lengths of the whole are the caller's.
fn check_subdomain_labels(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must be lower-case".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !is_lower_alnum(c) && c != '-' && c != '.')
    {
        return Err(format!(
            "must contain only lower-case letters, digits, '-' and '.' (found {c:?})"
        ));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(
                "must not have an empty label (leading, trailing or double '.')".to_owned(),
            );
        }
        if label.len() > DNS_LABEL_MAX {
            return Err(format!(
                "each label must be at most {DNS_LABEL_MAX} characters (`{label}` has {})",
                label.len()
            ));
        }
        if !label.starts_with(is_lower_alnum) || !label.ends_with(is_lower_alnum) {
            return Err(format!(
                "each label must start and end with a letter or digit (`{label}` does not)"
            ));
        }
    }
    Ok(())
}

/// Checks a hostname (RFC 1123 subdomain, lower-case, at most 253
/// characters); with `allow_wildcard`, a leading `*.` label is allowed.
///
/// As the Gateway API requires, IP addresses are refused; so is a name whose
/// last label is all digits, which URL parsers read as an IPv4 address
/// (`10.1`, `foo.123`).
pub fn check_hostname(s: &str, allow_wildcard: bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > HOSTNAME_MAX {
        return Err(format!(
            "must be at most {HOSTNAME_MAX} characters (has {})",
            s.chars().count()
        ));
    }
    if s.parse::<IpAddr>().is_ok() || s.starts_with('[') {
        return Err("must be a host name, not an IP address".to_owned());
    }
    if s.contains(':') {
        return Err("must not contain ':' (no port: the Host header's port is ignored)".to_owned());
    }
    let rest = match s.strip_prefix("*.") {
        Some(_) if !allow_wildcard => {
            return Err("must be a precise host name, not a wildcard".to_owned());
        }
        Some(rest) => rest,
        None => s,
    };
    if rest.contains('*') {
        return Err(if allow_wildcard {
            "a wildcard must be the whole first label, as in `*.example.com`".to_owned()
        } else {
            "must be a precise host name, not a wildcard".to_owned()
        });
    }
    check_subdomain_labels(rest)?;
    if rest
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(
            "must not end in an all-digit label (it would read as an IP address)".to_owned(),
        );
    }
    Ok(())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || TOKEN_SYMBOLS.contains(c)
}

/// Checks an RFC 9110 token of at most `max` characters.
fn check_token(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > max {
        return Err(format!(
            "must be at most {max} characters (has {})",
            s.chars().count()
        ));
    }
    if s.starts_with(':') {
        return Err("must not be an HTTP/2 pseudo-header (found ':')".to_owned());
    }
    if let Some(c) = s.chars().find(|&c| !is_token_char(c)) {
        return Err(format!(
            "must contain only letters, digits and {TOKEN_SYMBOLS} (found {c:?})"
        ));
    }
    Ok(())
}

/// Checks an HTTP header name (RFC 9110 token, at most 256 characters).
pub fn check_header_name(s: &str) -> Result<(), String> {
    check_token(s, HEADER_NAME_MAX)
}

/// Checks a query parameter name: like the Gateway API, which types it as a
/// header name, an RFC 9110 token of at most 256 characters.
pub(crate) fn check_query_name(s: &str) -> Result<(), String> {
    check_token(s, HEADER_NAME_MAX)
}

/// Checks a header (or query parameter) value to match or to write: 1..=`max`
/// characters and no control characters but tab (CR, LF and NUL would split
/// or truncate the header; the others are refused by HTTP libraries).
pub(crate) fn check_header_value(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > max {
        return Err(format!("must be at most {max} bytes (has {})", s.len()));
    }
    if s.contains(['\r', '\n', '\0']) {
        return Err("must not contain CR, LF or NUL".to_owned());
    }
    if let Some(c) = s.chars().find(|&c| c.is_ascii_control() && c != '\t') {
        return Err(format!("must not contain control characters (found {c:?})"));
    }
    Ok(())
}

fn is_k8s_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The Kubernetes "qualified name" part: 1..=63 of letters, digits, `-`,
/// `_`, `.`, starting and ending with a letter or digit.
fn check_k8s_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.len() > K8S_LABEL_MAX {
        return Err(format!(
            "must be at most {K8S_LABEL_MAX} characters (has {})",
            s.chars().count()
        ));
    }
    if let Some(c) = s.chars().find(|&c| !is_k8s_label_char(c)) {
        return Err(format!(
            "must contain only letters, digits, '-', '_' and '.' (found {c:?})"
        ));
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    if !s.starts_with(alnum) || !s.ends_with(alnum) {
        return Err("must start and end with a letter or digit".to_owned());
    }
    Ok(())
}

/// Checks a Kubernetes label key: an optional DNS-subdomain prefix and `/`,
/// then a name (`version`, `app.kubernetes.io/name`).
pub(crate) fn check_label_key(s: &str) -> Result<(), String> {
    let name = match s.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                return Err("key prefix (before '/') must not be empty".to_owned());
            }
            if prefix.len() > HOSTNAME_MAX {
                return Err(format!(
                    "key prefix (before '/') must be at most {HOSTNAME_MAX} characters"
                ));
            }
            check_subdomain_labels(prefix).map_err(|e| format!("key prefix (before '/') {e}"))?;
            name
        }
        None => s,
    };
    check_k8s_name(name).map_err(|e| format!("key name {e}"))
}

/// Checks a Kubernetes label value: empty, or a name as in a key.
pub(crate) fn check_label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    check_k8s_name(s).map_err(|e| format!("value {e}"))
}

/// Checks a zone (a failure domain): a non-empty Kubernetes label value, as
/// `topology.kubernetes.io/zone` values are (`us-east-1a`, `eu_west.3`).
pub(crate) fn check_zone(s: &str) -> Result<(), String> {
    check_k8s_name(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(r: Result<(), String>, fragment: &str) {
        match r {
            Ok(()) => panic!("accepted, expected `{fragment}`"),
            Err(e) => assert!(e.contains(fragment), "`{e}` lacks `{fragment}`"),
        }
    }

    #[test]
    fn labels() {
        for ok in ["a", "orders", "orders-v2", "0", "a1-b2", &"a".repeat(63)] {
            assert_eq!(check_label(ok), Ok(()), "{ok}");
        }
        refused(check_label(""), "must not be empty");
        refused(
            check_label(&"a".repeat(64)),
            "at most 63 characters (has 64)",
        );
        refused(check_label("Orders"), "found 'O'");
        refused(check_label("a_b"), "found '_'");
        refused(check_label("a.b"), "found '.'");
        refused(check_label("-a"), "start and end");
        refused(check_label("a-"), "start and end");
        refused(check_label("é"), "found 'é'");
    }

    #[test]
    fn hostnames() {
        for ok in [
            "orders",
            "orders.example.com",
            "a-b.c",
            "x1.y2",
            "api.v2.example.io",
        ] {
            assert_eq!(check_hostname(ok, false), Ok(()), "{ok}");
        }
        assert_eq!(check_hostname("*.example.com", true), Ok(()));
        assert_eq!(check_hostname("*.com", true), Ok(()));
        refused(check_hostname("*.example.com", false), "not a wildcard");
        refused(check_hostname("*", true), "whole first label");
        refused(check_hostname("a.*.com", true), "whole first label");
        refused(check_hostname("*a.com", true), "whole first label");
        refused(check_hostname("", true), "must not be empty");
        refused(check_hostname("Orders.example.com", true), "lower-case");
        refused(check_hostname("a_b.com", true), "found '_'");
        refused(check_hostname("a..com", true), "empty label");
        refused(check_hostname("example.com.", true), "empty label");
        refused(check_hostname(".example.com", true), "empty label");
        refused(check_hostname("-a.com", true), "start and end");
        refused(
            check_hostname(&format!("{}.com", "a".repeat(64)), true),
            "at most 63",
        );
        refused(check_hostname(&"a.".repeat(127), true), "at most 253");
        refused(check_hostname("10.0.0.1", true), "not an IP address");
        refused(check_hostname("::1", true), "not an IP address");
        refused(check_hostname("[::1]", true), "not an IP address");
        refused(check_hostname("10.1", true), "all-digit label");
        refused(check_hostname("*.1.2", true), "all-digit label");
        refused(check_hostname("example.com:80", true), "':'");
    }

    #[test]
    fn header_names() {
        for ok in ["x-canary", "X-Canary", "content-type", "a!#$%&'*+-.^_`|~9"] {
            assert_eq!(check_header_name(ok), Ok(()), "{ok}");
        }
        refused(check_header_name(""), "must not be empty");
        refused(check_header_name(&"a".repeat(257)), "at most 256");
        refused(check_header_name("x canary"), "found ' '");
        refused(check_header_name("x:y"), "found ':'");
        refused(check_header_name(":authority"), "pseudo-header");
        refused(check_header_name("a/b"), "found '/'");
        refused(check_header_name("ä"), "found 'ä'");
    }

    #[test]
    fn header_values() {
        assert_eq!(check_header_value("v1, v2\tx", 10), Ok(()));
        assert_eq!(check_header_value("é", 10), Ok(()));
        refused(check_header_value("", 10), "must not be empty");
        refused(check_header_value("12345678901", 10), "at most 10 bytes");
        refused(check_header_value("a\r\nx: y", 10), "CR, LF or NUL");
        refused(check_header_value("a\0", 10), "CR, LF or NUL");
        refused(check_header_value("a\u{7}", 10), "control characters");
    }

    #[test]
    fn label_keys_and_values() {
        for ok in ["version", "app.kubernetes.io/name", "a_b.C-d", "x/Y"] {
            assert_eq!(check_label_key(ok), Ok(()), "{ok}");
        }
        refused(check_label_key(""), "key name must not be empty");
        refused(
            check_label_key("/a"),
            "prefix (before '/') must not be empty",
        );
        refused(check_label_key("a/"), "key name must not be empty");
        refused(
            check_label_key("Ex.com/a"),
            "prefix (before '/') must be lower-case",
        );
        refused(check_label_key("a/b/c"), "key name must contain only");
        refused(check_label_key("_a"), "key name must start and end");
        refused(
            check_label_key(&"a".repeat(64)),
            "key name must be at most 63",
        );
        for ok in ["", "v1", "1.2.3", "a_b-C"] {
            assert_eq!(check_label_value(ok), Ok(()), "{ok}");
        }
        refused(check_label_value("a b"), "value must contain only");
        refused(check_label_value("-a"), "value must start and end");
        refused(
            check_label_value(&"a".repeat(64)),
            "value must be at most 63",
        );
        assert_eq!(check_zone("us-east-1a"), Ok(()));
        refused(check_zone(""), "must not be empty");
    }
}
