//! Parsers of command-line values shared by the binaries: durations, sizes and the
//! report interval of simulated teams.

use std::str::FromStr;
use std::time::Duration;

use crate::client::IntervalSpec;

/// Longest duration any flag takes: ten years, far beyond any contest, and far from
/// the range where adding it to a clock reading would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Parses a duration given as seconds (`300`) or with a unit (`5m`, `1h 30m`, `250ms`),
/// at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|_| {
            format!(
                "{text:?} is not a duration: expected a number of seconds from 0 up to 10 years"
            )
        })?,
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            format!("{text:?} is not a duration ({e}); write seconds (300) or a unit (5m, 10s)")
        })?,
    };
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is too long: at most 10 years"));
    }
    Ok(duration)
}

/// Parses a size such as `1MiB`, `512KiB`, `1000000`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| {
            format!("{text:?} is not a size ({e}); write bytes (1048576) or a unit (1MiB, 512KiB)")
        })
}

impl FromStr for IntervalSpec {
    type Err = String;

    /// Parses seconds: `5`, `0.2` (±10% jitter) or a range `2-5`.
    fn from_str(text: &str) -> Result<IntervalSpec, String> {
        let seconds = |part: &str| -> Result<f64, String> {
            part.trim()
                .trim_end_matches('s')
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .ok_or_else(|| {
                    format!(
                        "{text:?} is not an interval: write seconds > 0 (5, 0.2) or a range (2-5)"
                    )
                })
        };
        let (min, max) = match text.split_once('-') {
            Some((a, b)) => (seconds(a)?, seconds(b)?),
            None => {
                let s = seconds(text)?;
                (s * 0.9, s * 1.1)
            }
        };
        if min > max {
            return Err(format!("{text:?}: the range must go from low to high"));
        }
        Ok(IntervalSpec {
            min: Duration::from_secs_f64(min),
            max: Duration::from_secs_f64(max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1e30").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("1000000000y").is_err());
    }

    #[test]
    fn parses_intervals() {
        let one: IntervalSpec = "10".parse().unwrap();
        assert_eq!(one.min, Duration::from_secs(9));
        assert_eq!(one.max, Duration::from_secs(11));
        let range: IntervalSpec = "2-5".parse().unwrap();
        assert_eq!(range.min, Duration::from_secs(2));
        assert_eq!(range.max, Duration::from_secs(5));
        for bad in ["0", "-1", "5-2", "x", "nan"] {
            assert!(bad.parse::<IntervalSpec>().is_err(), "{bad}");
        }
    }
}
