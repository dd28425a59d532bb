//! `genTime` (RFC 3161 §2.4.2): parsing the `GeneralizedTime` and printing instants.

use der::asn1::AnyRef;
use der::{Tag, Tagged};

use super::TimestampError;

/// Parses `YYYYMMDDHHMMSS[.f{1,9}]Z` (RFC 3161 §2.4.2 `genTime`) into Unix seconds and nanoseconds.
pub(crate) fn parse_generalized_time(value: AnyRef<'_>) -> Result<(i64, u32), TimestampError> {
    let bad = |detail: &str| TimestampError::malformed("genTime", detail);
    if value.tag() != Tag::GeneralizedTime {
        return Err(bad("not a GeneralizedTime"));
    }
    let text = value.value();
    let body = text
        .strip_suffix(b"Z")
        .ok_or_else(|| bad("does not end in Z"))?;
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (
            body.get(..dot).unwrap_or_default(),
            body.get(dot + 1..).unwrap_or_default(),
        ),
        None => (body, &[][..]),
    };
    if whole.len() != 14 || !whole.iter().all(u8::is_ascii_digit) {
        return Err(bad("expected YYYYMMDDHHMMSS"));
    }
    if body.len() != whole.len() && (fraction.is_empty() || fraction.len() > 9) {
        return Err(bad("fraction of a second must have 1 to 9 digits"));
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(bad("fraction of a second is not numeric"));
    }
    let num = |range: std::ops::Range<usize>| -> i32 {
        whole
            .get(range)
            .unwrap_or_default()
            .iter()
            .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = fraction.get(i).map_or(0, |&d| u32::from(d - b'0'));
        nanos = nanos * 10 + digit;
    }
    let to_i8 = |v: i32| i8::try_from(v).map_err(|_| bad("field out of range"));
    let dt = jiff::civil::DateTime::new(
        i16::try_from(year).map_err(|_| bad("year out of range"))?,
        to_i8(month)?,
        to_i8(day)?,
        to_i8(hour)?,
        to_i8(minute)?,
        to_i8(second)?,
        0,
    )
    .map_err(|e| TimestampError::malformed("genTime", e))?;
    let ts = dt
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| TimestampError::malformed("genTime", e))?
        .timestamp();
    Ok((ts.as_second(), nanos))
}

pub(crate) fn rfc3339(secs: i64, nanos: u32) -> String {
    let nanos = i32::try_from(nanos).unwrap_or(0);
    match jiff::Timestamp::new(secs, nanos) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_parsing() {
        let t = |s: &str| {
            parse_generalized_time(AnyRef::new(Tag::GeneralizedTime, s.as_bytes()).unwrap())
        };
        assert_eq!(t("20250612120220Z").unwrap(), (1_749_729_740, 0));
        assert_eq!(
            t("20250612120220.5Z").unwrap(),
            (1_749_729_740, 500_000_000)
        );
        assert_eq!(
            t("20250612120220.123456789Z").unwrap(),
            (1_749_729_740, 123_456_789)
        );
        for bad in [
            "20250612120220",
            "20250612120220.Z",
            "20250612120220.1234567890Z",
            "2025061212022Z",
            "20251312120220Z",
            "2025061212022aZ",
            "20250612120260Z",
        ] {
            assert!(
                matches!(t(bad), Err(TimestampError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}
