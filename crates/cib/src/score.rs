//! [`Score`]: Pacemaker's saturating integer with ±INFINITY.
use std::fmt;
use std::ops::Add;

/// Pacemaker's score: an integer clamped to ±1,000,000, where 1,000,000 is `INFINITY`.
///
/// Addition saturates, and `-INFINITY` wins over `+INFINITY` (a ban beats a preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(i32);

impl Score {
    /// The value of `INFINITY`.
    pub const INFINITY_VALUE: i32 = 1_000_000;
    /// `+INFINITY`.
    pub const INFINITY: Score = Score(Self::INFINITY_VALUE);
    /// `-INFINITY`.
    pub const MINUS_INFINITY: Score = Score(-Self::INFINITY_VALUE);
    /// Zero.
    pub const ZERO: Score = Score(0);

    /// A score from an integer, clamped to ±INFINITY.
    pub fn new(v: i64) -> Score {
        Score(v.clamp(-(Self::INFINITY_VALUE as i64), Self::INFINITY_VALUE as i64) as i32)
    }

    /// The integer value.
    pub fn value(self) -> i32 {
        self.0
    }

    /// Whether this is `+INFINITY`.
    pub fn is_infinity(self) -> bool {
        self == Self::INFINITY
    }

    /// Whether this is `-INFINITY`.
    pub fn is_minus_infinity(self) -> bool {
        self == Self::MINUS_INFINITY
    }

    /// Parse a score as Pacemaker does: `INFINITY`, `+INFINITY`, `-INFINITY` (any case), or an
    /// optionally signed decimal integer, clamped to ±INFINITY. Surrounding blanks are allowed.
    /// The node-health colours (`red`, `yellow`, `green`) are not scores here.
    pub fn parse(s: &str) -> Option<Score> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("+infinity") {
            return Some(Score::INFINITY);
        }
        if t.eq_ignore_ascii_case("-infinity") {
            return Some(Score::MINUS_INFINITY);
        }
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let neg = t.starts_with('-');
        // Anything longer than 18 digits is beyond INFINITY anyway.
        let v: i64 = if digits.len() > 18 {
            i64::MAX
        } else {
            digits.parse().ok()?
        };
        Some(Score::new(if neg { -v } else { v }))
    }
}

/// Pacemaker's reading of a malformed score: the leading integer (`1.0` → 1), as `strtoll`
/// would take it. `None` when there is no leading integer at all.
pub fn parse_prefix(s: &str) -> Option<Score> {
    let t = s.trim_start();
    let sign = usize::from(t.starts_with(['+', '-']));
    let end = t[sign..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(t.len(), |i| i + sign);
    if end == sign {
        return None;
    }
    Score::parse(&t[..end])
}

impl Add for Score {
    type Output = Score;
    fn add(self, rhs: Score) -> Score {
        if self.is_minus_infinity() || rhs.is_minus_infinity() {
            return Score::MINUS_INFINITY;
        }
        if self.is_infinity() || rhs.is_infinity() {
            return Score::INFINITY;
        }
        Score::new(self.0 as i64 + rhs.0 as i64)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Score::INFINITY => f.write_str("INFINITY"),
            Score::MINUS_INFINITY => f.write_str("-INFINITY"),
            Score(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pacemaker_spellings() {
        for (s, v) in [
            ("INFINITY", Score::INFINITY),
            ("+INFINITY", Score::INFINITY),
            ("infinity", Score::INFINITY),
            ("-INFINITY", Score::MINUS_INFINITY),
            ("-infinity", Score::MINUS_INFINITY),
            (" 100 ", Score::new(100)),
            ("+5", Score::new(5)),
            ("-5", Score::new(-5)),
            ("2000000", Score::INFINITY),
            ("-99999999999999999999999", Score::MINUS_INFINITY),
        ] {
            assert_eq!(Score::parse(s), Some(v), "{s}");
        }
        for s in ["", "abc", "1.5", "inf", "--1", "+"] {
            assert_eq!(Score::parse(s), None, "{s}");
        }
    }

    #[test]
    fn addition_saturates_and_minus_infinity_wins() {
        assert_eq!(
            Score::INFINITY + Score::MINUS_INFINITY,
            Score::MINUS_INFINITY
        );
        assert_eq!(
            Score::MINUS_INFINITY + Score::INFINITY,
            Score::MINUS_INFINITY
        );
        assert_eq!(Score::INFINITY + Score::new(-5), Score::INFINITY);
        assert_eq!(Score::new(999_999) + Score::new(5), Score::INFINITY);
        assert_eq!(Score::new(-999_999) + Score::new(-5), Score::MINUS_INFINITY);
        assert_eq!(Score::new(3) + Score::new(4), Score::new(7));
        assert_eq!(Score::INFINITY.to_string(), "INFINITY");
    }
}
