//! Calendar periods (`period: month | week | quarter` with `timezone`): budgets that reset on
//! the 1st, on Mondays or at the quarter, at local midnight in the SLO's time zone.
//!
//! A calendar period's budget covers its elapsed part at each instant, so its window is not a
//! fixed duration: this module says where the current period began (and ends), taking the
//! time zone's offsets, daylight saving included, from the IANA database (`chrono-tz`).
//! Rules and presets scale to the nominal lengths (30d, 7d, 90d).

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    Month,
    /// From Monday.
    Week,
    Quarter,
}

impl CalendarUnit {
    pub fn parse(text: &str) -> Option<CalendarUnit> {
        Some(match text {
            "month" => CalendarUnit::Month,
            "week" => CalendarUnit::Week,
            "quarter" => CalendarUnit::Quarter,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CalendarUnit::Month => "month",
            CalendarUnit::Week => "week",
            CalendarUnit::Quarter => "quarter",
        }
    }

    /// The length rules, presets and `budget:` rules scale to.
    pub(crate) fn nominal_ms(self) -> i64 {
        match self {
            CalendarUnit::Month => 30 * DAY_MS,
            CalendarUnit::Week => 7 * DAY_MS,
            CalendarUnit::Quarter => 90 * DAY_MS,
        }
    }
}

/// A calendar period in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub unit: CalendarUnit,
    pub timezone: Tz,
}

impl Calendar {
    pub fn new(unit: CalendarUnit, timezone: Tz) -> Calendar {
        Calendar { unit, timezone }
    }

    /// Unix milliseconds of the local midnight that began the period holding `at_ms`.
    pub fn start_ms(&self, at_ms: i64) -> i64 {
        let local = self.timezone.timestamp_millis_opt(at_ms).single();
        let Some(local) = local else {
            return at_ms;
        };
        let date = local.date_naive();
        let first = match self.unit {
            CalendarUnit::Month => date.with_day(1),
            CalendarUnit::Week => {
                Some(date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
            }
            CalendarUnit::Quarter => {
                NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1)
            }
        };
        first.map_or(at_ms, |d| midnight_ms(self.timezone, d))
    }

    /// Unix milliseconds of the local midnight that ends the period holding `at_ms`.
    pub fn end_ms(&self, at_ms: i64) -> i64 {
        let start = self.start_ms(at_ms);
        let Some(local) = self.timezone.timestamp_millis_opt(start).single() else {
            return start + self.unit.nominal_ms();
        };
        let date = local.date_naive();
        let next = match self.unit {
            CalendarUnit::Month => date.checked_add_months(chrono::Months::new(1)),
            CalendarUnit::Week => date.checked_add_days(chrono::Days::new(7)),
            CalendarUnit::Quarter => date.checked_add_months(chrono::Months::new(3)),
        };
        next.map_or(start + self.unit.nominal_ms(), |d| {
            midnight_ms(self.timezone, d)
        })
    }

    /// How much of the current period has elapsed at `at_ms`, in whole seconds (a range
    /// selector's duration), at least one second.
    pub(crate) fn elapsed_ms(&self, at_ms: i64) -> i64 {
        ((at_ms - self.start_ms(at_ms)) / 1000).max(1) * 1000
    }

    /// `Europe/Berlin`.
    pub fn timezone_name(&self) -> &'static str {
        self.timezone.name()
    }
}

/// The first instant of `date` in `tz`: its midnight or, where a transition skips
/// midnight, the first local minute that exists (IANA transitions fall on whole minutes
/// since 1970).
pub(crate) fn midnight_ms(tz: Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight is a time");
    if let Some(t) = tz.from_local_datetime(&midnight).earliest() {
        return t.timestamp_millis();
    }
    (1..=24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m)))
                .earliest()
        })
        .map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
}

/// An IANA time zone name.
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    fn at(text: &str) -> i64 {
        parse_time(text).unwrap()
    }

    fn cal(unit: CalendarUnit, tz: &str) -> Calendar {
        Calendar::new(unit, parse_timezone(tz).unwrap())
    }

    #[test]
    fn months_start_at_local_midnight() {
        let berlin = cal(CalendarUnit::Month, "Europe/Berlin");
        // 00:30 in Berlin on December 1 is 23:30 UTC on November 30.
        assert_eq!(
            berlin.start_ms(at("2026-11-30T23:30:00Z")),
            at("2026-11-30T23:00:00Z")
        );
        assert_eq!(
            berlin.start_ms(at("2026-11-30T22:59:59Z")),
            at("2026-10-31T23:00:00Z")
        );
        // October in Berlin: summer time at its start, winter time at its end (31 days and
        // an hour).
        let october = at("2026-10-15T12:00:00Z");
        assert_eq!(berlin.start_ms(october), at("2026-09-30T22:00:00Z"));
        assert_eq!(berlin.end_ms(october), at("2026-10-31T23:00:00Z"));
        let utc = cal(CalendarUnit::Month, "UTC");
        assert_eq!(
            utc.start_ms(at("2026-02-28T23:59:59Z")),
            at("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            utc.end_ms(at("2026-02-10T00:00:00Z")),
            at("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn weeks_start_on_monday_and_quarters_on_their_first_month() {
        // 2026-12-02 is a Wednesday.
        let week = cal(CalendarUnit::Week, "UTC");
        assert_eq!(
            week.start_ms(at("2026-12-02T10:00:00Z")),
            at("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            week.end_ms(at("2026-12-02T10:00:00Z")),
            at("2026-12-07T00:00:00Z")
        );
        let quarter = cal(CalendarUnit::Quarter, "America/New_York");
        assert_eq!(
            quarter.start_ms(at("2026-12-02T10:00:00Z")),
            at("2026-10-01T04:00:00Z")
        );
        assert_eq!(
            quarter.end_ms(at("2026-12-02T10:00:00Z")),
            at("2027-01-01T05:00:00Z")
        );
        assert_eq!(
            quarter.elapsed_ms(at("2026-10-01T04:00:00.500Z")),
            1000,
            "at least a second"
        );
    }
}
