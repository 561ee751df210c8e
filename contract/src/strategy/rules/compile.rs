//! From parsed rules to a [`Program`]: names resolved, types checked
//! (numbers vs conditions), indicator arities and periods checked, look-back
//! and cost bounded. Every error names the rule and the position.

use std::collections::BTreeMap;

use super::program::{
    Arith, Band, Compare, Cond, Field, IndicatorDef, IndicatorKind, Input, MacdPart, Num, Program,
};
use super::syntax::{self, BinOp, Kind, Node};
use super::{RuleError, RulesSpec, MAX_COST, MAX_INDICATORS, MAX_LOOKBACK};
use crate::strategy::params::check_period;

/// The functions a rule can call, for "unknown function" messages: the
/// first [`INDICATORS`] are the indicators.
const FUNCTIONS: &[&str] = &[
    "sma",
    "ema",
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr",
    "prev",
    "crossAbove",
    "crossBelow",
    "abs",
    "min",
    "max",
];

/// How many of [`FUNCTIONS`], from the first, are indicators.
const INDICATORS: usize = 10;

/// Names a rule reads besides its indicators.
const RESERVED: &[&str] = &[
    "open", "high", "low", "close", "volume", "position", "true", "false", "null",
];

/// A compiled expression: a number or a condition.
enum Value {
    Num(Num),
    Cond(Cond),
}

/// Where an error is: the rule's name and its source.
#[derive(Clone, Copy)]
struct Place<'a> {
    rule: &'a str,
    source: &'a str,
}

impl Place<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> RuleError {
        RuleError::at(self.rule, self.source, at, message.into())
    }
}

/// A named indicator while compiling: not yet visited, being resolved (a
/// cycle if met again), or resolved to a series.
enum Named {
    Todo(Node),
    Visiting,
    Done(Input),
}

struct Compiler<'a> {
    spec: &'a RulesSpec,
    named: BTreeMap<String, Named>,
    indicators: Vec<IndicatorDef>,
    /// Lookback of each indicator (inputs included).
    lookbacks: Vec<usize>,
    depth: Vec<usize>,
    warmup: usize,
    cost: usize,
}

/// Compiles `spec`; see [`compile`](super::compile).
pub(super) fn compile(spec: &RulesSpec) -> Result<Program, RuleError> {
    for (name, value) in &spec.params {
        let rule = format!("params.{name}");
        check_name(&rule, "a param's name", name)?;
        if spec.indicators.contains_key(name) {
            return Err(RuleError::whole(
                &rule,
                format!("\"{name}\" is also an indicator's name"),
            ));
        }
        if !value.is_finite() {
            return Err(RuleError::whole(&rule, format!("{value} is not a number")));
        }
    }
    let mut named = BTreeMap::new();
    for (name, source) in &spec.indicators {
        let rule = format!("indicators.{name}");
        check_name(&rule, "an indicator's name", name)?;
        let mut node = syntax::parse(source).map_err(|e| syntax::error(&rule, source, e))?;
        substitute(&mut node, &spec.params);
        named.insert(name.clone(), Named::Todo(node));
    }
    if named.len() > MAX_INDICATORS {
        return Err(RuleError::whole(
            "indicators",
            format!("{} indicators, at most {MAX_INDICATORS}", named.len()),
        ));
    }
    let mut c = Compiler {
        spec,
        named,
        indicators: Vec::new(),
        lookbacks: Vec::new(),
        depth: vec![1; Field::ALL.len()],
        warmup: 0,
        cost: 0,
    };
    let names: Vec<String> = c.named.keys().cloned().collect();
    for name in &names {
        c.resolve(name, None)?;
    }
    let enter_long = c.rule("enter_long", &spec.enter_long)?;
    let exit_long = c.rule("exit_long", &spec.exit_long)?;
    let enter_short = match &spec.enter_short {
        Some(source) => Some(c.rule("enter_short", source)?),
        None => None,
    };
    let exit_short = match &spec.exit_short {
        Some(source) => Some(c.rule("exit_short", source)?),
        None => None,
    };
    if exit_short.is_some() && enter_short.is_none() {
        return Err(RuleError::whole(
            "exit_short",
            "there is no enter_short, so no short to exit",
        ));
    }
    Ok(Program {
        indicators: c.indicators,
        depth: c.depth,
        warmup: c.warmup,
        enter_long,
        exit_long,
        enter_short,
        exit_short,
    })
}

impl Compiler<'_> {
    /// Compiles one entry/exit rule, which must be a condition.
    fn rule(&mut self, rule: &str, source: &str) -> Result<Cond, RuleError> {
        let place = Place { rule, source };
        let mut node = syntax::parse(source).map_err(|e| syntax::error(rule, source, e))?;
        substitute(&mut node, &self.spec.params);
        match self.value(&node, 0, place)? {
            Value::Cond(c) => Ok(c),
            Value::Num(_) => Err(place.err(
                node.at,
                "this is a number, but a rule must be a condition (true or false), e.g. `x > 0`",
            )),
        }
    }

    /// The series of the named indicator `name`, compiling it on first use.
    fn resolve(&mut self, name: &str, used: Option<(Place, usize)>) -> Result<Input, RuleError> {
        let rule = format!("indicators.{name}");
        let entry = self
            .named
            .get_mut(name)
            .map(|n| std::mem::replace(n, Named::Visiting));
        match entry {
            None => unreachable!("resolve is called for declared names only"),
            Some(Named::Done(input)) => {
                self.named.insert(name.to_string(), Named::Done(input));
                Ok(input)
            }
            Some(Named::Visiting) => {
                let (place, at) = used.expect("a cycle is met from a use");
                Err(place.err(at, format!("indicator {name} depends on itself")))
            }
            Some(Named::Todo(node)) => {
                let source = &self.spec.indicators[name];
                let place = Place {
                    rule: &rule,
                    source,
                };
                let input = self.series(&node, place)?;
                self.named.insert(name.to_string(), Named::Done(input));
                Ok(input)
            }
        }
    }

    fn lookback(&self, input: Input) -> usize {
        match input {
            Input::Field(_) | Input::Bar => 0,
            Input::Indicator(i) => self.lookbacks[i],
        }
    }

    fn slot(input: Input) -> usize {
        match input {
            Input::Field(f) => Field::ALL
                .iter()
                .position(|&g| g == f)
                .expect("every field is in ALL"),
            Input::Indicator(i) => Program::slot_of(i),
            Input::Bar => unreachable!("the bar is an indicator's input, never read as a series"),
        }
    }

    /// A node that names a series: a field, a named indicator or an
    /// indicator call.
    fn series(&mut self, node: &Node, place: Place) -> Result<Input, RuleError> {
        self.charge(node, place)?;
        match &node.kind {
            Kind::Ident(name) => {
                if let Some(&field) = Field::ALL.iter().find(|f| f.name() == name) {
                    return Ok(Input::Field(field));
                }
                if self.named.contains_key(name) {
                    return self.resolve(name, Some((place, node.at)));
                }
                Err(self.unknown_name(name, node.at, place))
            }
            Kind::Call(name, args) if name == "atr" => {
                if let Some(series) = args.iter().find(|a| self.is_series(a)) {
                    return Err(place.err(
                        series.at,
                        format!(
                            "atr takes no series: it reads each bar's high, low and close; {}",
                            signature(name)
                        ),
                    ));
                }
                let kind = indicator(name, 0, args, node.at, place)?;
                self.add_indicator(
                    IndicatorDef {
                        kind,
                        input: Input::Bar,
                    },
                    node.at,
                    place,
                )
            }
            Kind::Call(name, args) if is_indicator(name) => {
                let input = self.series(
                    args.first().ok_or_else(|| {
                        place.err(
                            node.at,
                            format!("{name} needs its input first: {}", signature(name)),
                        )
                    })?,
                    place,
                )?;
                let kind = indicator(name, 1, &args[1..], node.at, place)?;
                self.add_indicator(IndicatorDef { kind, input }, node.at, place)
            }
            _ => Err(place.err(
                node.at,
                "an indicator reads a price field (open, high, low, close, volume), \
                 a named indicator or an indicator call",
            )),
        }
    }

    /// Whether `node` names a series (a field, `position`, a named
    /// indicator or an indicator call), for "atr takes no series".
    fn is_series(&self, node: &Node) -> bool {
        match &node.kind {
            Kind::Ident(name) => {
                name == "position"
                    || Field::ALL.iter().any(|f| f.name() == name)
                    || self.named.contains_key(name)
            }
            Kind::Call(name, _) => is_indicator(name),
            _ => false,
        }
    }

    /// The series of `def`: an equal indicator already in the program, or
    /// `def` added to it.
    fn add_indicator(
        &mut self,
        def: IndicatorDef,
        at: usize,
        place: Place,
    ) -> Result<Input, RuleError> {
        if let Some(i) = self.indicators.iter().position(|d| *d == def) {
            return Ok(Input::Indicator(i));
        }
        if self.indicators.len() >= MAX_INDICATORS {
            return Err(place.err(at, format!("more than {MAX_INDICATORS} indicators in all")));
        }
        self.lookbacks
            .push(self.lookback(def.input) + def.kind.lookback());
        self.indicators.push(def);
        self.depth.push(1);
        Ok(Input::Indicator(self.indicators.len() - 1))
    }

    fn unknown_name(&self, name: &str, at: usize, place: Place) -> RuleError {
        let mut known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        known.push("position");
        known.extend(self.named.keys().map(String::as_str));
        place.err(
            at,
            format!("unknown name \"{name}\"; known: {}", known.join(", ")),
        )
    }

    /// Counts one node against [`MAX_COST`].
    fn charge(&mut self, node: &Node, place: Place) -> Result<(), RuleError> {
        self.cost += 1;
        if self.cost > MAX_COST {
            return Err(place.err(
                node.at,
                format!("the rules are too large: more than {MAX_COST} operations per bar"),
            ));
        }
        Ok(())
    }

    /// Reads a series `back` bars ago, recording the look-back and warm-up.
    fn read(
        &mut self,
        input: Input,
        back: usize,
        at: usize,
        place: Place,
    ) -> Result<Num, RuleError> {
        if back > MAX_LOOKBACK {
            return Err(place.err(
                at,
                format!("looks back {back} bars; at most {MAX_LOOKBACK} are kept"),
            ));
        }
        let slot = Self::slot(input);
        self.depth[slot] = self.depth[slot].max(back + 1);
        self.warmup = self.warmup.max(self.lookback(input) + back);
        Ok(Num::Series { slot, back })
    }

    fn num(
        &mut self,
        node: &Node,
        back: usize,
        place: Place,
        what: &str,
    ) -> Result<Num, RuleError> {
        match self.value(node, back, place)? {
            Value::Num(n) => Ok(n),
            Value::Cond(_) => Err(place.err(
                node.at,
                format!("{what} must be a number, but this is a condition"),
            )),
        }
    }

    fn cond(
        &mut self,
        node: &Node,
        back: usize,
        place: Place,
        what: &str,
    ) -> Result<Cond, RuleError> {
        match self.value(node, back, place)? {
            Value::Cond(c) => Ok(c),
            Value::Num(_) => Err(place.err(
                node.at,
                format!("{what} must be a condition, but this is a number"),
            )),
        }
    }

    /// Compiles `node` read `back` bars ago.
    fn value(&mut self, node: &Node, back: usize, place: Place) -> Result<Value, RuleError> {
        self.charge(node, place)?;
        let at = node.at;
        Ok(match &node.kind {
            Kind::Number { value, .. } => Value::Num(Num::Const(*value)),
            Kind::Bool(b) => Value::Cond(Cond::Const(*b)),
            Kind::Ident(name) if name == "position" => {
                return Err(place.err(
                    at,
                    "position is not a value; use position.open, position.bars_held \
                     or position.pnl_fraction",
                ))
            }
            Kind::Ident(_) => {
                let input = self.series(node, place)?;
                Value::Num(self.read(input, back, at, place)?)
            }
            Kind::Select(operand, field) => {
                if !matches!(&operand.kind, Kind::Ident(n) if n == "position") {
                    return Err(place.err(
                        at,
                        format!("no field .{field} here: only position has fields (open, bars_held, pnl_fraction)"),
                    ));
                }
                if back > 0 {
                    return Err(place.err(
                        at,
                        "the position has no history: position fields cannot be read in prev() or [n]",
                    ));
                }
                match field.as_str() {
                    "open" => Value::Cond(Cond::PositionOpen),
                    "bars_held" => Value::Num(Num::BarsHeld),
                    "pnl_fraction" => Value::Num(Num::PnlFraction),
                    other => {
                        return Err(place.err(
                            at,
                            format!("position has no field \"{other}\"; it has open, bars_held, pnl_fraction"),
                        ))
                    }
                }
            }
            Kind::Index(operand, index) => {
                let n =
                    match index.kind {
                        Kind::Number {
                            value,
                            integer: true,
                        } => value as usize,
                        _ => return Err(place.err(
                            index.at,
                            "a look-back x[n] needs a whole number of bars n, written as a literal",
                        )),
                    };
                if n > MAX_LOOKBACK {
                    return Err(place.err(
                        index.at,
                        format!("looks back {n} bars; at most {MAX_LOOKBACK} are kept"),
                    ));
                }
                Value::Num(self.num(operand, back + n, place, "a look-back's series")?)
            }
            Kind::Not(operand) => Value::Cond(Cond::Not(Box::new(self.cond(
                operand,
                back,
                place,
                "the operand of !",
            )?))),
            Kind::Neg(operand) => Value::Num(Num::Neg(Box::new(self.num(
                operand,
                back,
                place,
                "the operand of -",
            )?))),
            Kind::Cond(c, then, otherwise) => {
                let c = Box::new(self.cond(c, back, place, "the condition of ?:")?);
                match (
                    self.value(then, back, place)?,
                    self.value(otherwise, back, place)?,
                ) {
                    (Value::Num(a), Value::Num(b)) => {
                        Value::Num(Num::Choose(c, Box::new(a), Box::new(b)))
                    }
                    (Value::Cond(a), Value::Cond(b)) => {
                        Value::Cond(Cond::Choose(c, Box::new(a), Box::new(b)))
                    }
                    _ => {
                        return Err(place.err(
                            then.at,
                            "both branches of ?: must be numbers, or both conditions",
                        ))
                    }
                }
            }
            Kind::Binary(op, left, right) => self.binary(*op, left, right, back, place)?,
            Kind::Call(name, args) => self.call(node, name, args, back, place)?,
        })
    }

    fn binary(
        &mut self,
        op: BinOp,
        left: &Node,
        right: &Node,
        back: usize,
        place: Place,
    ) -> Result<Value, RuleError> {
        Ok(match op {
            BinOp::Or | BinOp::And => {
                let what = if op == BinOp::Or {
                    "each side of ||"
                } else {
                    "each side of &&"
                };
                let l = Box::new(self.cond(left, back, place, what)?);
                let r = Box::new(self.cond(right, back, place, what)?);
                Value::Cond(if op == BinOp::Or {
                    Cond::Or(l, r)
                } else {
                    Cond::And(l, r)
                })
            }
            BinOp::Compare(c @ (Compare::Eq | Compare::Ne)) => {
                match (
                    self.value(left, back, place)?,
                    self.value(right, back, place)?,
                ) {
                    (Value::Num(a), Value::Num(b)) => {
                        Value::Cond(Cond::Compare(c, Box::new(a), Box::new(b)))
                    }
                    (Value::Cond(a), Value::Cond(b)) => {
                        Value::Cond(Cond::Same(c == Compare::Eq, Box::new(a), Box::new(b)))
                    }
                    _ => {
                        return Err(place.err(
                            right.at,
                            "== and != compare two numbers or two conditions, not one of each",
                        ))
                    }
                }
            }
            BinOp::Compare(c) => {
                let (l, r) = self.operands(left, right, back, place)?;
                Value::Cond(Cond::Compare(c, l, r))
            }
            BinOp::Arith(a) => {
                let (l, r) = self.operands(left, right, back, place)?;
                Value::Num(Num::Arith(a, l, r))
            }
        })
    }

    /// Both sides of a comparison or arithmetic operator, numbers.
    fn operands(
        &mut self,
        left: &Node,
        right: &Node,
        back: usize,
        place: Place,
    ) -> Result<(Box<Num>, Box<Num>), RuleError> {
        let what = "each side of an arithmetic operator or comparison";
        Ok((
            Box::new(self.num(left, back, place, what)?),
            Box::new(self.num(right, back, place, what)?),
        ))
    }

    fn call(
        &mut self,
        node: &Node,
        name: &str,
        args: &[Node],
        back: usize,
        place: Place,
    ) -> Result<Value, RuleError> {
        let at = node.at;
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(place.err(
                    at,
                    format!(
                        "{name} takes {n} argument{}, got {}: {}",
                        if n == 1 { "" } else { "s" },
                        args.len(),
                        signature(name)
                    ),
                ))
            }
        };
        Ok(match name {
            _ if is_indicator(name) => {
                let input = self.series(node, place)?;
                Value::Num(self.read(input, back, at, place)?)
            }
            "prev" => {
                arity(1)?;
                Value::Num(self.num(&args[0], back + 1, place, "prev's argument")?)
            }
            "crossAbove" | "crossBelow" => {
                arity(2)?;
                let what = "each argument of a cross";
                let a_now = self.num(&args[0], back, place, what)?;
                let b_now = self.num(&args[1], back, place, what)?;
                let a_then = self.num(&args[0], back + 1, place, what)?;
                let b_then = self.num(&args[1], back + 1, place, what)?;
                let (before, now) = if name == "crossAbove" {
                    (Compare::Le, Compare::Gt)
                } else {
                    (Compare::Ge, Compare::Lt)
                };
                Value::Cond(Cond::And(
                    Box::new(Cond::Compare(before, Box::new(a_then), Box::new(b_then))),
                    Box::new(Cond::Compare(now, Box::new(a_now), Box::new(b_now))),
                ))
            }
            "abs" => {
                arity(1)?;
                Value::Num(Num::Abs(Box::new(self.num(
                    &args[0],
                    back,
                    place,
                    "abs's argument",
                )?)))
            }
            "min" | "max" => {
                arity(2)?;
                let what = "each argument of min and max";
                let a = Box::new(self.num(&args[0], back, place, what)?);
                let b = Box::new(self.num(&args[1], back, place, what)?);
                Value::Num(Num::Arith(
                    if name == "min" {
                        Arith::Min
                    } else {
                        Arith::Max
                    },
                    a,
                    b,
                ))
            }
            _ => {
                return Err(place.err(
                    at,
                    format!(
                        "unknown function \"{name}\"; known: {}",
                        FUNCTIONS.join(", ")
                    ),
                ))
            }
        })
    }
}

/// Refuses a name an indicator or a param (`what`) cannot have.
fn check_name(rule: &str, what: &str, name: &str) -> Result<(), RuleError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(RuleError::whole(
            rule,
            format!("{what} must be letters, digits and _, not starting with a digit"),
        ));
    }
    if RESERVED.contains(&name) || FUNCTIONS.contains(&name) {
        return Err(RuleError::whole(
            rule,
            format!("\"{name}\" is a built-in name; choose another"),
        ));
    }
    Ok(())
}

/// Writes each param's value where its name is read, as if the number had
/// been written there (a whole number counts as written without a point).
fn substitute(node: &mut Node, params: &BTreeMap<String, f64>) {
    if params.is_empty() {
        return;
    }
    match &mut node.kind {
        Kind::Ident(name) => {
            if let Some(&value) = params.get(name.as_str()) {
                node.kind = Kind::Number {
                    value,
                    integer: value.fract() == 0.0,
                };
            }
        }
        Kind::Number { .. } | Kind::Bool(_) => {}
        // `x.field`: the field is a name of its own, not a param.
        Kind::Select(operand, _) => substitute(operand, params),
        Kind::Call(_, args) => args.iter_mut().for_each(|a| substitute(a, params)),
        Kind::Index(a, b) | Kind::Binary(_, a, b) => {
            substitute(a, params);
            substitute(b, params);
        }
        Kind::Not(a) | Kind::Neg(a) => substitute(a, params),
        Kind::Cond(a, b, c) => {
            substitute(a, params);
            substitute(b, params);
            substitute(c, params);
        }
    }
}

fn is_indicator(name: &str) -> bool {
    FUNCTIONS[..INDICATORS].contains(&name)
}

/// How an indicator function is called, for arity messages.
fn signature(name: &str) -> &'static str {
    match name {
        "sma" => "sma(series, period)",
        "ema" => "ema(series, period)",
        "rsi" => "rsi(series, period = 14)",
        "macd" | "macd_signal" | "macd_hist" => {
            "macd(series, fast = 12, slow = 26, signal = 9), likewise macd_signal and macd_hist"
        }
        "bb_upper" | "bb_middle" | "bb_lower" => {
            "bb_upper(series, period = 20, k = 2), likewise bb_middle and bb_lower"
        }
        "atr" => "write atr(period = 14), e.g. atr(14)",
        "prev" => "prev(x): x on the previous bar",
        "crossAbove" => "crossAbove(a, b): a was <= b on the previous bar and is > b now",
        "crossBelow" => "crossBelow(a, b): a was >= b on the previous bar and is < b now",
        "abs" => "abs(x)",
        _ => "min(a, b) / max(a, b)",
    }
}

/// The indicator `name(..)` with its parameters `given` checked: the
/// arguments after its `inputs` series arguments (1, or 0 for ATR), which
/// are the caller's.
fn indicator(
    name: &str,
    inputs: usize,
    given: &[Node],
    at: usize,
    place: Place,
) -> Result<IndicatorKind, RuleError> {
    // (parameter name, default, minimum) after the input.
    let params: &[(&str, Option<usize>, usize)] = match name {
        "sma" | "ema" => &[("period", None, 1)],
        "rsi" => &[("period", Some(14), 2)],
        "atr" => &[("period", Some(14), 1)],
        "macd" | "macd_signal" | "macd_hist" => &[
            ("fast", Some(12), 2),
            ("slow", Some(26), 2),
            ("signal", Some(9), 1),
        ],
        _ => &[("period", Some(20), 2), ("k", Some(2), 0)],
    };
    let required = params.iter().filter(|p| p.1.is_none()).count();
    if given.len() < required || given.len() > params.len() {
        return Err(place.err(
            at,
            format!(
                "{name} takes {} to {} arguments, got {}: {}",
                inputs + required,
                inputs + params.len(),
                inputs + given.len(),
                signature(name)
            ),
        ));
    }
    let mut periods = Vec::new();
    let mut k = 2.0;
    for (i, &(param, default, min)) in params.iter().enumerate() {
        let Some(arg) = given.get(i) else {
            periods.push(default.expect("only optional parameters are missing"));
            continue;
        };
        let Kind::Number { value, integer } = arg.kind else {
            return Err(place.err(
                arg.at,
                format!("{name}'s {param} must be a number written in the rule"),
            ));
        };
        if param == "k" {
            if value <= 0.0 {
                return Err(place.err(
                    arg.at,
                    format!("{name}'s k must be greater than 0, got {value}"),
                ));
            }
            k = value;
            continue;
        }
        if !integer {
            return Err(place.err(
                arg.at,
                format!("{name}'s {param} must be a whole number, got {value}"),
            ));
        }
        let period = check_period(param, value as usize, min)
            .map_err(|e| place.err(arg.at, format!("{name}: {e}")))?;
        periods.push(period);
    }
    Ok(match name {
        "sma" => IndicatorKind::Sma { period: periods[0] },
        "ema" => IndicatorKind::Ema { period: periods[0] },
        "rsi" => IndicatorKind::Rsi { period: periods[0] },
        "atr" => IndicatorKind::Atr { period: periods[0] },
        "macd" | "macd_signal" | "macd_hist" => {
            let (fast, slow, signal) = (periods[0], periods[1], periods[2]);
            if fast >= slow {
                return Err(place.err(
                    at,
                    format!("{name}: fast ({fast}) must be less than slow ({slow})"),
                ));
            }
            let part = match name {
                "macd" => MacdPart::Line,
                "macd_signal" => MacdPart::Signal,
                _ => MacdPart::Histogram,
            };
            IndicatorKind::Macd {
                fast,
                slow,
                signal,
                part,
            }
        }
        _ => {
            let band = match name {
                "bb_upper" => Band::Upper,
                "bb_middle" => Band::Middle,
                _ => Band::Lower,
            };
            IndicatorKind::Bollinger {
                period: periods[0],
                k,
                band,
            }
        }
    })
}
