//! One bar's evaluation of a compiled rule: numbers are `f64` with NaN for
//! "unknown", conditions are `Option<bool>` with `None` for "unknown".
//!
//! Unknown comes from a series without a value (not yet warmed, or an
//! indicator that refused its input) and from arithmetic that is not a
//! finite number (a division by zero, an overflow). It propagates like
//! CEL's errors: through arithmetic and comparisons, and through `&&` / `||`
//! unless the other side decides (`false && unknown` is false, `true ||
//! unknown` is true). Nothing here panics: every series read is within the
//! depth the compiler recorded, which the history was built with.

use aegis_contract::strategy::rules::program::{Arith, Compare, Cond, Num};

use super::history::History;

/// What a rule reads on one bar besides literals.
pub(super) struct Bar<'a> {
    pub history: &'a [History],
    pub bars_held: f64,
    pub pnl_fraction: f64,
    pub position_open: bool,
}

/// The value of `num` on this bar; NaN when unknown.
pub(super) fn num(n: &Num, bar: &Bar) -> f64 {
    match n {
        Num::Const(x) => *x,
        Num::Series { slot, back } => bar.history[*slot].get(*back),
        Num::BarsHeld => bar.bars_held,
        Num::PnlFraction => bar.pnl_fraction,
        Num::Neg(x) => -num(x, bar),
        Num::Abs(x) => num(x, bar).abs(),
        Num::Arith(op, a, b) => {
            let (a, b) = (num(a, bar), num(b, bar));
            if a.is_nan() || b.is_nan() {
                return f64::NAN;
            }
            let r = match op {
                Arith::Add => a + b,
                Arith::Sub => a - b,
                Arith::Mul => a * b,
                Arith::Div => a / b,
                Arith::Rem => a % b,
                Arith::Min => a.min(b),
                Arith::Max => a.max(b),
            };
            if r.is_finite() {
                r
            } else {
                f64::NAN
            }
        }
        Num::Choose(c, a, b) => match cond(c, bar) {
            Some(true) => num(a, bar),
            Some(false) => num(b, bar),
            None => f64::NAN,
        },
    }
}

/// The value of `c` on this bar; `None` when unknown.
pub(super) fn cond(c: &Cond, bar: &Bar) -> Option<bool> {
    match c {
        Cond::Const(b) => Some(*b),
        Cond::PositionOpen => Some(bar.position_open),
        Cond::Not(x) => cond(x, bar).map(|b| !b),
        Cond::And(a, b) => match cond(a, bar) {
            Some(false) => Some(false),
            first => match (first, cond(b, bar)) {
                (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
        },
        Cond::Or(a, b) => match cond(a, bar) {
            Some(true) => Some(true),
            first => match (first, cond(b, bar)) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
        },
        Cond::Compare(op, a, b) => {
            let (a, b) = (num(a, bar), num(b, bar));
            if a.is_nan() || b.is_nan() {
                return None;
            }
            Some(match op {
                Compare::Lt => a < b,
                Compare::Le => a <= b,
                Compare::Gt => a > b,
                Compare::Ge => a >= b,
                Compare::Eq => a == b,
                Compare::Ne => a != b,
            })
        }
        Cond::Same(equal, a, b) => match (cond(a, bar), cond(b, bar)) {
            (Some(a), Some(b)) => Some((a == b) == *equal),
            _ => None,
        },
        Cond::Choose(c, a, b) => match cond(c, bar) {
            Some(true) => cond(a, bar),
            Some(false) => cond(b, bar),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(history: &[History]) -> Bar<'_> {
        Bar {
            history,
            bars_held: 0.0,
            pnl_fraction: 0.0,
            position_open: false,
        }
    }

    fn k(x: f64) -> Box<Num> {
        Box::new(Num::Const(x))
    }

    #[test]
    fn division_by_zero_and_overflow_are_unknown_not_infinite() {
        let b = bar(&[]);
        assert!(num(&Num::Arith(Arith::Div, k(1.0), k(0.0)), &b).is_nan());
        assert!(num(&Num::Arith(Arith::Rem, k(1.0), k(0.0)), &b).is_nan());
        assert!(num(&Num::Arith(Arith::Mul, k(1e300), k(1e300)), &b).is_nan());
        assert!(num(&Num::Arith(Arith::Min, k(f64::NAN), k(1.0)), &b).is_nan());
        assert_eq!(num(&Num::Arith(Arith::Max, k(2.0), k(1.0)), &b), 2.0);
        let unknown = Cond::Compare(
            Compare::Gt,
            Box::new(Num::Arith(Arith::Div, k(1.0), k(0.0))),
            k(0.0),
        );
        assert_eq!(cond(&unknown, &b), None);
        assert_eq!(cond(&Cond::Not(Box::new(unknown.clone())), &b), None);
    }

    #[test]
    fn and_or_absorb_unknown_like_cel() {
        let b = bar(&[]);
        let unknown = || Box::new(Cond::Compare(Compare::Gt, k(f64::NAN), k(0.0)));
        let t = || Box::new(Cond::Const(true));
        let f = || Box::new(Cond::Const(false));
        assert_eq!(cond(&Cond::And(unknown(), f()), &b), Some(false));
        assert_eq!(cond(&Cond::And(f(), unknown()), &b), Some(false));
        assert_eq!(cond(&Cond::And(t(), unknown()), &b), None);
        assert_eq!(cond(&Cond::Or(unknown(), t()), &b), Some(true));
        assert_eq!(cond(&Cond::Or(f(), unknown()), &b), None);
        assert_eq!(cond(&Cond::Same(true, t(), unknown()), &b), None);
        assert_eq!(cond(&Cond::Choose(unknown(), t(), t()), &b), None);
    }
}
