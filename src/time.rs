//! UTC timestamps as S3 writes them: `20130524T000000Z` for signing,
//! `2009-10-12T17:50:30.000Z` in listings, HTTP dates in `Last-Modified`.
//! Imports nothing of ours.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with second precision plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UtcDateTime {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds past `seconds`.
    pub nanos: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn digits(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `n` (below 100) as two digits. Signing formats a date for every request:
/// pushing digits skips the formatting machinery.
fn push_two_digits(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `YYYYMMDD`, with room left for a time of day.
fn compact_date(y: i64, m: u32, d: u32) -> String {
    let mut out = String::with_capacity(16);
    if (0..10_000).contains(&y) {
        push_two_digits(&mut out, (y / 100) as u32);
        push_two_digits(&mut out, (y % 100) as u32);
    } else {
        out.push_str(&format!("{y:04}"));
    }
    push_two_digits(&mut out, m);
    push_two_digits(&mut out, d);
    out
}

impl UtcDateTime {
    /// Converts a `SystemTime`; times before 1970 clamp to the epoch. The
    /// core never reads the clock itself: the time comes from [`crate::platform`].
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self {
            seconds: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }

    fn from_parts(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> Option<Self> {
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        Some(Self {
            seconds: days * 86_400 + i64::from(h * 3600 + mi * 60 + s),
            nanos,
        })
    }

    fn parts(&self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// Milliseconds from `earlier` to this instant (negative if it is later).
    pub fn millis_since(&self, earlier: UtcDateTime) -> i64 {
        (self.seconds - earlier.seconds) * 1000
            + (i64::from(self.nanos) - i64::from(earlier.nanos)) / 1_000_000
    }

    /// `YYYYMMDDTHHMMSSZ`, the SigV4 `x-amz-date`.
    pub fn amz_date(&self) -> String {
        let (y, m, d, h, mi, s) = self.parts();
        let mut out = compact_date(y, m, d);
        out.push('T');
        for n in [h, mi, s] {
            push_two_digits(&mut out, n);
        }
        out.push('Z');
        out
    }

    /// `YYYYMMDD`, the SigV4 credential-scope date.
    pub fn date_stamp(&self) -> String {
        let (y, m, d, ..) = self.parts();
        compact_date(y, m, d)
    }

    /// S3's ISO-8601 form, `2009-10-12T17:50:30Z` (whole seconds), as STS and
    /// the metadata service write expirations.
    pub fn iso8601(&self) -> String {
        let (y, m, d, h, mi, s) = self.parts();
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// The HTTP date, `Tue, 27 Mar 2007 19:36:42 GMT` (SigV2's `x-amz-date`).
    pub fn http_date(&self) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(self.seconds.max(0) as u64))
    }

    /// Parses `YYYYMMDDTHHMMSSZ`.
    pub fn parse_amz_date(s: &str) -> Option<Self> {
        if s.len() != 16 || !s.is_char_boundary(8) || &s[8..9] != "T" || !s.ends_with('Z') {
            return None;
        }
        Self::from_parts(
            i64::from(digits(&s[0..4])?),
            digits(&s[4..6])?,
            digits(&s[6..8])?,
            digits(&s[9..11])?,
            digits(&s[11..13])?,
            digits(&s[13..15])?,
            0,
        )
    }

    /// Parses S3's ISO-8601 form, `2009-10-12T17:50:30.000Z` (fraction optional).
    pub fn parse_iso8601(s: &str) -> Option<Self> {
        let s = s.trim();
        let body = s.strip_suffix('Z')?;
        let (date, time) = body.split_once('T')?;
        let mut d = date.split('-');
        let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
        if d.next().is_some() || y.len() != 4 {
            return None;
        }
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.split(':');
        let (h, mi, se) = (t.next()?, t.next()?, t.next()?);
        if t.next().is_some() {
            return None;
        }
        let nanos = if frac.is_empty() {
            0
        } else {
            let f: String = frac.chars().take(9).collect();
            digits(&f)? * 10u32.pow(9 - f.len() as u32)
        };
        Self::from_parts(
            i64::from(digits(y)?),
            digits(mo)?,
            digits(da)?,
            digits(h)?,
            digits(mi)?,
            digits(se)?,
            nanos,
        )
    }

    /// Parses an HTTP date (`Last-Modified: Wed, 12 Oct 2009 17:50:00 GMT`).
    pub fn parse_http_date(s: &str) -> Option<Self> {
        httpdate::parse_http_date(s.trim())
            .ok()
            .map(Self::from_system_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = UtcDateTime::parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t.seconds, 1_440_938_160);
        assert_eq!(t.amz_date(), "20150830T123600Z");
        assert_eq!(t.date_stamp(), "20150830");
        assert!(UtcDateTime::parse_amz_date("2015-08-30T12:36Z").is_none());
    }

    #[test]
    fn signing_dates_keep_four_digit_years_padded() {
        let at = |y, m, d| UtcDateTime {
            seconds: days_from_civil(y, m, d) * 86_400 + 3_723,
            nanos: 0,
        };
        assert_eq!(at(999, 1, 2).amz_date(), "09990102T010203Z");
        assert_eq!(at(9999, 12, 31).date_stamp(), "99991231");
        assert_eq!(at(10_000, 1, 1).date_stamp(), "100000101");
    }

    #[test]
    fn leap_days_and_epoch() {
        let t = UtcDateTime::parse_amz_date("20240229T235959Z").unwrap();
        assert_eq!(t.amz_date(), "20240229T235959Z");
        assert_eq!(
            UtcDateTime {
                seconds: 0,
                nanos: 0
            }
            .amz_date(),
            "19700101T000000Z"
        );
    }

    #[test]
    fn listing_times_parse_with_fractions() {
        let t = UtcDateTime::parse_iso8601("2009-10-12T17:50:30.123Z").unwrap();
        assert_eq!(t.seconds, 1_255_369_830);
        assert_eq!(t.nanos, 123_000_000);
        assert_eq!(
            UtcDateTime::parse_iso8601("2009-10-12T17:50:30Z")
                .unwrap()
                .nanos,
            0
        );
        assert!(UtcDateTime::parse_iso8601("2009-10-12 17:50:30").is_none());
        assert_eq!(t.iso8601(), "2009-10-12T17:50:30Z");
        assert_eq!(
            UtcDateTime::parse_iso8601(&t.iso8601()).unwrap().seconds,
            t.seconds
        );
        assert!(UtcDateTime::parse_iso8601("2009-13-12T17:50:30Z").is_none());
    }

    #[test]
    fn http_dates_format() {
        let t = UtcDateTime::parse_amz_date("20070327T193642Z").unwrap();
        assert_eq!(t.http_date(), "Tue, 27 Mar 2007 19:36:42 GMT");
    }

    #[test]
    fn millisecond_differences() {
        let a = UtcDateTime {
            seconds: 10,
            nanos: 900_000_000,
        };
        let b = UtcDateTime {
            seconds: 12,
            nanos: 100_000_000,
        };
        assert_eq!(b.millis_since(a), 1200);
        assert_eq!(a.millis_since(b), -1200);
    }

    #[test]
    fn http_dates_parse() {
        let t = UtcDateTime::parse_http_date("Mon, 12 Oct 2009 17:50:30 GMT").unwrap();
        assert_eq!(t.seconds, 1_255_369_830);
    }
}
