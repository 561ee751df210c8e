//! The parameter grid of a sweep: `--grid name=SPEC` per parameter, where
//! SPEC is a range `start..end:step` (both ends included, `step` > 0;
//! `:step` may be left out for 1) or a list `a,b,c` of values as the
//! strategy takes them (numbers, `true`/`false`). The combinations are
//! every choice of one value per parameter, the first parameter varying
//! slowest.

use std::collections::BTreeMap;

/// The most combinations one sweep may ask for.
pub const MAX_COMBINATIONS: usize = 1_000_000;

/// One `--grid` argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The strategy parameter's name.
    pub name: String,
    /// Its values, as text the strategy parses.
    pub values: Vec<String>,
}

/// Why a `--grid` argument is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--grid {spec:?}: {reason}")]
pub struct GridError {
    /// The argument.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses one `--grid name=SPEC`.
pub fn parse_axis(spec: &str) -> Result<Axis, GridError> {
    let fail = |reason: &str| GridError {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| fail("expected name=start..end:step or name=a,b,c"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(fail("the parameter name is empty"));
    }
    let values = values.trim();
    let values = match values.split_once("..") {
        Some((start, rest)) => range(start, rest).map_err(|r| fail(&r))?,
        None => {
            let list: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            if list.iter().any(String::is_empty) {
                return Err(fail("an empty value in the list"));
            }
            list
        }
    };
    Ok(Axis {
        name: name.to_string(),
        values,
    })
}

/// `start..end[:step]` as decimal text: integers when all three are.
fn range(start: &str, rest: &str) -> Result<Vec<String>, String> {
    let (end, step) = rest.split_once(':').unwrap_or((rest, "1"));
    let texts = [start.trim(), end.trim(), step.trim()];
    let ints: Option<Vec<i64>> = texts.iter().map(|t| t.parse::<i64>().ok()).collect();
    if let Some(&[start, end, step]) = ints.as_deref() {
        if step <= 0 {
            return Err(format!("the step {step} is not positive"));
        }
        if end < start {
            return Err(format!("the range ends ({end}) before it starts ({start})"));
        }
        let count = (end - start) / step + 1;
        if count > MAX_COMBINATIONS as i64 {
            return Err(format!("{count} values are too many"));
        }
        return Ok((0..count).map(|i| (start + i * step).to_string()).collect());
    }
    let nums: Result<Vec<f64>, String> = texts
        .iter()
        .map(|t| {
            t.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{t:?} is not a number"))
        })
        .collect();
    let [start, end, step] = nums?[..] else {
        return Err("expected start..end:step".into());
    };
    if step <= 0.0 {
        return Err(format!("the step {step} is not positive"));
    }
    if end < start {
        return Err(format!("the range ends ({end}) before it starts ({start})"));
    }
    // A little slack so that 0.1..0.3:0.1 ends at 0.3 despite rounding.
    let count = ((end - start) / step + 1e-9).floor() + 1.0;
    if count > MAX_COMBINATIONS as f64 {
        return Err(format!("{count} values are too many"));
    }
    Ok((0..count as usize)
        .map(|i| format!("{}", start + i as f64 * step))
        .collect())
}

/// Every combination of the axes' values, the first axis varying slowest;
/// an error when they are too many or a name repeats.
pub fn combinations(axes: &[Axis]) -> Result<Vec<BTreeMap<String, String>>, GridError> {
    let fail = |spec: &str, reason: String| GridError {
        spec: spec.to_string(),
        reason,
    };
    let mut total = 1usize;
    for (i, axis) in axes.iter().enumerate() {
        if axes[..i].iter().any(|a| a.name == axis.name) {
            return Err(fail(&axis.name, "the parameter is given twice".into()));
        }
        total = total
            .checked_mul(axis.values.len())
            .filter(|n| *n <= MAX_COMBINATIONS)
            .ok_or_else(|| {
                fail(
                    &axis.name,
                    format!("more than {MAX_COMBINATIONS} combinations"),
                )
            })?;
    }
    let mut out = Vec::with_capacity(total);
    for mut index in 0..total {
        let mut combo = BTreeMap::new();
        for axis in axes.iter().rev() {
            let n = axis.values.len();
            combo.insert(axis.name.clone(), axis.values[index % n].clone());
            index /= n;
        }
        out.push(combo);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_their_product() {
        let fast = parse_axis("fast=5..30:5").expect("a range");
        assert_eq!(fast.values, ["5", "10", "15", "20", "25", "30"]);
        assert_eq!(
            parse_axis("slow=20..23").expect("step 1").values,
            ["20", "21", "22", "23"]
        );
        assert_eq!(
            parse_axis("x=0.1..0.3:0.1").expect("decimals").values.len(),
            3
        );
        let short = parse_axis("short=true,false").expect("a list");
        assert_eq!(short.values, ["true", "false"]);
        assert_eq!(parse_axis("slow=20..28:5").expect("").values, ["20", "25"]);
        let all = combinations(&[fast, short]).expect("12");
        assert_eq!(all.len(), 12);
        assert_eq!(all[0]["fast"], "5");
        assert_eq!(all[0]["short"], "true");
        assert_eq!(all[1]["fast"], "5");
        assert_eq!(all[1]["short"], "false");
        assert_eq!(all[11]["fast"], "30");
    }

    #[test]
    fn bad_specs_are_errors_naming_the_spec_and_the_problem() {
        for (spec, expected) in [
            ("fast", "expected name="),
            ("=1..2", "name is empty"),
            ("fast=5..30:0", "not positive"),
            ("fast=5..30:-5", "not positive"),
            ("fast=30..5", "ends (5) before it starts (30)"),
            ("fast=a..b", "\"a\" is not a number"),
            ("fast=1,,2", "empty value"),
            ("fast=1..100000000000", "too many"),
        ] {
            let err = parse_axis(spec).expect_err(spec).to_string();
            assert!(
                err.contains(spec) && err.contains(expected),
                "{spec}: {err}"
            );
        }
        let a = parse_axis("fast=1..2").expect("ok");
        let err = combinations(&[a.clone(), a]).expect_err("twice");
        assert!(err.to_string().contains("given twice"), "{err}");
        let big = parse_axis("a=1..1000000").expect("ok");
        let two = parse_axis("b=1,2").expect("ok");
        assert!(combinations(&[big, two]).is_err());
    }
}
