//! The last few values of one series (a price field or an indicator), as
//! many as the rules look back: this bar's and `depth - 1` earlier ones.
//! A missing value (not warmed, refused) is NaN, and `null` when saved.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A ring of the last `values.len()` values; `head` is this bar's.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct History {
    values: Vec<f64>,
    head: usize,
}

impl History {
    /// `depth` (at least 1) missing values.
    pub fn new(depth: usize) -> Self {
        History {
            values: vec![f64::NAN; depth.max(1)],
            head: 0,
        }
    }

    /// How many values it keeps.
    pub fn depth(&self) -> usize {
        self.values.len()
    }

    /// Makes `value` this bar's; the oldest is forgotten.
    #[inline]
    pub fn push(&mut self, value: f64) {
        self.head += 1;
        if self.head == self.values.len() {
            self.head = 0;
        }
        self.values[self.head] = value;
    }

    /// This bar's value.
    #[inline]
    pub fn now(&self) -> f64 {
        self.values[self.head]
    }

    /// The value `back` bars ago (`back < depth`, which the compiler
    /// guarantees; beyond it, NaN).
    #[inline]
    pub fn get(&self, back: usize) -> f64 {
        let len = self.values.len();
        if back >= len {
            return f64::NAN;
        }
        self.values[(self.head + len - back) % len]
    }
}

/// The saved form: the values oldest first, missing ones as `null`.
#[derive(Serialize, Deserialize)]
struct Saved {
    values: Vec<Option<f64>>,
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let depth = self.depth();
        let values = (0..depth)
            .rev()
            .map(|back| Some(self.get(back)).filter(|v| !v.is_nan()))
            .collect();
        Saved { values }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let saved = Saved::deserialize(d)?;
        if saved.values.is_empty() {
            return Err(serde::de::Error::custom(
                "a history holds at least one value",
            ));
        }
        if let Some(bad) = saved.values.iter().flatten().find(|v| !v.is_finite()) {
            return Err(serde::de::Error::custom(format!(
                "history value {bad} is not finite"
            )));
        }
        let values: Vec<f64> = saved.values.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        Ok(History {
            head: values.len() - 1,
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_depth_values_and_round_trips() {
        let mut h = History::new(3);
        assert!(h.now().is_nan());
        for x in [1.0, 2.0, 3.0, 4.0] {
            h.push(x);
        }
        assert_eq!((h.get(0), h.get(1), h.get(2)), (4.0, 3.0, 2.0));
        assert!(h.get(3).is_nan());
        h.push(f64::NAN);
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json, serde_json::json!({"values": [3.0, 4.0, null]}));
        let back: History = serde_json::from_value(json).unwrap();
        assert_eq!(back.get(1), 4.0);
        assert!(back.now().is_nan());
        assert!(serde_json::from_value::<History>(serde_json::json!({"values": []})).is_err());
        assert!(serde_json::from_str::<History>(r#"{"values": [1e400]}"#).is_err());
    }
}
