//! The recursive-descent parser, with Pratt-style binding powers for the infix operators.

use crate::ast::*;
use crate::error::{Error, ParseError};
use crate::lexer::{tokenize, Tok, Token};
use crate::{MAX_DEPTH, MAX_HEIGHT};

type R<T> = Result<T, Error>;

/// Binding power of `occurs` and the comparison operators.
const CMP_BP: u8 = 4;
/// Operand binding power of `not` / `!` (tighter than `and`, looser than comparisons).
const NOT_BP: u8 = 3;
/// Operand binding power of prefix `-`.
const NEG_BP: u8 = 7;

/// Parses one complete PQL expression.
pub fn parse(src: &str) -> Result<Expr, Error> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("end of input"));
    }
    let height = e.height();
    if height > MAX_HEIGHT {
        return Err(Error::TooTall {
            height,
            limit: MAX_HEIGHT,
        });
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Words that cannot be a bare name in expression position.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "notIn",
    "like",
    "true",
    "false",
    "null",
    "forall",
    "select",
    "from",
    "where",
    "occurs",
    "between",
    "let",
    "now",
    "today",
    "yesterday",
    "tomorrow",
];

fn cmp_op(t: &Tok) -> Option<CmpOp> {
    Some(match t {
        Tok::Eq => CmpOp::Eq,
        Tok::Ne => CmpOp::Ne,
        Tok::Lt => CmpOp::Lt,
        Tok::Le => CmpOp::Le,
        Tok::Gt => CmpOp::Gt,
        Tok::Ge => CmpOp::Ge,
        _ => return None,
    })
}

fn infix_op(t: &Tok) -> Option<BinOp> {
    if let Some(c) = cmp_op(t) {
        return Some(BinOp::Cmp(c));
    }
    Some(match t {
        Tok::Plus => BinOp::Add,
        Tok::Minus => BinOp::Sub,
        Tok::Star => BinOp::Mul,
        Tok::Slash => BinOp::Div,
        Tok::Percent => BinOp::Mod,
        Tok::Ident(w) => match w.as_str() {
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "like" => BinOp::Like,
            "in" => BinOp::In,
            "notIn" => BinOp::NotIn,
            _ => return None,
        },
        _ => return None,
    })
}

fn is_word(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Ident(s) if s == w)
}

fn unit_of(t: &Tok) -> Option<Unit> {
    match t {
        Tok::Ident(w) => Unit::from_word(w),
        _ => None,
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn found(&self) -> String {
        let t = &self.tokens[self.pos];
        if t.tok == Tok::Eof {
            "end of input".to_string()
        } else {
            format!("\"{}\"", &self.src[t.span.start..t.span.end])
        }
    }

    fn unexpected(&self, expected: &str) -> Error {
        let s = self.span();
        Error::Syntax(ParseError {
            line: s.line,
            column: s.column,
            expected: expected.to_string(),
            found: self.found(),
        })
    }

    /// Consumes `t` or fails with `expected "<text>"`.
    fn expect(&mut self, t: Tok, text: &str) -> R<Token> {
        if *self.peek() == t {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("\"{text}\"")))
        }
    }

    fn expect_word(&mut self, w: &str) -> R<Token> {
        if is_word(self.peek(), w) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&format!("\"{w}\"")))
        }
    }

    /// A name: any identifier (used after `.` and for labels).
    fn name(&mut self) -> R<String> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("identifier")),
        }
    }

    /// A variable name: an identifier that is not reserved.
    fn var(&mut self) -> R<String> {
        match self.peek().clone() {
            Tok::Ident(s) if !RESERVED.contains(&s.as_str()) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("identifier")),
        }
    }

    fn finish(&self, start: Span) -> Span {
        let prev = self.tokens[self.pos.saturating_sub(1)].span;
        Span {
            end: prev.end.max(start.start),
            ..start
        }
    }

    fn expr(&mut self, min_bp: u8) -> R<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let s = self.span();
            return Err(Error::TooDeep {
                line: s.line,
                column: s.column,
                limit: MAX_DEPTH,
            });
        }
        let r = self.expr_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> R<Expr> {
        let start = self.span();
        let mut lhs = self.prefix()?;
        loop {
            if is_word(self.peek(), "occurs") {
                if CMP_BP < min_bp {
                    break;
                }
                self.bump();
                let time = self.time_condition()?;
                lhs = Expr::with_span(
                    ExprKind::Occurs {
                        subject: Box::new(lhs),
                        time,
                    },
                    self.finish(start),
                );
                continue;
            }
            let Some(op) = infix_op(self.peek()) else {
                break;
            };
            let bp = op.precedence();
            if bp < min_bp {
                break;
            }
            self.bump();
            let rhs = self.expr(bp + 1)?;
            lhs = Expr::with_span(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                self.finish(start),
            );
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> R<Expr> {
        let start = self.span();
        let unary = |p: &mut Self, op, bp| -> R<Expr> {
            p.bump();
            // `not (x)` and `-(x)` count one nesting level, as the bare `not x` and `-x` do: the
            // parenthesised group counts itself. The printer writes the parenthesised form, so a
            // printed expression never nests deeper than the one it came from.
            let operand = if matches!(p.peek(), Tok::LParen) {
                p.expr_inner(bp)?
            } else {
                p.expr(bp)?
            };
            Ok(Expr::with_span(
                ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                },
                p.finish(start),
            ))
        };
        match self.peek() {
            Tok::Bang => unary(self, UnaryOp::Not, NOT_BP),
            Tok::Ident(w) if w == "not" => unary(self, UnaryOp::Not, NOT_BP),
            Tok::Minus => match self.peek_at(1).clone() {
                Tok::Int(n) => {
                    self.bump();
                    if n > i64::MAX as u64 + 1 {
                        return Err(self.unexpected("integer in range"));
                    }
                    self.bump();
                    let v = (n as i128).wrapping_neg() as i64;
                    let e = Expr::with_span(ExprKind::Int(v), self.finish(start));
                    self.postfix(e, start)
                }
                Tok::Decimal(f) => {
                    self.bump();
                    self.bump();
                    let e = Expr::with_span(ExprKind::Decimal(-f), self.finish(start));
                    self.postfix(e, start)
                }
                _ => unary(self, UnaryOp::Neg, NEG_BP),
            },
            _ => {
                let e = self.primary()?;
                self.postfix(e, start)
            }
        }
    }

    fn postfix(&mut self, mut e: Expr, start: Span) -> R<Expr> {
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let name = self.name()?;
                    if *self.peek() == Tok::LParen {
                        let args = self.args()?;
                        e = Expr::with_span(
                            ExprKind::Method {
                                object: Box::new(e),
                                name,
                                args,
                            },
                            self.finish(start),
                        );
                    } else {
                        e = Expr::with_span(
                            ExprKind::Field {
                                object: Box::new(e),
                                name,
                            },
                            self.finish(start),
                        );
                    }
                }
                Tok::LBracket => {
                    self.bump();
                    let cond = self.expr(0)?;
                    self.expect(Tok::RBracket, "]")?;
                    e = Expr::with_span(
                        ExprKind::Filter {
                            object: Box::new(e),
                            cond: Box::new(cond),
                        },
                        self.finish(start),
                    );
                }
                _ => return Ok(e),
            }
        }
    }

    /// `( [expr {, expr}] )`
    fn args(&mut self) -> R<Vec<Expr>> {
        self.expect(Tok::LParen, "(")?;
        self.list(Tok::RParen, ")")
    }

    /// `[expr {, expr}] close`, the opener already consumed.
    fn list(&mut self, close: Tok, close_text: &str) -> R<Vec<Expr>> {
        let mut items = Vec::new();
        if *self.peek() == close {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.expr(0)?);
            if *self.peek() == Tok::Comma {
                self.bump();
                continue;
            }
            if *self.peek() == close {
                self.bump();
                return Ok(items);
            }
            return Err(self.unexpected(&format!("\",\" or \"{close_text}\"")));
        }
    }

    fn primary(&mut self) -> R<Expr> {
        let start = self.span();
        let kind = match self.peek().clone() {
            Tok::Int(n) => {
                if n > i64::MAX as u64 {
                    return Err(self.unexpected("integer in range"));
                }
                self.bump();
                ExprKind::Int(n as i64)
            }
            Tok::Decimal(f) => {
                self.bump();
                ExprKind::Decimal(f)
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::String(s)
            }
            Tok::Param(n) => {
                self.bump();
                ExprKind::Param(n)
            }
            Tok::Caret => {
                let mut n = 0;
                while *self.peek() == Tok::Caret {
                    self.bump();
                    n += 1;
                }
                ExprKind::Outer(n)
            }
            Tok::LParen if self.lambda_ahead() => {
                self.bump();
                let mut params = Vec::new();
                while *self.peek() != Tok::RParen {
                    params.push(self.var()?);
                    if *self.peek() == Tok::Comma {
                        self.bump();
                    }
                }
                self.bump();
                self.expect(Tok::Arrow, "=>")?;
                let body = self.expr(0)?;
                ExprKind::Lambda {
                    params,
                    body: Box::new(body),
                }
            }
            Tok::LParen => {
                self.bump();
                let mut e = self.expr(0)?;
                self.expect(Tok::RParen, ")")?;
                e.span = self.finish(start);
                return Ok(e);
            }
            Tok::LBracket => {
                self.bump();
                ExprKind::Array(self.list(Tok::RBracket, "]")?)
            }
            Tok::Ident(w) => return self.word(w, start),
            _ => return Err(self.unexpected("expression")),
        };
        Ok(Expr::with_span(kind, self.finish(start)))
    }

    /// Whether the tokens ahead are `( [NAME {, NAME}] ) =>`.
    fn lambda_ahead(&self) -> bool {
        let mut i = 1;
        if *self.peek_at(i) != Tok::RParen {
            loop {
                if !matches!(self.peek_at(i), Tok::Ident(_)) {
                    return false;
                }
                i += 1;
                match self.peek_at(i) {
                    Tok::Comma => i += 1,
                    Tok::RParen => break,
                    _ => return false,
                }
            }
        }
        *self.peek_at(i + 1) == Tok::Arrow
    }

    fn word(&mut self, w: String, start: Span) -> R<Expr> {
        let next = self.peek_at(1).clone();
        let kind = match w.as_str() {
            "true" | "false" => {
                self.bump();
                ExprKind::Bool(w == "true")
            }
            "null" => {
                self.bump();
                ExprKind::Null
            }
            "now" | "today" | "yesterday" | "tomorrow" => {
                self.bump();
                ExprKind::Time(match w.as_str() {
                    "now" => TimeWord::Now,
                    "today" => TimeWord::Today,
                    "yesterday" => TimeWord::Yesterday,
                    _ => TimeWord::Tomorrow,
                })
            }
            "this" | "last" | "next" if unit_of(&next).is_some() => {
                self.bump();
                let unit = unit_of(self.peek()).expect("checked");
                self.bump();
                let which = match w.as_str() {
                    "this" => PeriodWhich::This,
                    "last" => PeriodWhich::Last,
                    _ => PeriodWhich::Next,
                };
                ExprKind::Period { which, unit }
            }
            "exists" | "forall" if !(w == "exists" && next == Tok::LParen) => {
                self.bump();
                let kind = if w == "exists" {
                    QuantifierKind::Exists
                } else {
                    QuantifierKind::Forall
                };
                let mut clauses = vec![self.clause()?];
                while *self.peek() == Tok::Comma
                    && matches!(self.peek_at(1), Tok::Ident(_))
                    && is_word(self.peek_at(2), "from")
                {
                    self.bump();
                    clauses.push(self.clause()?);
                }
                ExprKind::Quantifier { kind, clauses }
            }
            "select" => {
                self.bump();
                ExprKind::Select(Box::new(self.clause()?))
            }
            "let" => {
                self.bump();
                let name = self.var()?;
                self.expect(Tok::Eq, "=")?;
                let value = self.expr(CMP_BP + 1)?;
                self.expect_word("in")?;
                let body = self.expr(0)?;
                ExprKind::Let {
                    name,
                    value: Box::new(value),
                    body: Box::new(body),
                }
            }
            "chain" | "CHAIN" if next == Tok::LParen => {
                self.bump();
                self.chain()?
            }
            _ if RESERVED.contains(&w.as_str()) => return Err(self.unexpected("expression")),
            _ if next == Tok::LParen => {
                self.bump();
                let args = self.args()?;
                ExprKind::Call { name: w, args }
            }
            _ => {
                self.bump();
                ExprKind::Ident(w)
            }
        };
        Ok(Expr::with_span(kind, self.finish(start)))
    }

    /// `VAR from SOURCE (where | :) COND`
    fn clause(&mut self) -> R<Clause> {
        let var = self.var()?;
        self.expect_word("from")?;
        let source = self.expr(0)?;
        if *self.peek() == Tok::Colon || is_word(self.peek(), "where") {
            self.bump();
        } else {
            return Err(self.unexpected("\"where\" or \":\""));
        }
        let cond = self.expr(0)?;
        Ok(Clause { var, source, cond })
    }

    /// After `chain`: `( events , timestamp , [ step {, step} ] )`.
    fn chain(&mut self) -> R<ExprKind> {
        self.expect(Tok::LParen, "(")?;
        let events = self.expr(0)?;
        self.expect(Tok::Comma, ",")?;
        let timestamp = self.expr(0)?;
        self.expect(Tok::Comma, ",")?;
        self.expect(Tok::LBracket, "[")?;
        let mut steps = Vec::new();
        loop {
            let label = self.var()?;
            self.expect(Tok::Colon, ":")?;
            if !(is_word(self.peek(), "WHAT") || is_word(self.peek(), "what")) {
                return Err(self.unexpected("\"WHAT\""));
            }
            self.bump();
            self.expect(Tok::LParen, "(")?;
            let what = self.expr(0)?;
            self.expect(Tok::RParen, ")")?;
            let when = if is_word(self.peek(), "WHEN") || is_word(self.peek(), "when") {
                self.bump();
                self.expect(Tok::LParen, "(")?;
                let t = self.time_condition()?;
                self.expect(Tok::RParen, ")")?;
                Some(t)
            } else {
                None
            };
            steps.push(ChainStep { label, what, when });
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBracket => {
                    self.bump();
                    break;
                }
                _ => return Err(self.unexpected("\",\" or \"]\"")),
            }
        }
        self.expect(Tok::RParen, ")")?;
        Ok(ExprKind::Chain {
            events: Box::new(events),
            timestamp: Box::new(timestamp),
            steps,
        })
    }

    fn anchor(&mut self) -> R<Box<Expr>> {
        Ok(Box::new(self.expr(CMP_BP + 1)?))
    }

    /// What follows `occurs` (or fills `WHEN(...)`).
    fn time_condition(&mut self) -> R<TimeCondition> {
        let cmp = cmp_op(self.peek());
        let bare_amount = matches!(self.peek(), Tok::Int(_)) && unit_of(self.peek_at(1)).is_some();
        if cmp.is_some() || bare_amount {
            if cmp.is_some() {
                self.bump();
            }
            let Tok::Int(amount) = *self.peek() else {
                return Err(self.unexpected("integer"));
            };
            self.bump();
            let Some(unit) = unit_of(self.peek()) else {
                return Err(self.unexpected("time unit"));
            };
            self.bump();
            let direction = match self.peek() {
                Tok::Ident(w) if w == "before" => Direction::Before,
                Tok::Ident(w) if w == "after" => Direction::After,
                Tok::Ident(w) if w == "from" => Direction::From,
                _ => return Err(self.unexpected("\"before\", \"after\" or \"from\"")),
            };
            self.bump();
            let anchor = self.anchor()?;
            return Ok(TimeCondition::Relative {
                cmp,
                amount,
                unit,
                direction,
                anchor,
            });
        }
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            _ => String::new(),
        };
        match word.as_str() {
            "before" => {
                self.bump();
                Ok(TimeCondition::Before(self.anchor()?))
            }
            "after" => {
                self.bump();
                Ok(TimeCondition::After(self.anchor()?))
            }
            "between" => {
                self.bump();
                let a = self.anchor()?;
                self.expect_word("and")?;
                let b = self.anchor()?;
                Ok(TimeCondition::Between(a, b))
            }
            "on" => {
                self.bump();
                Ok(TimeCondition::On(self.anchor()?))
            }
            _ => Ok(TimeCondition::On(self.anchor()?)),
        }
    }
}
