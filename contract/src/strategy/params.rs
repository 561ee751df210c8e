//! Strategy parameters: how a strategy declares them ([`ParamInfo`]) and a
//! small typed parser ([`Params`]) for the string values that arrive from
//! `--param fast=10` on the command line or from a YAML map.
//!
//! A parameter that is not given takes the default declared in the catalog, so
//! the catalog is the one place a default is written. Values are trimmed, then
//! parsed strictly:
//!
//! | kind | accepted | example |
//! | --- | --- | --- |
//! | `integer` | an optionally signed decimal integer | `10`, `+3` |
//! | `number` | a finite decimal number | `30`, `72.5`, `1e-3` |
//! | `bool` | `true` or `false` | `true` |

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::StrategyError;

/// The kind of an integer parameter.
pub const INTEGER: &str = "integer";
/// The kind of a (finite, real) number parameter.
pub const NUMBER: &str = "number";
/// The kind of a boolean parameter.
pub const BOOL: &str = "bool";

/// One parameter a strategy accepts, as listed by [`catalog`](super::catalog).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ParamInfo {
    /// The name, e.g. `"fast"`.
    pub name: &'static str,
    /// [`INTEGER`], [`NUMBER`] or [`BOOL`].
    pub kind: &'static str,
    /// The value used when the parameter is not given, as it would be written.
    pub default: &'static str,
    /// One line saying what it does.
    pub doc: &'static str,
}

impl ParamInfo {
    /// An integer parameter.
    pub const fn integer(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: INTEGER,
            default,
            doc,
        }
    }

    /// A number parameter.
    pub const fn number(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: NUMBER,
            default,
            doc,
        }
    }

    /// A boolean parameter.
    pub const fn bool(name: &'static str, default: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            kind: BOOL,
            default,
            doc,
        }
    }
}

/// Parses an integer; the error is the reason, for [`StrategyError::BadParam`].
pub fn parse_integer(value: &str) -> Result<i64, &'static str> {
    value.trim().parse().map_err(|_| "not an integer")
}

/// Parses a finite number; the error is the reason.
pub fn parse_number(value: &str) -> Result<f64, &'static str> {
    match value.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err("not a finite number"),
        Err(_) => Err("not a number"),
    }
}

/// Parses `true` or `false`; the error is the reason.
pub fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("not a bool (true or false)"),
    }
}

/// The parameters given to one strategy, checked against its declared list.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    strategy: &'static str,
    declared: &'static [ParamInfo],
    given: &'a BTreeMap<String, String>,
}

impl<'a> Params<'a> {
    /// Wraps `given` for `strategy`; fails on the first name not in `declared`.
    pub fn new(
        strategy: &'static str,
        declared: &'static [ParamInfo],
        given: &'a BTreeMap<String, String>,
    ) -> Result<Self, StrategyError> {
        let params = Self {
            strategy,
            declared,
            given,
        };
        match given
            .keys()
            .find(|name| !declared.iter().any(|p| p.name == name.as_str()))
        {
            Some(unknown) => Err(params.unknown(unknown)),
            None => Ok(params),
        }
    }

    /// The integer parameter `name` (given or default).
    pub fn integer(&self, name: &str) -> Result<i64, StrategyError> {
        self.parse(name, parse_integer)
    }

    /// The number parameter `name` (given or default).
    pub fn number(&self, name: &str) -> Result<f64, StrategyError> {
        self.parse(name, parse_number)
    }

    /// The boolean parameter `name` (given or default).
    pub fn bool(&self, name: &str) -> Result<bool, StrategyError> {
        self.parse(name, parse_bool)
    }

    /// The integer parameter `name` as a period: not negative. Its range is
    /// checked by the strategy's parameter type (see [`check_period`](super::check_period)).
    pub fn period(&self, name: &str) -> Result<usize, StrategyError> {
        let value = self.integer(name)?;
        usize::try_from(value)
            .map_err(|_| self.bad(name, value.to_string(), "must not be negative".to_string()))
    }

    fn parse<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Result<T, &'static str>,
    ) -> Result<T, StrategyError> {
        let Some(info) = self.declared.iter().find(|p| p.name == name) else {
            return Err(self.unknown(name));
        };
        let raw = self.given.get(name).map_or(info.default, String::as_str);
        parse(raw).map_err(|reason| self.bad(name, raw.to_string(), reason.to_string()))
    }

    fn bad(&self, name: &str, value: String, reason: String) -> StrategyError {
        StrategyError::BadParam {
            param: name.to_string(),
            value,
            reason,
        }
    }

    fn unknown(&self, name: &str) -> StrategyError {
        StrategyError::UnknownParam {
            strategy: self.strategy,
            param: name.to_string(),
            known: self.declared.iter().map(|p| p.name).collect(),
        }
    }
}

/// The longest indicator window (in bars) any strategy may ask for.
pub const MAX_PERIOD: usize = 100_000;

/// One strategy's catalog entry: `aegis-worker strategies` prints these and
/// the CRD's schema documents them.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StrategyInfo {
    /// The registry name, e.g. `"sma-cross"`.
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// The parameters it accepts, with their defaults.
    pub params: &'static [ParamInfo],
}

/// Checks `min <= value <= MAX_PERIOD` for the period parameter `param`.
pub fn check_period(param: &str, value: usize, min: usize) -> Result<usize, StrategyError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(StrategyError::BadParam {
            param: param.to_string(),
            value: value.to_string(),
            reason: format!("must be between {min} and {MAX_PERIOD}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_accept_their_kind_and_say_why_not() {
        assert_eq!(parse_integer(" 12 "), Ok(12));
        assert_eq!(parse_integer("-3"), Ok(-3));
        assert_eq!(parse_integer("1.5"), Err("not an integer"));
        assert_eq!(parse_integer(""), Err("not an integer"));
        assert_eq!(parse_number("72.5"), Ok(72.5));
        assert_eq!(parse_number("1e-3"), Ok(1e-3));
        assert_eq!(parse_number("NaN"), Err("not a finite number"));
        assert_eq!(parse_number("inf"), Err("not a finite number"));
        assert_eq!(parse_number("thirty"), Err("not a number"));
        assert_eq!(parse_bool("true"), Ok(true));
        assert_eq!(parse_bool(" false"), Ok(false));
        assert!(parse_bool("yes").is_err());
        assert!(parse_bool("1").is_err());
    }

    const DECLARED: &[ParamInfo] = &[
        ParamInfo::integer("n", "5", "a count"),
        ParamInfo::bool("on", "false", "a switch"),
    ];

    #[test]
    fn defaults_fill_in_and_given_values_win() {
        let mut given = BTreeMap::new();
        given.insert("on".to_string(), "true".to_string());
        let p = Params::new("test", DECLARED, &given).unwrap();
        assert_eq!(p.integer("n").unwrap(), 5);
        assert!(p.bool("on").unwrap());
        assert_eq!(p.period("n").unwrap(), 5);
    }

    #[test]
    fn negative_period_and_undeclared_lookup_are_errors() {
        let mut given = BTreeMap::new();
        given.insert("n".to_string(), "-2".to_string());
        let p = Params::new("test", DECLARED, &given).unwrap();
        assert_eq!(
            p.period("n").unwrap_err().to_string(),
            "param n = \"-2\": must not be negative"
        );
        assert!(matches!(
            p.number("missing"),
            Err(StrategyError::UnknownParam { .. })
        ));
    }
}
