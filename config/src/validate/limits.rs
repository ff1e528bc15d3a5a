//! Limits on sizes and list lengths. Mostly those of the Gateway API CRDs,
//! so a route valid here is valid in Kubernetes too, and no document can
//! make a router or controller spend unbounded memory or time.

/// Longest resource name (DNS-1123 label).
pub const NAME_MAX: usize = 63;
/// Longest hostname.
pub const HOSTNAME_MAX: usize = 253;
/// Longest header name.
pub const HEADER_NAME_MAX: usize = 256;
/// Longest header value (match or modifier).
pub const HEADER_VALUE_MAX: usize = 4096;
/// Longest path value or path replacement.
pub const PATH_MAX: usize = 1024;
/// Longest regular expression source.
pub const REGEX_SOURCE_MAX: usize = 1024;
/// Most memory one compiled regex may take (bytes), and the most its lazy
/// DFA cache may grow to. 1 MiB fits `.{1,255}` (about 260 KiB) with room;
/// repeated Unicode classes are far larger (`\w{1,64}` takes about 3 MiB)
/// and are refused with a hint to use ASCII classes (`(?-u:\w)`, `[a-z0-9_]`).
pub const REGEX_SIZE_MAX: usize = 1024 * 1024;

/// `spec.hostnames`.
pub const HOSTNAMES_MAX: usize = 16;
/// `spec.rules`.
pub const RULES_MAX: usize = 16;
/// `spec.rules[].matches`.
pub const MATCHES_MAX: usize = 64;
/// Matches summed over all rules of one route.
pub const MATCHES_PER_ROUTE_MAX: usize = 128;
/// `filters` of a rule or backendRef.
pub const FILTERS_MAX: usize = 16;
/// `spec.rules[].backendRefs`.
pub const BACKEND_REFS_MAX: usize = 16;
/// `headers` and `queryParams` of a match.
pub const HEADER_MATCHES_MAX: usize = 16;
/// `set`, `add` and `remove` of a header modifier, each.
pub const HEADER_MODIFIERS_MAX: usize = 16;
/// `retry.codes`.
pub const RETRY_CODES_MAX: usize = 16;
/// Endpoint labels.
pub const LABELS_MAX: usize = 64;

/// Largest backendRef weight.
pub const WEIGHT_MAX: i64 = 1_000_000;
/// Largest endpoint weight.
pub const ENDPOINT_WEIGHT_MAX: i64 = 10_000;
/// Most retries after the first attempt.
pub const RETRY_ATTEMPTS_MAX: i64 = 10;
/// Longest query parameter value to match (Gateway API).
pub const QUERY_VALUE_MAX: usize = 1024;
