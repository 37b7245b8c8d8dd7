//! Profile Query Language (PQL) syntax: lexer, parser, AST, canonical printer and the `pql/json`
//! node format of Adobe Experience Platform segmentation. Syntax only: nothing here evaluates.
//!
//! ```
//! let e = pql::parse(r#"workAddress.country = "US""#).unwrap();
//! assert_eq!(e.to_string(), r#"workAddress.country = "US""#);
//! assert_eq!(pql::parse(&e.to_string()).unwrap(), e);
//! ```
//!
//! # Grammar (EBNF)
//!
//! Keywords are case-sensitive identifiers recognised in context; `{ x }` is zero or more,
//! `[ x ]` optional. Infix operators are left-associative; precedence, loosest first:
//! `or` < `and` < `not`/`!` (prefix) < comparisons, `like`, `in`, `notIn`, `occurs` <
//! `+ -` < `* / %` < prefix `-` < postfix `.name`, `.name(...)`, `[cond]`.
//!
//! ```text
//! expr        = or ;
//! or          = and { "or" and } ;
//! and         = not { "and" not } ;
//! not         = ( "not" | "!" ) not | cmp ;
//! cmp         = sum { ( "=" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "in" | "notIn" ) sum
//!                   | "occurs" time } ;
//! sum         = product { ( "+" | "-" ) product } ;
//! product     = unary { ( "*" | "/" | "%" ) unary } ;
//! unary       = "-" unary | postfix ;          (* "-" before a number literal makes a negative literal *)
//! postfix     = primary { "." NAME [ args ] | "[" expr "]" } ;
//! args        = "(" [ expr { "," expr } ] ")" ;
//! primary     = INT | DECIMAL | STRING | "true" | "false" | "null"
//!             | "now" | "today" | "yesterday" | "tomorrow"
//!             | ( "this" | "last" | "next" ) UNIT
//!             | "$" DIGITS | "^" { "^" } | NAME | NAME args   (* date(..), if(..), exists(x), inSegment(..) *)
//!             | "[" [ expr { "," expr } ] "]" | "(" expr ")"
//!             | ( "exists" | "forall" ) clause { "," clause }
//!             | "select" clause
//!             | "let" NAME "=" sum "in" expr
//!             | "(" [ NAME { "," NAME } ] ")" "=>" expr
//!             | ( "chain" | "CHAIN" ) "(" expr "," expr "," "[" step { "," step } "]" ")" ;
//! clause      = NAME "from" expr ( "where" | ":" ) expr ;
//! step        = NAME ":" ( "WHAT" | "what" ) "(" expr ")" [ ( "WHEN" | "when" ) "(" time ")" ] ;
//! time        = [ CMP ] INT UNIT ( "before" | "after" | "from" ) anchor
//!             | "before" anchor | "after" anchor
//!             | "between" anchor "and" anchor
//!             | [ "on" ] anchor ;
//! anchor      = sum ;
//! CMP         = "=" | "!=" | "<" | "<=" | ">" | ">=" ;
//! UNIT        = "millisecond" | "milliseconds" | "second" | "seconds" | "minute" | "minutes"
//!             | "hour" | "hours" | "day" | "days" | "week" | "weeks" | "month" | "months"
//!             | "year" | "years" | "decade" | "decades" | "century" | "centuries"
//!             | "millennium" | "millennia" ;
//! NAME        = ( LETTER | "_" ) { LETTER | DIGIT | "_" } ;
//! INT         = DIGIT { DIGIT } ;
//! DECIMAL     = INT ( "." INT [ EXP ] | EXP ) ;   EXP = ( "e" | "E" ) [ "+" | "-" ] INT ;
//! STRING      = '"' { CHAR | "\" ( '"' | "\" | "/" | "n" | "t" | "r" | "u" HEX HEX HEX HEX ) } '"' ;
//! ```
//!
//! Reserved words that cannot be bare names: `and or not in notIn like true false null forall
//! select from where occurs between let now today yesterday tomorrow` (any word may follow `.`).
//! Nesting is capped at [`MAX_DEPTH`] levels ([`Error::TooDeep`]) and tree height at
//! [`MAX_HEIGHT`] ([`Error::TooTall`]).

pub mod ast;
mod error;
pub mod json;
mod lexer;
mod parser;
mod print;

pub use ast::*;
pub use error::{Error, ParseError};
pub use json::{from_pql_json, to_pql_json, JsonError};
pub use lexer::{tokenize, Tok, Token};
pub use parser::parse;

/// The deepest expression nesting (parentheses, arguments, operands of prefix operators...)
/// [`parse`] accepts.
pub const MAX_DEPTH: usize = 64;

/// The highest tree [`parse`] accepts ([`Error::TooTall`]); it bounds long chains such as
/// `a or b or c ...` and `a.b.c...`, so that printing and comparing (which recurse) stay safe.
pub const MAX_HEIGHT: usize = 256;
