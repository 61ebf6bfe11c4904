//! `Range` on blob downloads (one range, RFC 9110) and `Content-Range` on
//! upload chunks (`<start>-<end>`, inclusive).

/// What a `Range` header asks of a blob of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// No usable range: the whole blob, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// A range the blob cannot satisfy, 416.
    Unsatisfiable,
}

/// Reads a `Range` header against a blob of `size` bytes. A header that is
/// not a single `bytes=` range is ignored (the whole blob), as RFC 9110
/// allows.
pub fn wanted(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => Wanted::Unsatisfiable,
            Some(n) if size > 0 => Wanted::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::Whole,
        },
        // bytes=N-: from N.
        (false, true) => match parse(first) {
            Some(s) if s < size => Wanted::Part {
                start: s,
                end: size - 1,
            },
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::Whole,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(s), Some(e)) if s > e => Wanted::Unsatisfiable,
            (Some(s), Some(e)) if s < size => Wanted::Part {
                start: s,
                end: e.min(size - 1),
            },
            (Some(_), Some(_)) => Wanted::Unsatisfiable,
            _ => Wanted::Whole,
        },
        (true, true) => Wanted::Whole,
    }
}

/// An upload chunk's `Content-Range: <start>-<end>`; `None` when malformed.
pub fn chunk_range(header: &str) -> Option<(u64, u64)> {
    let h = header.trim();
    let h = h.strip_prefix("bytes ").unwrap_or(h);
    let (s, e) = h.split_once('-')?;
    let (s, e) = (s.parse::<u64>().ok()?, e.parse::<u64>().ok()?);
    (s <= e).then_some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_the_conformance_suite_asks() {
        let size = 2048;
        let part = |start, end| Wanted::Part { start, end };
        assert_eq!(wanted(Some("bytes=500-1499"), size), part(500, 1499));
        assert_eq!(wanted(Some("bytes=500-"), size), part(500, 2047));
        assert_eq!(wanted(Some("bytes=-500"), size), part(1548, 2047));
        assert_eq!(wanted(Some("bytes=2000-5000"), size), part(2000, 2047));
        assert_eq!(wanted(Some("bytes=500-0"), size), Wanted::Unsatisfiable);
        assert_eq!(
            wanted(Some("bytes=5000-10000"), size),
            Wanted::Unsatisfiable
        );
        assert_eq!(wanted(Some("bytes=-5000"), size), part(0, 2047));
        assert_eq!(wanted(None, size), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=1-2,4-5"), size), Wanted::Whole);
        assert_eq!(wanted(Some("items=1-2"), size), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn chunk_ranges_are_inclusive_pairs() {
        assert_eq!(chunk_range("0-99"), Some((0, 99)));
        assert_eq!(chunk_range("bytes 5-5"), Some((5, 5)));
        for bad in ["", "5", "-5", "9-1", "a-b", "1-2-3"] {
            assert_eq!(chunk_range(bad), None, "{bad}");
        }
    }
}
