//! The bounds on untrusted input, in one place (the README's "Security" section lists them).
//!
//! Specs, imports, history, incidents and state files come from other people (a ConfigMap
//! edit reaches the daemon on SIGHUP), so no input may crash the process, stall it or make
//! it allocate without bound: every parser checks its input against these numbers and says
//! which one was exceeded, with `file:line:column` where the input has lines. Each bound is
//! far above what a real spec or history needs and far below what would hurt.

/// Nesting of YAML collections. Specs nest about six levels deep, Kubernetes-wrapped
/// imports about ten; a tree this shallow is walked, cloned and dropped recursively without
/// any risk to the stack.
pub(crate) const MAX_YAML_DEPTH: usize = 64;

/// Bytes that YAML aliases may add to one file's tree (each alias is a copy of its anchor's
/// node, about 50 bytes per node): [`ALIAS_BYTES_PER_BYTE`] times the file's size, at least
/// [`MIN_ALIAS_BYTES`], at most [`MAX_ALIAS_BYTES`]. A file of SLOs that each reuse an
/// anchored matrix needs about 10 per byte; "billion laughs" needs millions. Tied to the
/// file's size, so what is built from a file (and every diagnostic about it) stays within
/// a constant factor of the file.
pub(crate) const ALIAS_BYTES_PER_BYTE: usize = 64;
pub(crate) const MIN_ALIAS_BYTES: usize = 1 << 20;
pub(crate) const MAX_ALIAS_BYTES: usize = 64 << 20;

/// The alias budget of a YAML text of `len` bytes (see [`ALIAS_BYTES_PER_BYTE`]).
pub(crate) fn alias_budget(len: usize) -> usize {
    len.saturating_mul(ALIAS_BYTES_PER_BYTE)
        .clamp(MIN_ALIAS_BYTES, MAX_ALIAS_BYTES)
}

/// Nesting of one PromQL query: brackets, and operators chained (`a + b + c` is three
/// levels). SLI queries use a handful; the evaluator and the subset check recurse over it.
pub(crate) const MAX_QUERY_DEPTH: usize = 64;

/// Operators in one PromQL query: the parser crate takes time quadratic in them.
pub(crate) const MAX_QUERY_OPERATORS: usize = 1_000;

/// Size of one compiled regular expression (the `regex` crate's `size_limit`): a list of
/// 2,000 label values fits, `\w{200}` (a 10 MB automaton, 70 ms to build) does not.
pub(crate) const MAX_REGEX_BYTES: usize = 1 << 20;

/// Steps of one replay: a year at 1m is 525,600. Each step of an SLO holds its windows'
/// numbers (about 650 bytes for the reference spec).
pub(crate) const MAX_STEPS: usize = 1_000_000;

/// A gzip history may inflate to this many times its compressed size (real histories
/// compress 5 to 20 times), and to this floor whatever its size.
pub(crate) const MAX_GZIP_RATIO: u64 = 100;
pub(crate) const MIN_GZIP_INFLATED_BYTES: u64 = 64 << 20;

/// The longest duration anywhere (spec fields and flags): no budget period, window, `for`
/// or `hold` is longer than a year, and few backends keep more.
pub(crate) const MAX_DURATION_MS: i64 = 365 * 24 * 3600 * 1000;

/// Beyond this many seconds from 1970 (year 5138) a timestamp is almost surely
/// milliseconds, the unit of the older Prometheus text format; guessing would shift the
/// data by a factor 1000.
pub(crate) const MAX_ABS_SECONDS: u64 = 100_000_000_000;

/// [`MAX_ABS_SECONDS`] in milliseconds.
pub(crate) const MAX_ABS_MS: i64 = MAX_ABS_SECONDS as i64 * 1000;

/// 0000-01-01T00:00:00Z, the first instant RFC 3339 can write, in Unix milliseconds.
pub(crate) const MIN_INSTANT_MS: i64 = -62_167_219_200_000;

/// Whether `ms` is an instant burnrate reads: from 0000-01-01 (so that every instant it
/// prints reads back) to [`MAX_ABS_SECONDS`] after 1970. Every instant (flags, history,
/// backend answers, incidents, state files) is checked, so sums and differences of
/// instants and durations never overflow.
pub(crate) fn is_instant(ms: i64) -> bool {
    (MIN_INSTANT_MS..MAX_ABS_MS).contains(&ms)
}

/// Replicas of `--shard i/n`: each SLO is scored once per replica.
pub(crate) const MAX_SHARDS: u32 = 1_024;

/// Compiles a label-matcher regex as Prometheus matches it (fully anchored), once. It must
/// also parse on its own, as Prometheus 2.42 requires (`a)(b` is refused although
/// `^(?:a)(b)$` would compile): that check only parses.
pub(crate) fn anchored_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| syntax_reason(&e.to_string()))?;
    bounded_regex(&format!("^(?:{pattern})$"))
}

/// Checks a label-matcher regex ([`anchored_regex`]) and says whether it matches the empty
/// string. Remembered per pattern: specs repeat the same few (`5..`) in every SLO, and a
/// compile costs about 0.1 ms, most of validating an SLO.
pub(crate) fn label_regex_matches_empty(pattern: &str) -> Result<bool, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    // Bounded, so that distinct patterns cannot grow it without end.
    const REMEMBERED: usize = 4_096;
    const LONGEST: usize = 1_024;
    static SEEN: OnceLock<Mutex<HashMap<String, Result<bool, String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(known) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return known.clone();
    }
    let checked = anchored_regex(pattern).map(|re| re.is_match(""));
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() < REMEMBERED && pattern.len() <= LONGEST {
        seen.insert(pattern.to_string(), checked.clone());
    }
    checked
}

/// Compiles a regex under [`MAX_REGEX_BYTES`]; the error is one line.
pub(crate) fn bounded_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(text) => syntax_reason(&text),
            regex::Error::CompiledTooBig(limit) => {
                format!("the regular expression is too large once compiled (limit {limit} bytes)")
            }
            other => other.to_string(),
        })
}

/// The one-line reason of a regex syntax error (its `Display` is a multi-line diagram).
fn syntax_reason(text: &str) -> String {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("error: "))
        .next_back()
        .unwrap_or(text)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_anchored_bounded_and_parsed_on_their_own() {
        let re = anchored_regex("5..|429").unwrap();
        assert!(re.is_match("503") && re.is_match("429") && !re.is_match("5030"));
        assert!(
            anchored_regex("a)(b")
                .unwrap_err()
                .contains("unopened group")
        );
        let t = std::time::Instant::now();
        let err = anchored_regex(r"\w{200}").unwrap_err();
        assert!(err.contains("too large once compiled"), "{err}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let values: Vec<String> = (0..2000).map(|i| format!("value{i}")).collect();
        assert!(anchored_regex(&values.join("|")).is_ok());
    }
}
