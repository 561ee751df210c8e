//! Why a strategy's parameters or saved state were refused.

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
    /// A saved state could not be restored.
    #[error("cannot restore strategy state: {reason}")]
    BadState {
        /// Why.
        reason: String,
    },
}
