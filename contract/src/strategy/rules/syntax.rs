//! The syntax of a rule: the part of CEL a rule may use, read into a small
//! tree whose every node knows its byte offset in the source.
//!
//! Grammar (CEL's, with its precedence, lowest first):
//!
//! ```text
//! expr    = or ( "?" expr ":" expr )?
//! or      = and ( "||" and )*
//! and     = rel ( "&&" rel )*
//! rel     = add ( ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) add )*
//! add     = mul ( ( "+" | "-" ) mul )*
//! mul     = unary ( ( "*" | "/" | "%" ) unary )*
//! unary   = ( "!" | "-" ) unary | member
//! member  = primary ( "." ident | "[" expr "]" )*
//! primary = number | "true" | "false" | ident ( "(" args? ")" )? | "(" expr ")"
//! ```
//!
//! What CEL has and a rule has not (strings, bytes, lists, maps, `in`,
//! macros such as `all`) is refused here with its position.

use super::program::{Arith, Compare};
use super::RuleError;

/// The deepest nesting of parentheses, calls and operators a rule may have:
/// the parser and the compiler recurse, and a rule is a line of logic.
const MAX_DEPTH: usize = 64;

/// A binary operator: the logical ones, and the comparisons and arithmetic
/// of the compiled program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BinOp {
    Or,
    And,
    Compare(Compare),
    Arith(Arith),
}

/// A parsed node and where it starts in the source.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Node {
    /// Byte offset of the node's first character.
    pub at: usize,
    pub kind: Kind,
}

/// What a node is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    /// A number; `integer` when written without `.` or exponent.
    Number {
        value: f64,
        integer: bool,
    },
    Bool(bool),
    Ident(String),
    /// `operand.field`.
    Select(Box<Node>, String),
    /// `name(args)`.
    Call(String, Vec<Node>),
    /// `operand[index]`.
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `cond ? then : otherwise`.
    Cond(Box<Node>, Box<Node>, Box<Node>),
}

/// One token and its offset.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64, bool),
    Ident(String),
    Punct(&'static str),
    End,
}

const PUNCTS: &[&str] = &[
    "&&", "||", "<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", "[", "]",
    ".", ",", "?", ":",
];

/// Splits `source` into tokens with their offsets.
fn tokens(source: &str) -> Result<Vec<(usize, Token)>, (usize, String)> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let mut integer = true;
            if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                integer = false;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                integer = false;
                i += 1;
                if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                    i += 1;
                }
                let digits = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if digits == i {
                    return Err((
                        start,
                        "malformed number: no digits after the exponent".into(),
                    ));
                }
            }
            if i < bytes.len() && (bytes[i] == b'u' || bytes[i] == b'U') {
                return Err((
                    start,
                    "unsigned literals are not supported; write a plain number".into(),
                ));
            }
            let text = &source[start..i];
            let value: f64 = text
                .parse()
                .map_err(|_| (start, format!("malformed number {text}")))?;
            if !value.is_finite() {
                return Err((start, format!("number {text} is too large")));
            }
            out.push((start, Token::Number(value, integer)));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, Token::Ident(source[start..i].to_string())));
        } else if c == b'"' || c == b'\'' {
            return Err((i, "strings are not supported in rules".into()));
        } else if let Some(p) = PUNCTS.iter().find(|p| source[i..].starts_with(**p)) {
            out.push((i, Token::Punct(p)));
            i += p.len();
        } else {
            let ch = source[i..].chars().next().unwrap_or('?');
            return Err((i, format!("unexpected character '{ch}'")));
        }
    }
    out.push((source.len(), Token::End));
    Ok(out)
}

/// Parses one rule's source into its tree; the error is a byte offset and
/// what is wrong there.
pub(super) fn parse(source: &str) -> Result<Node, (usize, String)> {
    let tokens = tokens(source)?;
    let mut p = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let node = p.expr()?;
    match p.peek() {
        Token::End => Ok(node),
        other => Err((
            p.at(),
            format!("unexpected {} after the expression", describe(other)),
        )),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Number(v, _) => format!("number {v}"),
        Token::Ident(name) => format!("name {name}"),
        Token::Punct(p) => format!("'{p}'"),
        Token::End => "end of the rule".to_string(),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.next.min(self.tokens.len() - 1)].1
    }

    fn at(&self) -> usize {
        self.tokens[self.next.min(self.tokens.len() - 1)].0
    }

    fn bump(&mut self) -> (usize, Token) {
        let token = self.tokens[self.next.min(self.tokens.len() - 1)].clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Token::Punct(p) if *p == punct) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), (usize, String)> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err((
                self.at(),
                format!("expected '{punct}', found {}", describe(self.peek())),
            ))
        }
    }

    fn deeper(&mut self) -> Result<(), (usize, String)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.at(), format!("nested more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, (usize, String)> {
        self.deeper()?;
        let cond = self.binary(0)?;
        let node = if self.eat("?") {
            let then = self.expr()?;
            self.expect(":")?;
            let otherwise = self.expr()?;
            Node {
                at: cond.at,
                kind: Kind::Cond(Box::new(cond), Box::new(then), Box::new(otherwise)),
            }
        } else {
            cond
        };
        self.depth -= 1;
        Ok(node)
    }

    /// Binary operators by precedence level: `||`, `&&`, relations,
    /// additive, multiplicative.
    fn binary(&mut self, level: usize) -> Result<Node, (usize, String)> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[
                ("<", BinOp::Compare(Compare::Lt)),
                ("<=", BinOp::Compare(Compare::Le)),
                (">", BinOp::Compare(Compare::Gt)),
                (">=", BinOp::Compare(Compare::Ge)),
                ("==", BinOp::Compare(Compare::Eq)),
                ("!=", BinOp::Compare(Compare::Ne)),
            ],
            &[
                ("+", BinOp::Arith(Arith::Add)),
                ("-", BinOp::Arith(Arith::Sub)),
            ],
            &[
                ("*", BinOp::Arith(Arith::Mul)),
                ("/", BinOp::Arith(Arith::Div)),
                ("%", BinOp::Arith(Arith::Rem)),
            ],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        loop {
            let found = match self.peek() {
                Token::Punct(p) => ops.iter().find(|(text, _)| text == p).map(|(_, op)| *op),
                Token::Ident(word) if word == "in" => {
                    return Err((
                        self.at(),
                        "the 'in' operator is not supported in rules".into(),
                    ))
                }
                _ => None,
            };
            let Some(op) = found else {
                return Ok(left);
            };
            self.bump();
            self.deeper()?;
            let right = self.binary(level + 1)?;
            self.depth -= 1;
            left = Node {
                at: left.at,
                kind: Kind::Binary(op, Box::new(left), Box::new(right)),
            };
        }
    }

    fn unary(&mut self) -> Result<Node, (usize, String)> {
        let at = self.at();
        let wrap: fn(Box<Node>) -> Kind = if self.eat("!") {
            Kind::Not
        } else if self.eat("-") {
            Kind::Neg
        } else {
            return self.member();
        };
        self.deeper()?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Node {
            at,
            kind: wrap(Box::new(operand)),
        })
    }

    fn member(&mut self) -> Result<Node, (usize, String)> {
        let mut node = self.primary()?;
        loop {
            if self.eat(".") {
                let at = self.at();
                match self.bump().1 {
                    Token::Ident(field) => {
                        if matches!(self.peek(), Token::Punct("(")) {
                            return Err((
                                at,
                                format!("method calls (.{field}(..)) are not supported in rules"),
                            ));
                        }
                        node = Node {
                            at: node.at,
                            kind: Kind::Select(Box::new(node), field),
                        };
                    }
                    other => {
                        return Err((
                            at,
                            format!(
                                "expected a field name after '.', found {}",
                                describe(&other)
                            ),
                        ))
                    }
                }
            } else if self.eat("[") {
                self.deeper()?;
                let index = self.expr()?;
                self.depth -= 1;
                self.expect("]")?;
                node = Node {
                    at: node.at,
                    kind: Kind::Index(Box::new(node), Box::new(index)),
                };
            } else {
                return Ok(node);
            }
        }
    }

    fn primary(&mut self) -> Result<Node, (usize, String)> {
        let (at, token) = self.bump();
        let kind = match token {
            Token::Number(value, integer) => Kind::Number { value, integer },
            Token::Ident(word) if word == "true" => Kind::Bool(true),
            Token::Ident(word) if word == "false" => Kind::Bool(false),
            Token::Ident(word) if word == "null" => {
                return Err((at, "null is not supported in rules".into()))
            }
            Token::Ident(name) => {
                if self.eat("(") {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.eat(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    Kind::Call(name, args)
                } else {
                    Kind::Ident(name)
                }
            }
            Token::Punct("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                return Ok(inner);
            }
            Token::Punct("[") => return Err((at, "lists are not supported in rules".into())),
            other => return Err((at, format!("expected a value, found {}", describe(&other)))),
        };
        Ok(Node { at, kind })
    }
}

/// Turns a parse failure into the rule's error.
pub(super) fn error(rule: &str, source: &str, (at, message): (usize, String)) -> RuleError {
    RuleError::at(rule, source, at, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(node: &Node) -> String {
        match &node.kind {
            Kind::Number { value, .. } => value.to_string(),
            Kind::Bool(b) => b.to_string(),
            Kind::Ident(n) => n.clone(),
            Kind::Select(o, f) => format!("{}.{f}", shape(o)),
            Kind::Call(n, a) => {
                format!("{n}({})", a.iter().map(shape).collect::<Vec<_>>().join(","))
            }
            Kind::Index(o, i) => format!("{}[{}]", shape(o), shape(i)),
            Kind::Not(o) => format!("!{}", shape(o)),
            Kind::Neg(o) => format!("-{}", shape(o)),
            Kind::Binary(op, l, r) => format!("({} {op:?} {})", shape(l), shape(r)),
            Kind::Cond(c, t, e) => format!("({} ? {} : {})", shape(c), shape(t), shape(e)),
        }
    }

    #[test]
    fn precedence_is_cels() {
        let p = |s| shape(&parse(s).unwrap());
        assert_eq!(p("a || b && c"), "(a Or (b And c))");
        assert_eq!(
            p("a + b * c < d"),
            "((a Arith(Add) (b Arith(Mul) c)) Compare(Lt) d)"
        );
        assert_eq!(p("!a && -b[1] > 2"), "(!a And (-b[1] Compare(Gt) 2))");
        assert_eq!(p("x ? y : z ? 1 : 2"), "(x ? y : (z ? 1 : 2))");
        assert_eq!(p("f(a, g(b)).c"), "f(a,g(b)).c");
        assert_eq!(p("(1.5e2)"), "150");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = |s| parse(s).unwrap_err();
        assert_eq!(
            e("a > 'x'"),
            (4, "strings are not supported in rules".into())
        );
        assert_eq!(
            e("a >"),
            (3, "expected a value, found end of the rule".into())
        );
        assert_eq!(e("f(a b)").0, 4);
        assert_eq!(e("a b").0, 2);
        assert_eq!(e("x in y").0, 2);
        assert_eq!(e("a.size()").0, 2);
        assert_eq!(e("a # b").0, 2);
        assert_eq!(e("1e").0, 0);
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(e(&deep).1.contains("nested"));
    }
}
