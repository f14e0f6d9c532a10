//! The `$filter` language: the expression tree and its parser, with the node-count and
//! nesting bounds that keep untrusted input from exhausting the stack.

use crate::error::GraphError;

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// `path op literal`.
    Compare {
        /// Property path (`mail`, or `x/issuer` inside a lambda).
        path: Vec<String>,
        /// Operator.
        op: Op,
        /// Right-hand literal.
        value: Lit,
    },
    /// `path in (a, b)`.
    In {
        /// Property path.
        path: Vec<String>,
        /// Candidates.
        values: Vec<Lit>,
    },
    /// `startsWith(path, 'x')` / `endsWith(path, 'x')`.
    Call {
        /// `true` for endsWith.
        ends: bool,
        /// Property path.
        path: Vec<String>,
        /// The affix.
        value: String,
    },
    /// `collection/any(var: body)`.
    Any {
        /// The collection property.
        property: String,
        /// Lambda variable.
        var: String,
        /// Lambda body.
        body: Box<Expr>,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `ge`.
    Ge,
    /// `le`.
    Le,
    /// `gt`.
    Gt,
    /// `lt`.
    Lt,
}

/// Literals.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// `'text'` (with `''` unescaped).
    Str(String),
    /// An unquoted number, date-time or GUID.
    Bare(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Colon,
    Str(String),
    Word(String),
}

fn syntax(detail: impl std::fmt::Display) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: {detail}"))
}

fn tokenize(text: &str) -> Result<Vec<Tok>, GraphError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(syntax("unterminated string literal")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                // Numbers, date-times (2024-01-01T00:00:00Z) and GUIDs.
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '-' | ':' | '.' | '+'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' || c == '@' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || matches!(chars[i], '_' | '/' | '.' | '$' | '@'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(syntax(format!("unexpected character '{other}'"))),
        }
    }
    Ok(out)
}

/// Parses a `$filter` value (already percent-decoded).
pub fn parse_filter(text: &str) -> Result<Expr, GraphError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
    };
    let expr = p.or()?;
    if p.pos != p.tokens.len() {
        return Err(syntax("unexpected text after the expression"));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
    nodes: usize,
}

/// Most clauses (comparisons, `not`, parentheses, lambdas) a filter may have: ASP.NET OData's
/// default `MaxNodeCount`, which also bounds the expression tree.
const MAX_NODES: usize = 100;

/// Deepest nesting of parentheses, `not` and lambdas a filter may use (a recursion bound:
/// untrusted input must not exhaust the stack).
const MAX_DEPTH: usize = 32;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, tok: Tok) -> Result<(), GraphError> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            _ => Err(syntax(format!("expected {tok:?}"))),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, GraphError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, GraphError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, GraphError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(GraphError::bad_request(format!(
                "The node count limit of '{MAX_NODES}' has been exceeded."
            )));
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax("the expression is nested too deeply"));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, GraphError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, GraphError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Word(word)) => {
                let lower = word.to_ascii_lowercase();
                if (lower == "startswith" || lower == "endswith")
                    && self.peek() == Some(&Tok::LParen)
                {
                    self.pos += 1;
                    let path = self.path()?;
                    self.expect(Tok::Comma)?;
                    let value = match self.next() {
                        Some(Tok::Str(s)) => s,
                        _ => return Err(syntax(format!("{word} needs a string literal"))),
                    };
                    self.expect(Tok::RParen)?;
                    return Ok(Expr::Call {
                        ends: lower == "endswith",
                        path,
                        value,
                    });
                }
                if let Some((property, lambda)) = word.rsplit_once('/')
                    && (lambda.eq_ignore_ascii_case("any") || lambda.eq_ignore_ascii_case("all"))
                    && self.peek() == Some(&Tok::LParen)
                {
                    if lambda.eq_ignore_ascii_case("all") {
                        return Err(GraphError::unsupported_query(
                            "Unsupported or invalid query filter clause: the 'all' lambda is not supported.",
                        ));
                    }
                    self.pos += 1;
                    let var = match self.next() {
                        Some(Tok::Word(v)) if !v.contains('/') => v,
                        _ => return Err(syntax("expected a lambda variable")),
                    };
                    self.expect(Tok::Colon)?;
                    let body = self.or()?;
                    self.expect(Tok::RParen)?;
                    return Ok(Expr::Any {
                        property: property.to_owned(),
                        var,
                        body: Box::new(body),
                    });
                }
                let path: Vec<String> = word.split('/').map(str::to_owned).collect();
                self.comparison(path)
            }
            _ => Err(syntax("expected a property, function or '('")),
        }
    }

    fn path(&mut self) -> Result<Vec<String>, GraphError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w.split('/').map(str::to_owned).collect()),
            _ => Err(syntax("expected a property")),
        }
    }

    fn comparison(&mut self, path: Vec<String>) -> Result<Expr, GraphError> {
        let op = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(syntax("expected an operator")),
        };
        if op == "in" {
            self.expect(Tok::LParen)?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                values.push(self.literal()?);
            }
            self.expect(Tok::RParen)?;
            return Ok(Expr::In { path, values });
        }
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "ge" => Op::Ge,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            other => return Err(syntax(format!("unknown operator '{other}'"))),
        };
        let value = self.literal()?;
        Ok(Expr::Compare { path, op, value })
    }

    fn literal(&mut self) -> Result<Lit, GraphError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Word(w)) => match w.as_str() {
                "null" => Ok(Lit::Null),
                "true" => Ok(Lit::Bool(true)),
                "false" => Ok(Lit::Bool(false)),
                _ if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') => Ok(Lit::Bare(w)),
                _ => Err(syntax(format!("expected a literal, found '{w}'"))),
            },
            _ => Err(syntax("expected a literal")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_of_quotes_is_exact() {
        assert_eq!(
            parse_filter("displayName eq 'it''s'''").unwrap(),
            Expr::Compare {
                path: vec!["displayName".into()],
                op: Op::Eq,
                value: Lit::Str("it's'".into())
            }
        );
        assert!(parse_filter("displayName eq 'it's'").is_err());
        assert!(parse_filter("displayName eq 'open").is_err());
        let deep = format!("{}mail eq 'a'{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse_filter(&deep).unwrap_err().code, "Request_BadRequest");
        let nots = format!("{}mail eq 'a'", "not ".repeat(100_000));
        assert!(parse_filter(&nots).is_err());
        let ors = vec!["mail eq 'a'"; 100_000].join(" or ");
        assert!(
            parse_filter(&ors)
                .unwrap_err()
                .message
                .contains("node count")
        );
        let ors = vec!["mail eq 'a'"; 60].join(" or ");
        assert!(parse_filter(&ors).is_ok());
        let fine = format!("{}mail eq 'a'{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_filter(&fine).is_ok());
    }
}
