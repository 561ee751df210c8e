//! Money in the configuration: exact decimals written as YAML numbers
//! (`cash: 10000`, `fee_bps: 7.5`) or strings (`cash: "10000.50"`).
//!
//! A number is converted through its shortest decimal text, so `0.1` is
//! exactly 0.1, not the nearest binary fraction.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Int(i64),
    Float(f64),
    Text(String),
}

fn parse<E: serde::de::Error>(written: Written) -> Result<Decimal, E> {
    let text = match written {
        Written::Int(i) => return Ok(Decimal::from(i)),
        Written::Float(f) if f.is_finite() => f.to_string(),
        Written::Float(f) => return Err(E::custom(format!("{f} is not a finite amount"))),
        Written::Text(t) => t,
    };
    Decimal::from_str(text.trim())
        .or_else(|_| Decimal::from_scientific(text.trim()))
        .map_err(|e| E::custom(format!("{text:?} is not a decimal amount: {e}")))
}

/// A required decimal.
pub fn any<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    parse(Written::deserialize(d)?)
}

/// An optional decimal (`null` or absent: none).
pub fn any_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Option::<Written>::deserialize(d)?.map(parse).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Money {
        #[serde(deserialize_with = "any")]
        v: Decimal,
    }

    fn money(yaml: &str) -> Result<Decimal, String> {
        serde_yaml::from_str::<Money>(yaml)
            .map(|m| m.v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_strings_are_exact() {
        assert_eq!(money("v: 10000"), Ok(Decimal::from(10_000)));
        assert_eq!(money("v: 0.1").map(|d| d.to_string()), Ok("0.1".into()));
        assert_eq!(
            money("v: '12.345'").map(|d| d.to_string()),
            Ok("12.345".into())
        );
        assert_eq!(
            money("v: 1e-5").map(|d| d.to_string()),
            Ok("0.00001".into())
        );
        assert!(money("v: lots").unwrap_err().contains("\"lots\""));
        assert!(money("v: .nan").is_err());
    }
}
