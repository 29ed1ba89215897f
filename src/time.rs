//! Instants as users write them (RFC 3339 or Unix seconds) and as outputs print them.

use crate::limits::{MAX_ABS_SECONDS, is_instant};

/// Why a text is not an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "time {0:?} is out of range (burnrate reads instants from 0000-01-01T00:00:00Z to 100000000000 seconds after 1970, in year 5138)"
    )]
    OutOfRange(String),
    #[error("not a time: {0:?} (expected RFC 3339 like 2026-11-17T10:00:00Z, or Unix seconds)")]
    Syntax(String),
}

/// Parses `--at`-style times: RFC 3339 or Unix seconds (fractions allowed). Unix ms, an
/// instant as `limits::is_instant` bounds them all.
pub fn parse_time(text: &str) -> Result<i64, TimeError> {
    let t = text.trim();
    let ms = match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs.abs() < MAX_ABS_SECONDS as f64 => {
            (secs * 1000.0).round() as i64
        }
        Ok(_) => return Err(TimeError::OutOfRange(t.to_string())),
        Err(_) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_millis())
            .map_err(|_| TimeError::Syntax(t.to_string()))?,
    };
    if !is_instant(ms) {
        return Err(TimeError::OutOfRange(t.to_string()));
    }
    Ok(ms)
}

/// RFC 3339 in UTC, with milliseconds only when the instant has them.
pub fn format_time(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let millis = at_ms.rem_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return format_time_chrono(at_ms);
    }
    // Written by hand (chrono's formatter was a visible share of a replay): the same text
    // as `format_time_chrono` for years 0 to 9999, which the tests check.
    let second_of_day = secs.rem_euclid(86_400);
    let mut out = [0u8; 24];
    let mut put = |at: usize, value: i64, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, second_of_day / 3600, 2);
    put(14, second_of_day / 60 % 60, 2);
    put(17, second_of_day % 60, 2);
    put(20, millis, 3);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        out[at] = c;
    }
    let text = if millis == 0 {
        out[19] = b'Z';
        &out[..20]
    } else {
        out[23] = b'Z';
        &out[..24]
    };
    String::from_utf8(text.to_vec()).expect("ASCII")
}

/// `format_time` through chrono: any instant, including years outside 0 to 9999.
fn format_time_chrono(at_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    if at_ms % 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The wall clock, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_beyond_the_bound_are_errors_not_1970() {
        for bad in [
            "-9999999999999",
            "9999999999999",
            "100000000000",
            "1e300",
            "NaN",
            "9999-12-31T00:00:00Z",
            "-62170000000",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(matches!(e, TimeError::OutOfRange(_)), "{bad}: {e}");
            assert!(e.to_string().contains("out of range"), "{e}");
        }
        assert_eq!(parse_time("99999999999").unwrap(), 99_999_999_999_000);
        assert_eq!(parse_time("-1.5").unwrap(), -1500);
        assert_eq!(
            parse_time("0000-01-01T00:00:00Z").unwrap(),
            -62_167_219_200_000
        );
        assert_eq!(
            parse_time("2026-11-17T10:00:00Z").unwrap(),
            1_794_909_600_000
        );
    }

    #[test]
    fn format_time_matches_chrono() {
        let mut cases: Vec<i64> = vec![
            0,
            1,
            -1,
            999,
            1000,
            -1000,
            -1001,
            1_790_000_000_000,
            1_790_000_000_123,
            951_782_400_000,     // 2000-02-29
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // the millisecond before
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
            i64::MAX,
            i64::MIN,
        ];
        // Deterministic spread over +-300,000 years, and densely around today.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..50_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let wide = (x >> 11) as i64 % 9_500_000_000_000_000;
            cases.push(if x & 1 == 0 { wide } else { -wide });
            cases.push(1_700_000_000_000 + (x >> 20) as i64 % 3_000_000_000_000);
        }
        for ms in cases {
            assert_eq!(format_time(ms), format_time_chrono(ms), "{ms}");
        }
    }
}
