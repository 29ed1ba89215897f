//! Which instants a report covers: a calendar month, ISO week (from Monday) or quarter in a
//! time zone, or an explicit range; and the calendar days inside it, each measured on its
//! own for the worst day.
//!
//! An SLO review is held per calendar period of the team's own clock, so local midnights
//! come from the IANA database (`chrono-tz`): a month in Europe/Berlin starts at 22:00 or
//! 23:00 UTC, and a day is 23 or 25 hours long where daylight saving time begins or ends.

pub(crate) use crate::calendar::{CalendarUnit, midnight_ms};
use chrono::{Datelike, Days, Months, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;

/// The range a report covers, `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportRange {
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
    /// Whose calendar days (and months, weeks, quarters) these are.
    pub(crate) timezone: Tz,
    /// `2026-11`, `2026-W47` or `2026-Q4` as given; `None` for `--from`/`--to`.
    pub(crate) calendar: Option<String>,
}

/// One calendar day of a report's range, clipped to the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    pub(crate) date: NaiveDate,
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
}

impl ReportRange {
    /// The calendar period `text` names (`--month 2026-11`, `--week 2026-W47`, `--quarter
    /// 2026-Q4`) in `timezone`: from the local midnight that starts it to the one after it.
    pub(crate) fn calendar(
        period: CalendarUnit,
        text: &str,
        timezone: Tz,
    ) -> Result<ReportRange, String> {
        let (first, next) = match period {
            CalendarUnit::Month => {
                let first = parse_month(text)?;
                (first, first.checked_add_months(Months::new(1)))
            }
            CalendarUnit::Week => {
                let first = parse_week(text)?;
                (first, first.checked_add_days(Days::new(7)))
            }
            CalendarUnit::Quarter => {
                let first = parse_quarter(text)?;
                (first, first.checked_add_months(Months::new(3)))
            }
        };
        let next = next.ok_or_else(|| format!("{text:?} is out of range"))?;
        Ok(ReportRange {
            from_ms: midnight_ms(timezone, first),
            to_ms: midnight_ms(timezone, next),
            timezone,
            calendar: Some(text.trim().to_string()),
        })
    }

    pub(crate) fn explicit(from_ms: i64, to_ms: i64, timezone: Tz) -> ReportRange {
        ReportRange {
            from_ms,
            to_ms,
            timezone,
            calendar: None,
        }
    }

    /// The calendar days the range touches, in order, each clipped to the range (an
    /// explicit range may start or end inside a day).
    pub(crate) fn days(&self) -> Vec<Day> {
        let tz = self.timezone;
        let Some(mut date) = tz
            .timestamp_millis_opt(self.from_ms)
            .earliest()
            .map(|t| t.date_naive())
        else {
            return Vec::new();
        };
        let mut days = Vec::new();
        while let Some(next) = date.succ_opt() {
            let start = midnight_ms(tz, date).max(self.from_ms);
            if start >= self.to_ms {
                break;
            }
            let end = midnight_ms(tz, next).min(self.to_ms);
            if end > start {
                days.push(Day {
                    date,
                    from_ms: start,
                    to_ms: end,
                });
            }
            date = next;
        }
        days
    }
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`).
pub(crate) fn parse_timezone(name: &str) -> Result<Tz, String> {
    crate::calendar::parse_timezone(name.trim()).ok_or_else(|| {
        format!("unknown time zone {name:?} (expected an IANA name like Europe/Berlin or UTC)")
    })
}

fn year_of(text: &str, whole: &str, form: &str) -> Result<i32, String> {
    let bad = || format!("{whole:?} is not {form}");
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

fn number_of(
    text: &str,
    whole: &str,
    form: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, String> {
    let bad = || format!("{whole:?} is not {form}");
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(bad)
}

/// `2026-11`: the first day of that month.
fn parse_month(text: &str) -> Result<NaiveDate, String> {
    const FORM: &str = "a month (YYYY-MM, e.g. 2026-11)";
    let t = text.trim();
    let (y, m) = t
        .split_once('-')
        .ok_or_else(|| format!("{t:?} is not {FORM}"))?;
    let month = number_of(m, t, FORM, 1..=12)?;
    NaiveDate::from_ymd_opt(year_of(y, t, FORM)?, month, 1)
        .ok_or_else(|| format!("{t:?} is not {FORM}"))
}

/// `2026-W47`: the Monday of that ISO 8601 week.
fn parse_week(text: &str) -> Result<NaiveDate, String> {
    const FORM: &str = "an ISO week (YYYY-Www, e.g. 2026-W47)";
    let t = text.trim();
    let (y, w) = t
        .split_once("-W")
        .ok_or_else(|| format!("{t:?} is not {FORM}"))?;
    let year = year_of(y, t, FORM)?;
    let week = number_of(w, t, FORM, 1..=53)?;
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
        .ok_or_else(|| format!("{t:?} is not {FORM}: {year} has no week {week}"))
}

/// `2026-Q4`: the first day of that quarter.
fn parse_quarter(text: &str) -> Result<NaiveDate, String> {
    const FORM: &str = "a quarter (YYYY-Qn, e.g. 2026-Q4)";
    let t = text.trim();
    let (y, q) = t
        .split_once("-Q")
        .ok_or_else(|| format!("{t:?} is not {FORM}"))?;
    let quarter = number_of(q, t, FORM, 1..=4)?;
    NaiveDate::from_ymd_opt(year_of(y, t, FORM)?, (quarter - 1) * 3 + 1, 1)
        .ok_or_else(|| format!("{t:?} is not {FORM}"))
}

/// The date's weekday-independent spelling in outputs.
pub(crate) fn format_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    fn at(text: &str) -> i64 {
        parse_time(text).unwrap()
    }

    fn tz(name: &str) -> Tz {
        parse_timezone(name).unwrap()
    }

    #[test]
    fn calendar_periods_start_at_local_midnight() {
        let utc = ReportRange::calendar(CalendarUnit::Month, "2026-11", tz("UTC")).unwrap();
        assert_eq!(
            (utc.from_ms, utc.to_ms),
            (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
        );
        // October in Berlin: summer time at its start, winter time at its end.
        let berlin =
            ReportRange::calendar(CalendarUnit::Month, "2026-10", tz("Europe/Berlin")).unwrap();
        assert_eq!(
            (berlin.from_ms, berlin.to_ms),
            (at("2026-09-30T22:00:00Z"), at("2026-10-31T23:00:00Z"))
        );
        // ISO week 47 of 2026 is Monday 2026-11-16 to Sunday 2026-11-22; week 1 of 2027
        // starts in 2027 (January 4), week 53 of 2026 exists (2026 starts on a Thursday).
        let week = ReportRange::calendar(CalendarUnit::Week, "2026-W47", tz("UTC")).unwrap();
        assert_eq!(
            (week.from_ms, week.to_ms),
            (at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z"))
        );
        assert!(ReportRange::calendar(CalendarUnit::Week, "2026-W53", tz("UTC")).is_ok());
        assert!(ReportRange::calendar(CalendarUnit::Week, "2027-W53", tz("UTC")).is_err());
        let quarter =
            ReportRange::calendar(CalendarUnit::Quarter, "2026-Q4", tz("America/New_York"))
                .unwrap();
        assert_eq!(
            (quarter.from_ms, quarter.to_ms),
            (at("2026-10-01T04:00:00Z"), at("2027-01-01T05:00:00Z"))
        );
        assert_eq!(quarter.calendar.as_deref(), Some("2026-Q4"));
    }

    #[test]
    fn bad_period_names_say_what_is_expected() {
        for (period, text) in [
            (CalendarUnit::Month, "2026-13"),
            (CalendarUnit::Month, "2026-1x"),
            (CalendarUnit::Month, "26-11"),
            (CalendarUnit::Month, "2026/11"),
            (CalendarUnit::Week, "2026-47"),
            (CalendarUnit::Week, "2026-W0"),
            (CalendarUnit::Week, "2026-W54"),
            (CalendarUnit::Quarter, "2026-Q5"),
            (CalendarUnit::Quarter, "2026-4"),
        ] {
            let e = ReportRange::calendar(period, text, tz("UTC")).unwrap_err();
            assert!(e.contains(text) && e.contains("e.g."), "{text}: {e}");
        }
        assert!(parse_timezone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn days_follow_daylight_saving_changes() {
        let berlin =
            ReportRange::calendar(CalendarUnit::Month, "2026-10", tz("Europe/Berlin")).unwrap();
        let days = berlin.days();
        assert_eq!(days.len(), 31);
        assert_eq!(days[0].from_ms, berlin.from_ms);
        assert_eq!(days[30].to_ms, berlin.to_ms);
        assert!(days.windows(2).all(|w| w[0].to_ms == w[1].from_ms));
        let hours = |d: &Day| (d.to_ms - d.from_ms) / 3_600_000;
        // Clocks go back from 03:00 CEST to 02:00 CET on Sunday 2026-10-25.
        let dst = days
            .iter()
            .find(|d| format_date(d.date) == "2026-10-25")
            .unwrap();
        assert_eq!(hours(dst), 25);
        assert_eq!(
            (dst.from_ms, dst.to_ms),
            (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"))
        );
        assert!(days.iter().filter(|d| d != &dst).all(|d| hours(d) == 24));
        // And forward on 2026-03-29: a 23-hour day.
        let march =
            ReportRange::calendar(CalendarUnit::Month, "2026-03", tz("Europe/Berlin")).unwrap();
        let short: Vec<_> = march
            .days()
            .into_iter()
            .filter(|d| hours(d) != 24)
            .collect();
        assert_eq!(short.len(), 1);
        assert_eq!(
            (format_date(short[0].date), hours(&short[0])),
            ("2026-03-29".into(), 23)
        );
    }

    #[test]
    fn an_explicit_range_clips_its_first_and_last_day() {
        let range = ReportRange::explicit(
            at("2026-11-16T06:00:00Z"),
            at("2026-11-18T12:30:00Z"),
            tz("UTC"),
        );
        let days = range.days();
        let spans: Vec<(String, i64, i64)> = days
            .iter()
            .map(|d| (format_date(d.date), d.from_ms, d.to_ms))
            .collect();
        assert_eq!(
            spans,
            [
                (
                    "2026-11-16".into(),
                    at("2026-11-16T06:00:00Z"),
                    at("2026-11-17T00:00:00Z")
                ),
                (
                    "2026-11-17".into(),
                    at("2026-11-17T00:00:00Z"),
                    at("2026-11-18T00:00:00Z")
                ),
                (
                    "2026-11-18".into(),
                    at("2026-11-18T00:00:00Z"),
                    at("2026-11-18T12:30:00Z")
                ),
            ]
        );
        // A range ending at a midnight has no empty day after it.
        let whole = ReportRange::explicit(
            at("2026-11-16T00:00:00Z"),
            at("2026-11-19T00:00:00Z"),
            tz("UTC"),
        );
        assert_eq!(whole.days().len(), 3);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_after_the_gap() {
        // Chile springs forward at 00:00 on 2026-09-06: that day starts at 01:00 -03.
        let santiago = tz("America/Santiago");
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(midnight_ms(santiago, date), at("2026-09-06T04:00:00Z"));
    }
}
