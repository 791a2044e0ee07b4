//! Rule evaluation against a node's attributes, as Pacemaker's rule engine does it for
//! location rules: `#uname`, `#id`, `#kind` and user attributes; string (case-insensitive),
//! integer, number and version comparisons; `and`/`or` combination and nested rules.
use std::cmp::Ordering;
use std::collections::BTreeMap;

use cib::model::{BooleanOp, Condition, DateExpression, Expression, Rule};

/// A node's attributes as rules see them.
pub(crate) type Attrs = BTreeMap<String, String>;

/// Whether `rule` holds on a node with attributes `attrs` at time `now`.
pub(crate) fn rule_holds(rule: &Rule, attrs: &Attrs, now: Option<i64>) -> bool {
    if rule.conditions.is_empty() {
        return true;
    }
    let mut results = rule.conditions.iter().map(|c| match c {
        Condition::Expression(e) => expression_holds(e, attrs),
        Condition::Rule(r) => rule_holds(r, attrs, now),
        Condition::Date(d) => date_holds(d, now),
    });
    match rule.boolean_op {
        BooleanOp::And => results.all(|r| r),
        BooleanOp::Or => results.any(|r| r),
    }
}

fn expression_holds(e: &Expression, attrs: &Attrs) -> bool {
    let node_value = attrs.get(&e.attribute).map(String::as_str);
    let op = e.operation.to_ascii_lowercase();
    match op.as_str() {
        "defined" => return node_value.is_some(),
        "not_defined" => return node_value.is_none(),
        _ => {}
    }
    if e.value_source
        .as_deref()
        .is_some_and(|s| !s.eq_ignore_ascii_case("literal"))
    {
        // value-source=param/meta needs the resource's parameters: not supported here.
        return false;
    }
    let Some(node_value) = node_value else {
        return op == "ne";
    };
    let Some(value) = e.value.as_deref() else {
        return false;
    };
    let kind = match e.value_type.as_deref().map(str::to_ascii_lowercase) {
        Some(t) => t,
        None if matches!(op.as_str(), "lt" | "lte" | "gt" | "gte") => "number".into(),
        None => "string".into(),
    };
    let ord = match kind.as_str() {
        "integer" => match (leading_int(node_value), leading_int(value)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(compare_strings(node_value, value)),
        },
        "number" => {
            match (
                node_value.trim().parse::<f64>(),
                value.trim().parse::<f64>(),
            ) {
                (Ok(a), Ok(b)) => a.partial_cmp(&b),
                _ => Some(compare_strings(node_value, value)),
            }
        }
        "version" => Some(compare_versions(node_value, value)),
        _ => Some(compare_strings(node_value, value)),
    };
    let Some(ord) = ord else {
        return false;
    };
    match op.as_str() {
        "eq" => ord == Ordering::Equal,
        "ne" => ord != Ordering::Equal,
        "lt" => ord == Ordering::Less,
        "lte" => ord != Ordering::Greater,
        "gt" => ord == Ordering::Greater,
        "gte" => ord != Ordering::Less,
        _ => false,
    }
}

/// `gt`, `lt` and `in_range` (with `start`/`end`) against "now"; `date_spec` and durations
/// are not evaluated (false). Without "now" no date expression holds.
pub(crate) fn date_holds(d: &DateExpression, now: Option<i64>) -> bool {
    let Some(now) = now else {
        return false;
    };
    let start = d.start.as_deref().and_then(parse_date);
    let end = d.end.as_deref().and_then(parse_date);
    match d.operation.to_ascii_lowercase().as_str() {
        "gt" => start.is_some_and(|s| now > s),
        "lt" => end.is_some_and(|e| now < e),
        "in_range" => {
            (start.is_some() || end.is_some())
                && start.is_none_or(|s| now >= s)
                && end.is_none_or(|e| now <= e)
        }
        _ => false,
    }
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS]][Z]` (UTC) to seconds since the epoch.
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':').map(|x| x.parse::<i64>());
    let hh = t.next().and_then(Result::ok).unwrap_or(0);
    let mm = t.next().and_then(Result::ok).unwrap_or(0);
    let ss = t.next().and_then(Result::ok).unwrap_or(0);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// An integer as Pacemaker reads one for `type="integer"`: the leading digits (`3.6` is 3).
fn leading_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let sign = usize::from(t.starts_with(['+', '-']));
    let end = t[sign..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(t.len(), |i| i + sign);
    t[..end].parse().ok()
}

fn compare_strings(a: &str, b: &str) -> Ordering {
    a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase())
}

fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0))
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(0),
            pb.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_strings_compare_as_pacemaker_does() {
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("2.0", "2"), Ordering::Equal);
        assert_eq!(compare_strings("Node1", "node1"), Ordering::Equal);
        assert_eq!(parse_date("1970-01-02"), Some(86_400));
        assert_eq!(parse_date("2005-02-20 12:00:00"), Some(1_108_900_800));
    }
}
