//! Dates and durations in the formats the CRMs expect, from a UTC [`Timestamp`].

use enlace_core::Timestamp;

/// Calendar date and time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub(crate) fn utc(ts: Timestamp) -> Utc {
    let secs = ts.millis().div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Utc {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: ((rem % 3600) / 60) as u32,
        second: (rem % 60) as u32,
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` (Salesforce `ActivityDate`: the call's start date in UTC).
pub(crate) fn date(ts: Timestamp) -> String {
    let t = utc(ts);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// `YYYY-MM-DDTHH:MM:SS+00:00` (Zoho `Call_Start_Time`: ISO 8601 with offset, no millis).
pub(crate) fn datetime_utc(ts: Timestamp) -> String {
    let t = utc(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` (a SOQL date-time literal, unquoted).
pub(crate) fn soql_datetime(ts: Timestamp) -> String {
    let t = utc(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `mm:ss`, minutes possibly above 59 (Zoho `Call_Duration`: 4,510 s → "75:10").
pub(crate) fn minutes_seconds(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_utc() {
        // 2024-06-10T06:13:20Z
        assert_eq!(date(Timestamp(1_718_000_000_000)), "2024-06-10");
        assert_eq!(
            datetime_utc(Timestamp(1_718_000_000_999)),
            "2024-06-10T06:13:20+00:00"
        );
        assert_eq!(datetime_utc(Timestamp(0)), "1970-01-01T00:00:00+00:00");
        // Leap day and the last second of a year.
        assert_eq!(
            datetime_utc(Timestamp(951_782_400_000)),
            "2000-02-29T00:00:00+00:00"
        );
        assert_eq!(
            datetime_utc(Timestamp(1_704_067_199_000)),
            "2023-12-31T23:59:59+00:00"
        );
        assert_eq!(date(Timestamp(-1)), "1969-12-31");
        assert_eq!(
            soql_datetime(Timestamp(1_718_000_000_999)),
            "2024-06-10T06:13:20Z"
        );
    }

    #[test]
    fn durations_are_minutes_and_seconds() {
        assert_eq!(minutes_seconds(0), "00:00");
        assert_eq!(minutes_seconds(125), "02:05");
        assert_eq!(minutes_seconds(4_510), "75:10");
        assert_eq!(minutes_seconds(59), "00:59");
        assert_eq!(minutes_seconds(6_000 * 60 + 1), "6000:01");
    }
}
