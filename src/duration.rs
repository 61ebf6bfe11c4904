//! Go's `time.ParseDuration`, which every duration in a Distribution
//! configuration goes through (`20m`, `1h30m`, `300ms`). Imports nothing of ours.

use std::time::Duration;

/// Parses a Go duration string: `20m`, `1h30m`, `1.5h`, `300ms`, `0`.
/// Negative durations and bare numbers other than `0` are refused.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() || negative {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * scale;
        rest = tail;
    }
    Some(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let s = |x: &str| parse_go_duration(x).map(|d| d.as_secs_f64());
        assert_eq!(s("20m"), Some(1200.0));
        assert_eq!(s("1h30m"), Some(5400.0));
        assert_eq!(s("1.5h"), Some(5400.0));
        assert_eq!(s("300ms"), Some(0.3));
        assert_eq!(s("0"), Some(0.0));
        assert_eq!(s("20"), None);
        assert_eq!(s("-5s"), None);
        assert_eq!(s("twenty minutes"), None);
        assert_eq!(s(""), None);
    }
}
