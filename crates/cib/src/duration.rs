//! Intervals and timeouts in Pacemaker's formats, as milliseconds.

/// Parse a duration as Pacemaker does for intervals and timeouts, into milliseconds.
///
/// Accepted: an integer or decimal number with an optional unit (`ms`/`msec`, `us`/`usec`,
/// `s`/`sec` (the default), `m`/`min`, `h`/`hr`; case-insensitive; blanks allowed around
/// the number and unit), or an ISO 8601 duration such as `PT5M`, `P1DT2H`, `PT1.5S`.
/// Returns `None` for anything else (including negative values).
pub fn parse_ms(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.starts_with(['P', 'p']) {
        return parse_iso8601(t);
    }
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" => 1000.0,
        "ms" | "msec" => 1.0,
        "us" | "usec" => 0.001,
        "m" | "min" => 60_000.0,
        "h" | "hr" => 3_600_000.0,
        _ => return None,
    };
    let v: f64 = num.parse().ok()?;
    let ms = v * factor;
    (ms.is_finite() && ms < u64::MAX as f64).then_some(ms as u64)
}

fn parse_iso8601(t: &str) -> Option<u64> {
    let body = &t[1..];
    if body.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in body.chars() {
        match c {
            'T' | 't' if num.is_empty() && !in_time => in_time = true,
            '0'..='9' | '.' | ',' => num.push(if c == ',' { '.' } else { c }),
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                let secs = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => 365.0 * 86400.0,
                    ('M', false) => 30.0 * 86400.0,
                    ('W', false) => 7.0 * 86400.0,
                    ('D', false) => 86400.0,
                    ('H', _) => 3600.0,
                    ('M', true) => 60.0,
                    ('S', _) => 1.0,
                    _ => return None,
                };
                total += v * secs * 1000.0;
                any = true;
            }
        }
    }
    (num.is_empty() && any && total.is_finite() && total < u64::MAX as f64).then_some(total as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn pacemaker_units_and_iso8601() {
        for (s, v) in [
            ("0", 0),
            ("10", 10_000),
            ("10s", 10_000),
            ("10 sec", 10_000),
            ("1.5s", 1_500),
            ("500ms", 500),
            ("500msec", 500),
            ("2000us", 2),
            ("5m", 300_000),
            ("5min", 300_000),
            ("2h", 7_200_000),
            ("1hr", 3_600_000),
            ("PT5M", 300_000),
            ("P1DT2H", 93_600_000),
            ("PT1.5S", 1_500),
            ("P40S", 40_000),
        ] {
            assert_eq!(parse_ms(s), Some(v), "{s}");
        }
        for s in ["", "abc", "10x", "-5", "P", "PT", "1.2.3", "PT5"] {
            assert_eq!(parse_ms(s), None, "{s}");
        }
    }
}
