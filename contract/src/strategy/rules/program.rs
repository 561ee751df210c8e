//! A compiled rule set: what the engine evaluates on every bar. Built only by
//! [`compile`](super::compile), which has checked every name, type, period
//! and look-back, so the engine can trust it.

/// A price field of the candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The open.
    Open,
    /// The high.
    High,
    /// The low.
    Low,
    /// The close.
    Close,
    /// The volume.
    Volume,
}

impl Field {
    /// Every field, in slot order (the first series slots are these).
    pub const ALL: [Field; 5] = [
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
    ];

    /// The name a rule writes.
    pub fn name(self) -> &'static str {
        match self {
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
        }
    }
}

/// Which of MACD's three values an indicator yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacdPart {
    /// `EMA_fast - EMA_slow`.
    Line,
    /// The EMA of the line.
    Signal,
    /// Line minus signal.
    Histogram,
}

/// Which Bollinger band an indicator yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    /// Middle + k·σ.
    Upper,
    /// The SMA.
    Middle,
    /// Middle - k·σ.
    Lower,
}

/// An indicator with its checked parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IndicatorKind {
    /// Simple moving average.
    Sma {
        /// Window, 1 ..= `MAX_PERIOD`.
        period: usize,
    },
    /// Exponential moving average.
    Ema {
        /// Period, 1 ..= `MAX_PERIOD`.
        period: usize,
    },
    /// Wilder's RSI.
    Rsi {
        /// Period, 2 ..= `MAX_PERIOD`.
        period: usize,
    },
    /// One of MACD's values.
    Macd {
        /// Fast EMA period, 2 ..= `slow - 1`.
        fast: usize,
        /// Slow EMA period, up to `MAX_PERIOD`.
        slow: usize,
        /// Signal EMA period, 1 ..= `MAX_PERIOD`.
        signal: usize,
        /// Which value.
        part: MacdPart,
    },
    /// One Bollinger band.
    Bollinger {
        /// Window, 2 ..= `MAX_PERIOD`.
        period: usize,
        /// Standard deviations, finite and > 0.
        k: f64,
        /// Which band.
        band: Band,
    },
    /// Wilder's average true range of the bars (reads [`Input::Bar`]).
    Atr {
        /// Period, 1 ..= `MAX_PERIOD`.
        period: usize,
    },
}

impl IndicatorKind {
    /// Inputs that yield no value before the first (TA-Lib's lookback, as
    /// the engine's indicators have it).
    pub fn lookback(&self) -> usize {
        match *self {
            IndicatorKind::Sma { period } | IndicatorKind::Ema { period } => period - 1,
            IndicatorKind::Rsi { period } | IndicatorKind::Atr { period } => period,
            IndicatorKind::Macd { slow, signal, .. } => slow - 1 + signal - 1,
            IndicatorKind::Bollinger { period, .. } => period - 1,
        }
    }

    /// Past inputs the indicator keeps in its saved state (SMA and Bollinger
    /// keep their window; the others only averages, and ATR the previous
    /// close).
    pub fn window_values(&self) -> u64 {
        match *self {
            IndicatorKind::Sma { period } | IndicatorKind::Bollinger { period, .. } => {
                period as u64
            }
            _ => 0,
        }
    }
}

/// What an indicator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A price field.
    Field(Field),
    /// An earlier indicator of the program (its index in
    /// [`Program::indicators`]; always smaller than the reader's).
    Indicator(usize),
    /// The whole bar: its high, low and close ([`IndicatorKind::Atr`]'s
    /// input, and only an indicator's: a rule never reads it as a series).
    Bar,
}

/// One indicator of the program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndicatorDef {
    /// What it computes.
    pub kind: IndicatorKind,
    /// What it reads.
    pub input: Input,
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%` (the remainder of truncated division, as Rust's and CEL's).
    Rem,
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
}

/// A numeric expression; its value on a bar is an `f64`, NaN when unknown
/// (a series not yet warmed, a division by zero).
#[derive(Clone, Debug, PartialEq)]
pub enum Num {
    /// A literal.
    Const(f64),
    /// A series `back` bars ago (0 = this bar). Slots `0..5` are the
    /// [`Field`]s in [`Field::ALL`] order, slot `5 + i` is indicator `i`.
    Series {
        /// The series slot.
        slot: usize,
        /// Bars ago, below the slot's [`Program::depth`].
        back: usize,
    },
    /// `position.bars_held`.
    BarsHeld,
    /// `position.pnl_fraction`.
    PnlFraction,
    /// `-x`.
    Neg(Box<Num>),
    /// `abs(x)`.
    Abs(Box<Num>),
    /// A binary arithmetic operation.
    Arith(Arith, Box<Num>, Box<Num>),
    /// `cond ? a : b`.
    Choose(Box<Cond>, Box<Num>, Box<Num>),
}

/// A condition; its value on a bar is true, false or unknown (`None`).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// A literal.
    Const(bool),
    /// `position.open`.
    PositionOpen,
    /// `!c`.
    Not(Box<Cond>),
    /// `a && b`: false if either is false, else unknown if either is.
    And(Box<Cond>, Box<Cond>),
    /// `a || b`: true if either is true, else unknown if either is.
    Or(Box<Cond>, Box<Cond>),
    /// A comparison of numbers; unknown if either is NaN.
    Compare(Compare, Box<Num>, Box<Num>),
    /// `a == b` (`equal`) or `a != b` of conditions.
    Same(bool, Box<Cond>, Box<Cond>),
    /// `c ? a : b`.
    Choose(Box<Cond>, Box<Cond>, Box<Cond>),
}

/// A compiled rule set.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Every indicator, each after those it reads.
    pub indicators: Vec<IndicatorDef>,
    /// How many values of each series slot the rules read (this bar's and
    /// as many earlier ones): at least 1 for every slot.
    pub depth: Vec<usize>,
    /// Bars before every series a rule reads has a value at every look-back
    /// it is read at: the rules are evaluated from bar `warmup` (0-based) on.
    pub warmup: usize,
    /// When to go long.
    pub enter_long: Cond,
    /// When to leave a long.
    pub exit_long: Cond,
    /// When to go short, if ever.
    pub enter_short: Option<Cond>,
    /// When to leave a short.
    pub exit_short: Option<Cond>,
}

impl Program {
    /// The indicator slot of indicator `i`.
    pub fn slot_of(i: usize) -> usize {
        Field::ALL.len() + i
    }

    /// Past values the saved state holds: every series' look-back and the
    /// windows of SMAs and Bollinger bands.
    pub fn window_values(&self) -> u64 {
        let history: u64 = self.depth.iter().map(|&d| d as u64).sum();
        history
            + self
                .indicators
                .iter()
                .map(|i| i.kind.window_values())
                .sum::<u64>()
    }
}
