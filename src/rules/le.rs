//! A regular expression matching the ways a histogram bucket bound can be spelled in an
//! `le` label.
//!
//! The engine matches `le` by numeric value (`"0.2"`, `"0.20"` and `"2e-01"` are one bound,
//! and so is a bound written with float noise such as `"0.30000000000000004"`: it compares
//! with a relative tolerance of 1e-9). A label matcher can only match text, so the rules
//! match every common spelling of the number instead:
//!
//! - plain decimals with any number of leading zeros in the integer part and trailing zeros
//!   in the fraction (`0.2`, `.2`, `00.20`; `1`, `1.`, `1.0`), an optional `+` sign;
//! - scientific notation with either `e`, an optional sign and leading zeros in the exponent
//!   (`2e-1`, `2e-01`, `2.0E-01`; `1e+00`);
//! - float noise: for a value with fewer than 10 significant digits, any spelling that agrees
//!   with it on 10 significant digits, from just below or just above (`0.2999999999...`,
//!   `0.3000000000...`): at least 1e-10 relative (ulps are 1e-16), in both notations.
//!
//! Not matched: mantissas that are not normalized in scientific notation (`20e-2`),
//! hexadecimal floats, and bounds that differ by more than the noise above.

/// The regex body (Prometheus anchors label regexes at both ends) matching the spellings of
/// `value` as an `le` label. `value` must be finite.
pub(crate) fn bound_regex(value: f64) -> String {
    assert!(value.is_finite(), "bucket bounds are finite");
    if value == 0.0 {
        return r"[+-]?(0+(\.0*)?|\.0+)([eE][+-]?[0-9]+)?".to_string();
    }
    let sign = if value < 0.0 { "-" } else { r"\+?" };
    let (digits, point) = decimal_digits(value.abs());
    let mut alternatives = vec![
        fixed(&digits, point, Tail::Zeros),
        scientific(&digits, point, Tail::Zeros),
    ];
    if digits.len() < NOISE_DIGITS {
        let up = format!("{digits:0<NOISE_DIGITS$}");
        let down = (up.parse::<u64>().expect("digits") - 1).to_string();
        // 1000000000 - 1 has one digit less: the decimal point moves one place.
        let down_point = point - (NOISE_DIGITS - down.len()) as i32;
        for (d, p) in [(up.as_str(), point), (down.as_str(), down_point)] {
            alternatives.push(fixed(d, p, Tail::Any));
            alternatives.push(scientific(d, p, Tail::Any));
        }
    }
    format!("{sign}({})", alternatives.join("|"))
}

/// Significant digits of a float noise prefix.
const NOISE_DIGITS: usize = 10;

#[derive(Clone, Copy, PartialEq)]
enum Tail {
    /// The spelled number ends here (trailing zeros allowed).
    Zeros,
    /// Any further digits (float noise).
    Any,
}

impl Tail {
    fn fraction(self) -> &'static str {
        match self {
            Tail::Zeros => "0*",
            Tail::Any => "[0-9]*",
        }
    }
}

/// The shortest digits that round-trip `value` (positive, finite), without leading or
/// trailing zeros, and the position of the decimal point: `value = 0.DIGITS × 10^point`.
fn decimal_digits(value: f64) -> (String, i32) {
    // `{:e}` is the shortest round-trip representation: "2e-1", "1.5e2", "1.2345e-5".
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').expect("exponent");
    let exponent: i32 = exponent.parse().expect("exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exponent + 1)
}

/// Plain decimal spellings of `0.DIGITS × 10^point`.
fn fixed(digits: &str, point: i32, tail: Tail) -> String {
    let n = digits.len() as i32;
    if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        format!(r"0*\.{zeros}{digits}{}", tail.fraction())
    } else if point >= n {
        let zeros = "0".repeat((point - n) as usize);
        format!(r"0*{digits}{zeros}(\.{})?", tail.fraction())
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!(r"0*{int}\.{frac}{}", tail.fraction())
    }
}

/// Scientific spellings of `0.DIGITS × 10^point`: `D.DDD e EXP` with `EXP = point - 1`.
fn scientific(digits: &str, point: i32, tail: Tail) -> String {
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        format!(r"{first}(\.{})?", tail.fraction())
    } else {
        format!(r"{first}\.{rest}{}", tail.fraction())
    };
    let exponent = point - 1;
    let exponent = match exponent {
        0 => "[+-]?0+".to_string(),
        e if e < 0 => format!("-0*{}", -e),
        e => format!(r"\+?0*{e}"),
    };
    format!("{mantissa}[eE]{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn matcher(value: f64) -> Regex {
        Regex::new(&format!("^(?:{})$", bound_regex(value))).unwrap()
    }

    /// Go's `%g` with the shortest precision (what client_golang's `le` labels use):
    /// exponent notation below 1e-4 and from 1e21, with at least two exponent digits.
    fn go_g(v: f64) -> String {
        let e = format!("{v:e}");
        let (m, x) = e.split_once('e').unwrap();
        let x: i32 = x.parse().unwrap();
        if !(-4..21).contains(&x) {
            format!("{m}e{}{:02}", if x < 0 { '-' } else { '+' }, x.abs())
        } else {
            format!("{v}")
        }
    }

    #[test]
    fn matches_common_spellings() {
        let cases: &[(f64, &[&str])] = &[
            (
                0.2,
                &[
                    "0.2", "0.20", ".2", "2e-01", "2e-1", "2.0e-01", "2E-1", "+0.2",
                ],
            ),
            (1.0, &["1", "1.0", "1.", "01", "1e+00", "1e0", "1.0e+00"]),
            (2.5, &["2.5", "2.50", "2.5e+00", "2.5e0"]),
            (10.0, &["10", "10.0", "1e+01", "1e1", "1.0e+01"]),
            (0.005, &["0.005", "0.0050", "5e-03", "5.0e-3"]),
            (1e-5, &["1e-05", "0.00001", "1e-5", "1.0E-05"]),
            (0.15, &["0.15", "1.5e-01"]),
            (1234.5, &["1234.5", "1.2345e+03", "1234.50"]),
            (
                0.3,
                &[
                    "0.3",
                    "0.30000000000000004",
                    "0.29999999999999998",
                    "3.0000000000000004e-01",
                ],
            ),
            (0.1, &["0.1", "0.09999999999999999", "0.10000000000000001"]),
            (1e22, &["1e+22", "10000000000000000000000", "1e22"]),
            (-0.5, &["-0.5", "-5e-01"]),
            (0.0, &["0", "0.0", "-0", "0e+00", ".0"]),
        ];
        for (value, spellings) in cases {
            let re = matcher(*value);
            for s in spellings.iter().copied().chain([
                format!("{value}").as_str(),
                format!("{value:?}").as_str(),
                go_g(*value).as_str(),
            ]) {
                assert!(re.is_match(s), "{value}: {s:?} should match {re}");
            }
        }
    }

    #[test]
    fn rejects_other_bounds() {
        let cases: &[(f64, &[&str])] = &[
            (
                0.2,
                &[
                    "0.25",
                    "0.02",
                    "2",
                    "20",
                    "0.2000001",
                    "2e-02",
                    "+Inf",
                    "0.1",
                    "",
                ],
            ),
            (1.0, &["10", "0.1", "1.5", "11", "1e+01", "1.000001"]),
            (10.0, &["1", "100", "1e+00", "10.5"]),
            (0.005, &["0.05", "0.0005", "5e-02", "0.0051"]),
            (0.3, &["0.31", "0.3001", "0.2999"]),
            (-0.5, &["0.5", "5e-01"]),
        ];
        for (value, spellings) in cases {
            let re = matcher(*value);
            for s in *spellings {
                assert!(!re.is_match(s), "{value}: {s:?} should not match {re}");
            }
        }
    }

    #[test]
    fn noise_stays_within_the_engine_tolerance() {
        // Float noise (a few ulps, up to 1e-11 relative) matches; another bound does not.
        for value in [0.2, 0.3, 1.0, 0.1, 7.5, 0.001, 1e-7, 300.0, 0.9] {
            let re = matcher(value);
            for candidate in [
                value * (1.0 + 1e-11),
                value * (1.0 - 1e-11),
                value * (1.0 + 1e-12),
                value * (1.0 - 1e-15),
                f64::from_bits(value.to_bits() + 1),
                f64::from_bits(value.to_bits() - 1),
            ] {
                let s = format!("{candidate:?}");
                assert!(re.is_match(&s), "{value}: {s} (noise) should match");
            }
            for candidate in [value * (1.0 + 1e-8), value * (1.0 - 1e-8)] {
                let s = format!("{candidate:?}");
                assert!(!re.is_match(&s), "{value}: {s} is another bound");
            }
        }
    }
}
