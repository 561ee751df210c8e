//! Candle intervals, spelled the way Binance spells them (`1s`, `1m`, `4h`, `1d`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The intervals Binance serves klines for, with their length in milliseconds.
/// `1M` (a calendar month) is left out: its length varies, and a replayed or
/// simulated series needs a fixed spacing.
const INTERVALS: [(&str, u64); 15] = [
    ("1s", 1_000),
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
];

/// A candle interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    name: &'static str,
    ms: u64,
}

impl Interval {
    /// Its length in milliseconds.
    pub fn as_millis(self) -> u64 {
        self.ms
    }

    /// Its Binance name, e.g. `1m`.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// Every accepted spelling, for error messages and docs.
    pub fn known() -> impl Iterator<Item = &'static str> {
        INTERVALS.iter().map(|(name, _)| *name)
    }
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            name: "1s",
            ms: 1_000,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        INTERVALS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|&(name, ms)| Interval { name, ms })
            .ok_or_else(|| {
                format!(
                    "unknown interval {s:?}; expected one of {}",
                    Interval::known().collect::<Vec<_>>().join(", ")
                )
            })
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binance_names_and_rejects_others() {
        assert_eq!(
            "4h".parse::<Interval>().map(Interval::as_millis),
            Ok(14_400_000)
        );
        assert_eq!(
            "1m".parse::<Interval>().map(|i| i.to_string()),
            Ok("1m".into())
        );
        let err = "7m".parse::<Interval>().unwrap_err();
        assert!(err.contains("\"7m\"") && err.contains("15m"), "{err}");
        assert!(
            "1M".parse::<Interval>().is_err(),
            "calendar months have no fixed length"
        );
    }
}
