//! The lexer: source text → tokens with byte spans, built with logos.
//!
//! Invariant: the lexer never fails as a whole. A malformed token becomes a
//! [`Tok::Invalid`] token plus a [`LexError`], so the parser can recover and
//! report every error of a file in one run.

use logos::{Lexer, Logos};
use std::fmt;

/// What went wrong while lexing one token.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LexErrorKind {
    /// A character that starts no token.
    #[default]
    InvalidChar,
    /// A string literal without its closing quote.
    UnterminatedString,
    /// A template without its closing backtick.
    UnterminatedTemplate,
    /// A `/*` comment without `*/`.
    UnterminatedComment,
    /// An unknown escape sequence such as `\q`.
    InvalidEscape,
    /// A malformed number, e.g. `5x`, `.5`, or one that does not fit.
    InvalidNumber(String),
}

/// A lexical error: its kind and the byte offset it points at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LexError {
    /// What went wrong.
    pub kind: LexErrorKind,
    /// Offset of the offending character (absolute, within the lexed text),
    /// when it differs from the token's start.
    pub at: Option<usize>,
}

impl LexError {
    fn new(kind: LexErrorKind) -> LexError {
        LexError { kind, at: None }
    }

    /// Human text for the diagnostic.
    pub fn message(&self) -> String {
        match &self.kind {
            LexErrorKind::InvalidChar => "unexpected character".into(),
            LexErrorKind::UnterminatedString => "unterminated string literal".into(),
            LexErrorKind::UnterminatedTemplate => "unterminated string template".into(),
            LexErrorKind::UnterminatedComment => "unterminated block comment".into(),
            LexErrorKind::InvalidEscape => "invalid escape sequence".into(),
            LexErrorKind::InvalidNumber(m) => m.clone(),
        }
    }
}

/// A token. Literal tokens carry their decoded value.
#[derive(Logos, Debug, Clone, PartialEq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Tok<'a> {
    /// A skipped block comment (never produced; see `block_comment`).
    #[token("/*", block_comment)]
    BlockComment,

    /// An identifier.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    Ident(&'a str),
    /// `module:name` with no spaces.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    QualIdent(&'a str),

    /// An integer literal.
    #[regex(r"[0-9][0-9_]*", lex_int)]
    #[regex(r"0[xX][0-9a-fA-F_]+", lex_hex)]
    Int(i64),
    /// A float literal.
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", lex_float)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", lex_float)]
    Float(f64),
    /// A duration literal, in nanoseconds.
    #[regex(r"[0-9][0-9_]*(\.[0-9]+)?(ms|s|m|h)", lex_duration)]
    Duration(i64),
    /// `.5`: rejected with a clear message.
    #[regex(r"\.[0-9]+", bad_float)]
    BadFloat,
    /// A string literal (decoded).
    #[token("\"", lex_string)]
    Str(String),
    /// A string template; the text between the backticks, undecoded.
    #[token("`", lex_template)]
    Template(&'a str),

    // Keywords.
    #[token("import")]
    Import,
    #[token("as")]
    As,
    #[token("function")]
    Function,
    #[token("returns")]
    Returns,
    #[token("return")]
    Return,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("foreach")]
    Foreach,
    #[token("in")]
    In,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("match")]
    Match,
    #[token("var")]
    Var,
    #[token("final")]
    Final,
    #[token("const")]
    Const,
    #[token("type")]
    Type,
    #[token("record")]
    Record,
    #[token("endpoint")]
    Endpoint,
    #[token("service")]
    Service,
    #[token("configurable")]
    Configurable,
    #[token("public")]
    Public,
    #[token("check")]
    Check,
    #[token("checkpanic")]
    Checkpanic,
    #[token("trap")]
    Trap,
    #[token("fail")]
    Fail,
    #[token("panic")]
    Panic,
    #[token("do")]
    Do,
    #[token("on")]
    On,
    #[token("is")]
    Is,
    #[token("error")]
    Error,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("transaction")]
    Transaction,
    #[token("transactional")]
    Transactional,
    #[token("commit")]
    Commit,
    #[token("rollback")]
    Rollback,
    #[token("compensate")]
    Compensate,
    #[token("retry")]
    Retry,
    #[token("timeout")]
    Timeout,
    #[token("start")]
    Start,
    #[token("wait")]
    Wait,
    #[token("test")]
    Test,
    #[token("distinct")]
    Distinct,

    // Built-in type names (reserved, see docs/DECISIONS.md).
    #[token("int")]
    TInt,
    #[token("float")]
    TFloat,
    #[token("boolean")]
    TBoolean,
    #[token("string")]
    TString,
    #[token("json")]
    TJson,
    #[token("any")]
    TAny,
    #[token("map")]
    TMap,
    #[token("future")]
    TFuture,
    #[token("duration")]
    TDuration,
    #[token("typedesc")]
    TTypedesc,

    // Operators and punctuation.
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
    #[token("=")]
    Assign,
    #[token("+=")]
    PlusAssign,
    #[token("-=")]
    MinusAssign,
    #[token("*=")]
    StarAssign,
    #[token("/=")]
    SlashAssign,
    #[token("?")]
    Question,
    #[token("?:")]
    Elvis,
    #[token("?.")]
    QuestionDot,
    #[token(".")]
    Dot,
    #[token("->")]
    Arrow,
    #[token("=>")]
    FatArrow,
    #[token("..<")]
    RangeExcl,
    #[token("...")]
    Ellipsis,
    #[token(":")]
    Colon,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("|")]
    Pipe,
    #[token("@")]
    At,

    /// Stands for a malformed token; its error is reported by the lexer.
    Invalid,
    /// Inserted by the disambiguation pass: a declaration `Type name` starts here.
    DeclMark,
    /// Inserted by the disambiguation pass: this `(` opens arrow-function parameters.
    ArrowParen,
    /// Inserted by the disambiguation pass: the `=>` that ends a match-arm head.
    ArmArrow,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::QualIdent(s) => write!(f, "`{s}`"),
            Tok::Int(_) | Tok::Float(_) => write!(f, "number"),
            Tok::Duration(_) => write!(f, "duration"),
            Tok::Str(_) => write!(f, "string"),
            Tok::Template(_) => write!(f, "template"),
            Tok::Invalid | Tok::BadFloat | Tok::BlockComment => write!(f, "invalid token"),
            Tok::DeclMark => write!(f, "declaration"),
            Tok::ArrowParen => write!(f, "`(`"),
            Tok::ArmArrow => write!(f, "`=>`"),
            other => write!(f, "`{}`", token_text(other)),
        }
    }
}

/// The source text of a fixed token (keywords and punctuation).
pub fn token_text(t: &Tok<'_>) -> &'static str {
    use Tok::*;
    match t {
        Import => "import",
        As => "as",
        Function => "function",
        Returns => "returns",
        Return => "return",
        If => "if",
        Else => "else",
        While => "while",
        Foreach => "foreach",
        In => "in",
        Break => "break",
        Continue => "continue",
        Match => "match",
        Var => "var",
        Final => "final",
        Const => "const",
        Type => "type",
        Record => "record",
        Endpoint => "endpoint",
        Service => "service",
        Configurable => "configurable",
        Public => "public",
        Check => "check",
        Checkpanic => "checkpanic",
        Trap => "trap",
        Fail => "fail",
        Panic => "panic",
        Do => "do",
        On => "on",
        Is => "is",
        Error => "error",
        True => "true",
        False => "false",
        Transaction => "transaction",
        Transactional => "transactional",
        Commit => "commit",
        Rollback => "rollback",
        Compensate => "compensate",
        Retry => "retry",
        Timeout => "timeout",
        Start => "start",
        Wait => "wait",
        Test => "test",
        Distinct => "distinct",
        TInt => "int",
        TFloat => "float",
        TBoolean => "boolean",
        TString => "string",
        TJson => "json",
        TAny => "any",
        TMap => "map",
        TFuture => "future",
        TDuration => "duration",
        TTypedesc => "typedesc",
        Plus => "+",
        Minus => "-",
        Star => "*",
        Slash => "/",
        Percent => "%",
        EqEq => "==",
        NotEq => "!=",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        AndAnd => "&&",
        OrOr => "||",
        Bang => "!",
        Assign => "=",
        PlusAssign => "+=",
        MinusAssign => "-=",
        StarAssign => "*=",
        SlashAssign => "/=",
        Question => "?",
        Elvis => "?:",
        QuestionDot => "?.",
        Dot => ".",
        Arrow => "->",
        FatArrow => "=>",
        RangeExcl => "..<",
        Ellipsis => "...",
        Colon => ":",
        Semi => ";",
        Comma => ",",
        LParen => "(",
        RParen => ")",
        LBracket => "[",
        RBracket => "]",
        LBrace => "{",
        RBrace => "}",
        Pipe => "|",
        At => "@",
        _ => "token",
    }
}

fn bad_float<'a>(_lex: &mut Lexer<'a, Tok<'a>>) -> Result<(), LexError> {
    Err(LexError::new(LexErrorKind::InvalidNumber(
        "a float literal needs a digit before the `.` (write 0.5)".into(),
    )))
}

/// Fails the number token when an identifier character follows it (`5x`).
fn reject_suffix<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<(), LexError> {
    let rest = lex.remainder();
    let n = rest
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if n > 0 {
        let bad = format!("{}{}", lex.slice(), &rest[..n]);
        let at = lex.span().end;
        lex.bump(n);
        return Err(LexError {
            kind: LexErrorKind::InvalidNumber(format!(
                "invalid number literal `{bad}` (durations use ms, s, m or h)"
            )),
            at: Some(at),
        });
    }
    Ok(())
}

fn lex_int<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<i64, LexError> {
    reject_suffix(lex)?;
    let digits: String = lex.slice().chars().filter(|c| *c != '_').collect();
    digits.parse::<i64>().map_err(|_| {
        LexError::new(LexErrorKind::InvalidNumber(format!(
            "integer literal `{}` does not fit in 64 bits",
            lex.slice()
        )))
    })
}

fn lex_hex<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<i64, LexError> {
    reject_suffix(lex)?;
    let digits: String = lex.slice()[2..].chars().filter(|c| *c != '_').collect();
    u64::from_str_radix(&digits, 16)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| {
            LexError::new(LexErrorKind::InvalidNumber(format!(
                "hexadecimal literal `{}` is malformed or does not fit in 64 bits",
                lex.slice()
            )))
        })
}

fn lex_float<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<f64, LexError> {
    reject_suffix(lex)?;
    let digits: String = lex.slice().chars().filter(|c| *c != '_').collect();
    digits.parse::<f64>().map_err(|_| {
        LexError::new(LexErrorKind::InvalidNumber(format!(
            "malformed float literal `{}`",
            lex.slice()
        )))
    })
}

fn lex_duration<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<i64, LexError> {
    reject_suffix(lex)?;
    duration_nanos(lex.slice()).ok_or_else(|| {
        LexError::new(LexErrorKind::InvalidNumber(format!(
            "duration literal `{}` is out of range",
            lex.slice()
        )))
    })
}

/// Parses a duration literal (`250ms`, `1.5s`, `2m`, `1h`, `1_000ms`: digits
/// with optional `_` separators and fraction, then one of the units `ms`,
/// `s`, `m`, `h`) into nanoseconds, exactly as the lexer reads it in source
/// code. `None` when `text` is not such a literal or is out of range.
/// Used for configurable values (§5.4).
pub fn parse_duration(text: &str) -> Option<i64> {
    let unit_len = if text.ends_with("ms") {
        2
    } else if text.ends_with(['s', 'm', 'h']) {
        1
    } else {
        return None;
    };
    let num = &text[..text.len() - unit_len];
    let (int_part, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    let int_ok = int_part.starts_with(|c: char| c.is_ascii_digit())
        && int_part.chars().all(|c| c.is_ascii_digit() || c == '_');
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    if !(int_ok && frac_ok) {
        return None;
    }
    duration_nanos(text)
}

/// Nanoseconds of a duration literal already known to match the lexer's
/// pattern; `None` when out of range.
fn duration_nanos(literal: &str) -> Option<i64> {
    let text: String = literal.chars().filter(|c| *c != '_').collect();
    let (num, unit_nanos) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000_000f64)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000_000f64)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000_000_000f64)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000_000_000f64)
    } else {
        (text.as_str(), 1f64)
    };
    if num.contains('.') {
        let v: f64 = num.parse().ok()?;
        let nanos = (v * unit_nanos).round();
        if !nanos.is_finite() || nanos >= i64::MAX as f64 {
            return None;
        }
        Some(nanos as i64)
    } else {
        let v: i64 = num.parse().ok()?;
        v.checked_mul(unit_nanos as i64)
    }
}

/// Decodes one escape sequence starting after the backslash; returns the
/// character and the number of bytes consumed after the backslash.
pub fn decode_escape(rest: &str, template: bool) -> Option<(char, usize)> {
    let mut chars = rest.chars();
    let c = chars.next()?;
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '`' if template => Some('`'),
        '$' if template => Some('$'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Some((ch, 1));
    }
    if c == 'u' {
        let body = rest.get(1..)?;
        let body = body.strip_prefix('{')?;
        let close = body.find('}')?;
        let hex = &body[..close];
        if hex.is_empty() || hex.len() > 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        let ch = char::from_u32(v)?;
        return Some((ch, 1 + 1 + close + 1));
    }
    None
}

fn lex_string<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<String, LexError> {
    let rest = lex.remainder();
    let base = lex.span().end;
    let mut out = String::new();
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                lex.bump(i + 1);
                return Ok(out);
            }
            b'\n' => break,
            b'\\' => match decode_escape(&rest[i + 1..], false) {
                Some((ch, n)) => {
                    out.push(ch);
                    i += 1 + n;
                }
                None => {
                    let end = rest[i..].find(['"', '\n']).map(|e| i + e);
                    match end {
                        Some(e) if bytes[e] == b'"' => lex.bump(e + 1),
                        Some(e) => lex.bump(e),
                        None => lex.bump(rest.len()),
                    }
                    return Err(LexError {
                        kind: LexErrorKind::InvalidEscape,
                        at: Some(base + i),
                    });
                }
            },
            _ => {
                let ch = rest[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    lex.bump(i);
    Err(LexError::new(LexErrorKind::UnterminatedString))
}

/// Scans a template body up to its closing backtick, skipping over `${ ... }`
/// holes (which may contain strings, templates and braces).
fn lex_template<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> Result<&'a str, LexError> {
    let rest = lex.remainder();
    match scan_template(rest) {
        Some(end) => {
            lex.bump(end + 1);
            Ok(&rest[..end])
        }
        None => {
            lex.bump(rest.len());
            Err(LexError::new(LexErrorKind::UnterminatedTemplate))
        }
    }
}

/// Returns the offset of the closing backtick of a template whose body starts
/// at `s[0]`, or `None` if it is unterminated.
pub fn scan_template(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'`' => return Some(i),
            b'$' if b.get(i + 1) == Some(&b'{') => {
                i = skip_hole(s, i + 2)?;
            }
            _ => i += 1,
        }
    }
    None
}

/// Skips an interpolation hole starting just after `${`; returns the offset
/// just after its closing `}`.
fn skip_hole(s: &str, mut i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 1;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if b[i.min(b.len() - 1)] == b'\n' {
                        return None;
                    }
                    i += 1;
                }
            }
            b'`' => {
                let end = scan_template(&s[i + 1..])?;
                i += end + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn block_comment<'a>(lex: &mut Lexer<'a, Tok<'a>>) -> logos::FilterResult<(), LexError> {
    match lex.remainder().find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            logos::FilterResult::Skip
        }
        None => {
            lex.bump(lex.remainder().len());
            logos::FilterResult::Error(LexError::new(LexErrorKind::UnterminatedComment))
        }
    }
}

/// A token with its absolute byte span, as the parser consumes it.
pub type Spanned<'a> = (usize, Tok<'a>, usize);

/// Lexes `text` (which starts at absolute offset `base` in its file) into
/// tokens, collecting errors as `(offset, LexError)` pairs. Malformed tokens
/// appear as [`Tok::Invalid`] so the parser can recover.
pub fn tokenize(text: &str, base: usize) -> (Vec<Spanned<'_>>, Vec<(usize, usize, LexError)>) {
    let mut toks = Vec::new();
    let mut errs = Vec::new();
    let mut lex = Tok::lexer(text);
    while let Some(res) = lex.next() {
        let span = lex.span();
        let (s, e) = (span.start + base, span.end + base);
        match res {
            Ok(t) => toks.push((s, t, e)),
            Err(mut err) => {
                let at = err.at.map(|a| a + base).unwrap_or(s);
                err.at = Some(at);
                errs.push((at, e, err));
                toks.push((s, Tok::Invalid, e));
            }
        }
    }
    (toks, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        tokenize(src, 0).0.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(
            kinds("250ms 2s 1.5s 5m 1h 42 1_000 0xff 2.0e-3"),
            vec![
                Tok::Duration(250_000_000),
                Tok::Duration(2_000_000_000),
                Tok::Duration(1_500_000_000),
                Tok::Duration(300_000_000_000),
                Tok::Duration(3_600_000_000_000),
                Tok::Int(42),
                Tok::Int(1000),
                Tok::Int(255),
                Tok::Float(2.0e-3),
            ]
        );
    }

    #[test]
    fn duration_text_parses_like_a_literal() {
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("1_000ms"), Some(1_000_000_000));
        assert_eq!(parse_duration("2m"), Some(120_000_000_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000_000_000));
        for bad in [
            "", "ms", "5", "5x", "-1s", "+1s", ".5s", "1.s", "1e3ms", "_1s", "1 s", "1m30s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("99999999999999h"), None);
    }

    #[test]
    fn qualified_names_and_ranges() {
        assert_eq!(
            kinds("io:println 0..<10 0...9"),
            vec![
                Tok::QualIdent("io:println"),
                Tok::Int(0),
                Tok::RangeExcl,
                Tok::Int(10),
                Tok::Int(0),
                Tok::Ellipsis,
                Tok::Int(9),
            ]
        );
    }

    #[test]
    fn strings_and_templates() {
        assert_eq!(
            kinds(r#""a\n\u{41}" `x ${ {a: "}"}.a } y`"#),
            vec![
                Tok::Str("a\nA".into()),
                Tok::Template(r#"x ${ {a: "}"}.a } y"#)
            ]
        );
    }

    #[test]
    fn errors_are_tokens() {
        let (toks, errs) = tokenize("5x \"abc\\q\" /* open", 0);
        assert_eq!(toks.len(), 3);
        assert_eq!(errs.len(), 3);
        assert_eq!(errs[1].0, 7);
    }
}
