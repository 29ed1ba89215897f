//! The error budget (`1 - objective`) computed in decimal, from the objective as written.
//!
//! In floats `1 - 0.999` is 0.0010000000000000009, so an error ratio of exactly 0.1 % burns
//! 0.9999999999999991 and a `burn: 1` rule stays silent although the contract says burn at a
//! threshold fires. Subtracting the decimal text (`100 - 99.9 = 0.1`, then `/ 100`) and
//! parsing the result once gives the float nearest to the true budget; an error ratio of
//! exactly the budget (`1/1000`, itself the nearest float to 0.001) then burns exactly 1.

/// A decimal number as digits and a power of ten: `digits * 10^-scale`.
struct Decimal {
    digits: u128,
    scale: u32,
}

/// Decimal places kept at most; more would overflow `u128` and mean nothing for an objective.
const MAX_SCALE: u32 = 30;

impl Decimal {
    /// A plain non-negative decimal (`99.9`, `0.999`, `9.99e1`); `None` for anything else.
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let mantissa = mantissa.strip_prefix('+').unwrap_or(mantissa);
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut digits: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            digits = digits.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        }
        let mut scale = i64::try_from(frac.len()).ok()? - i64::from(exponent);
        while scale < 0 {
            digits = digits.checked_mul(10)?;
            scale += 1;
        }
        let scale = u32::try_from(scale).ok().filter(|s| *s <= MAX_SCALE)?;
        Some(Decimal { digits, scale })
    }

    /// `whole - self` where `whole` is a whole number; `None` unless it is positive.
    fn complement(&self, whole: u128) -> Option<Decimal> {
        let whole = whole.checked_mul(10u128.checked_pow(self.scale)?)?;
        let digits = whole.checked_sub(self.digits).filter(|d| *d > 0)?;
        Some(Decimal {
            digits,
            scale: self.scale,
        })
    }

    /// The nearest float (Rust's parser rounds correctly), after dividing by `10^shift`.
    fn to_f64(&self, shift: u32) -> f64 {
        let text = format!("{}e-{}", self.digits, self.scale + shift);
        text.parse().unwrap_or(f64::NAN)
    }
}

/// The budget of an objective written in percent (`99.9` → 0.001); `None` unless the text is
/// a plain decimal strictly between 0 and 100.
pub(crate) fn from_percent_text(text: &str) -> Option<f64> {
    Some(Decimal::parse(text)?.complement(100)?.to_f64(2))
}

/// The budget of an objective written as a ratio (a quantile `0.99` → 0.01); `None` unless the
/// text is a plain decimal strictly between 0 and 1.
pub(crate) fn from_ratio_text(text: &str) -> Option<f64> {
    Some(Decimal::parse(text)?.complement(1)?.to_f64(0))
}

/// The budget of an objective given only as a float (a ratio): its shortest round-trip text
/// is the decimal the spec wrote, so this equals the budget computed from that text. Falls
/// back to `1 - objective` for values no decimal text yields (out of range, not finite).
pub(crate) fn of_objective(objective: f64) -> f64 {
    // Objectives are written with a few decimals: the scaled complement is then a whole
    // number up to float noise, and dividing it once rounds correctly, as the text would.
    let scaled = (1.0 - objective) * 1e12;
    let whole = scaled.round();
    if (scaled - whole).abs() < 1e-3 && whole > 0.0 && whole < 1e12 {
        return whole / 1e12;
    }
    from_ratio_text(&format!("{objective}")).unwrap_or(1.0 - objective)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERCENTS: [(&str, f64); 6] = [
        ("99", 0.01),
        ("99.5", 0.005),
        ("99.9", 0.001),
        ("99.95", 0.0005),
        ("99.99", 0.0001),
        ("99.999", 0.00001),
    ];

    #[test]
    fn percent_budgets_are_the_nearest_floats() {
        for (text, budget) in PERCENTS {
            assert_eq!(from_percent_text(text), Some(budget), "{text}");
        }
        assert_eq!(from_percent_text("9.99e1"), Some(0.001));
        assert_eq!(from_percent_text("99.9000"), Some(0.001));
        for bad in ["100", "0x10", "-5", "", ".", "1e", "abc", "150"] {
            assert_eq!(from_percent_text(bad), None, "{bad}");
        }
        assert_eq!(from_percent_text("0"), Some(1.0));
    }

    #[test]
    fn ratio_budgets_and_floats_agree_with_the_text() {
        assert_eq!(from_ratio_text("0.99"), Some(0.01));
        assert_eq!(from_ratio_text("0.999"), Some(0.001));
        assert_ne!(1.0 - 0.999, 0.001, "the float noise this module exists for");
        for (text, budget) in PERCENTS {
            let objective = (text.parse::<f64>().unwrap() * 1e10).round() / 1e12;
            assert_eq!(of_objective(objective), budget, "{text}");
        }
        for q in [
            "0.5",
            "0.9",
            "0.95",
            "0.99",
            "0.999",
            "0.9999999999999",
            "0.123456789",
        ] {
            let objective: f64 = q.parse().unwrap();
            assert_eq!(Some(of_objective(objective)), from_ratio_text(q), "{q}");
        }
    }
}
