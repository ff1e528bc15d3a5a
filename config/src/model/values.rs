//! Small validated value types: names, hostnames, header names, patterns.
//! Each can only be built through a checking constructor.

use regex::Regex;
use std::fmt;

/// A DNS-1123 label: 1..=63 of `a-z`, `0-9`, `-`, starting and ending with
/// a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Builds a name after checking it; the error is the reason it is not one.
    pub fn parse(s: &str) -> Result<Name, String> {
        crate::validate::check_label(s).map(|()| Name(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A route hostname: exact (`orders.example.com`) or wildcard
/// (`*.example.com`, which matches one or more labels before `.example.com`
/// but not `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hostname {
    Exact(String),
    /// The suffix after `*`, with its leading dot: `.example.com`.
    Wildcard(String),
}

impl Hostname {
    pub fn parse(s: &str) -> Result<Hostname, String> {
        crate::validate::check_hostname(s, true)?;
        Ok(match s.strip_prefix('*') {
            Some(suffix) => Hostname::Wildcard(suffix.to_owned()),
            None => Hostname::Exact(s.to_owned()),
        })
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hostname::Exact(h) => f.write_str(h),
            Hostname::Wildcard(s) => write!(f, "*{s}"),
        }
    }
}

/// An HTTP header name (an RFC 9110 token), stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn parse(s: &str) -> Result<HeaderName, String> {
        crate::validate::check_header_name(s).map(|()| HeaderName(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A compiled regular expression that must match the *whole* input, with
/// the source as the user wrote it. Equal when the sources are equal.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source`, anchored at both ends, within the size limits of
    /// [`crate::validate::limits`].
    pub fn parse(source: &str) -> Result<Pattern, String> {
        let regex = crate::validate::compile_regex(source)?;
        Ok(Pattern {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the whole of `input` matches.
    pub fn is_match(&self, input: &str) -> bool {
        self.regex.is_match(input)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}
