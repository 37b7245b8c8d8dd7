//! The PQL lexer: source text to [`Token`]s with [`Span`]s.

use crate::ast::Span;
use crate::error::ParseError;

/// Token kinds. Keywords are lexed as [`Tok::Ident`] and recognised by the parser in context.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword.
    Ident(String),
    /// `$N`
    Param(u32),
    /// An unsigned integer literal.
    Int(u64),
    /// An unsigned decimal literal.
    Decimal(f64),
    /// A string literal, escapes resolved.
    Str(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `=>`
    Arrow,
    /// `^`
    Caret,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `!`
    Bang,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// End of input.
    Eof,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The kind.
    pub tok: Tok,
    /// The position.
    pub span: Span,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: u32,
    column: u32,
}

/// Splits `src` into tokens; the last one is always [`Tok::Eof`].
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_ws();
        let (start, line, column) = (lx.pos, lx.line, lx.column);
        let tok = lx.next_tok()?;
        let span = Span {
            start,
            end: lx.pos,
            line,
            column,
        };
        let eof = tok == Tok::Eof;
        out.push(Token { tok, span });
        if eof {
            return Ok(out);
        }
    }
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, expected: &str, found: String) -> ParseError {
        ParseError {
            line: self.line,
            column: self.column,
            expected: expected.to_string(),
            found,
        }
    }

    fn found_here(&self) -> String {
        match self.peek() {
            Some(c) => format!("\"{c}\""),
            None => "end of input".to_string(),
        }
    }

    fn next_tok(&mut self) -> Result<Tok, ParseError> {
        let Some(c) = self.peek() else {
            return Ok(Tok::Eof);
        };
        if c.is_ascii_alphabetic() || c == '_' {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                self.bump();
            }
            return Ok(Tok::Ident(self.src[start..self.pos].to_string()));
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        if c == '"' {
            return self.string();
        }
        if c == '$' {
            self.bump();
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            return self.src[start..self.pos]
                .parse::<u32>()
                .map(Tok::Param)
                .map_err(|_| self.error("parameter number", self.found_here()));
        }
        let two = match (c, self.peek2()) {
            ('!', Some('=')) => Some(Tok::Ne),
            ('=', Some('>')) => Some(Tok::Arrow),
            ('<', Some('=')) => Some(Tok::Le),
            ('>', Some('=')) => Some(Tok::Ge),
            _ => None,
        };
        if let Some(t) = two {
            self.bump();
            self.bump();
            return Ok(t);
        }
        let t = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            ':' => Tok::Colon,
            '^' => Tok::Caret,
            '=' => Tok::Eq,
            '<' => Tok::Lt,
            '>' => Tok::Gt,
            '!' => Tok::Bang,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            _ => return Err(self.error("token", self.found_here())),
        };
        self.bump();
        Ok(t)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn number(&mut self) -> Result<Tok, ParseError> {
        let (start, line, column) = (self.pos, self.line, self.column);
        self.digits();
        let mut decimal = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            decimal = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let after = self.src[self.pos + 1..].chars().next();
            let after2 = self.src[self.pos + 1..].chars().nth(1);
            let exp = match after {
                Some(c) if c.is_ascii_digit() => true,
                Some('+' | '-') => after2.is_some_and(|c| c.is_ascii_digit()),
                _ => false,
            };
            if exp {
                decimal = true;
                self.bump();
                if matches!(self.peek(), Some('+' | '-')) {
                    self.bump();
                }
                self.digits();
            }
        }
        let text = &self.src[start..self.pos];
        let bad = || ParseError {
            line,
            column,
            expected: "number".to_string(),
            found: format!("\"{text}\""),
        };
        if decimal {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Tok::Decimal)
                .ok_or_else(bad)
        } else {
            text.parse::<u64>().map(Tok::Int).map_err(|_| bad())
        }
    }

    fn string(&mut self) -> Result<Tok, ParseError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("\"\\\"\"", "end of input".to_string())),
                Some('"') => {
                    self.bump();
                    return Ok(Tok::Str(s));
                }
                Some('\\') => {
                    self.bump();
                    let c = match self.peek() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('u') => {
                            self.bump();
                            let start = self.pos;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                    return Err(self.error("hex digit", self.found_here()));
                                }
                                self.bump();
                            }
                            let code = u32::from_str_radix(&self.src[start..self.pos], 16)
                                .expect("four hex digits");
                            s.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                            continue;
                        }
                        _ => return Err(self.error("escape sequence", self.found_here())),
                    };
                    self.bump();
                    s.push(c);
                }
                Some(c) => {
                    self.bump();
                    s.push(c);
                }
            }
        }
    }
}
