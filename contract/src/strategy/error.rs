//! Why a strategy's parameters, rules or saved state were refused.

/// Why a strategy could not be built or restored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// No strategy has this name.
    #[error("unknown strategy \"{name}\"; known: {}", .known.join(", "))]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// Every name there is.
        known: Vec<&'static str>,
    },
    /// The strategy takes no parameter of this name.
    #[error("unknown param \"{param}\" for strategy \"{strategy}\"; known: {}", .known.join(", "))]
    UnknownParam {
        /// The strategy.
        strategy: &'static str,
        /// The parameter given.
        param: String,
        /// The parameters it takes.
        known: Vec<&'static str>,
    },
    /// A parameter's value is malformed or out of range.
    #[error("param {param} = \"{value}\": {reason}")]
    BadParam {
        /// The parameter.
        param: String,
        /// Its value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The parameters are each fine but break a rule together.
    #[error("{message}")]
    Constraint {
        /// The rule and the values.
        message: String,
    },
    /// Rules were refused.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A saved state could not be restored.
    #[error("cannot restore strategy state: {reason}")]
    BadState {
        /// Why.
        reason: String,
    },
}

/// Why rules were refused: the rule (`enter_long`, `indicators.fast`, ...),
/// the line and column in its source (1-based, columns in characters) when
/// the problem has one, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rules.{rule}{}: {message}", .position.map(|(l, c)| format!(" at {l}:{c}")).unwrap_or_default())]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// Line and column.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    /// An error at byte offset `at` of `source`.
    pub(super) fn at(rule: &str, source: &str, at: usize, message: String) -> Self {
        let before = &source[..at.min(source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        RuleError {
            rule: rule.to_string(),
            position: Some((line, column)),
            message,
        }
    }

    /// An error about a rule as a whole.
    pub(super) fn whole(rule: &str, message: impl Into<String>) -> Self {
        RuleError {
            rule: rule.to_string(),
            position: None,
            message: message.into(),
        }
    }
}
