//! Parser glue: runs the lexer, the disambiguation pass and the generated
//! LALRPOP parser, and turns parse errors into `flow::syntax` diagnostics.
//!
//! Invariant: parsing never fails as a whole. It returns a module (with
//! `Error` nodes where input was skipped) and the list of diagnostics.

use super::ast::*;
use super::disambiguate::disambiguate;
use super::lexer::{decode_escape, tokenize, LexError, Spanned, Tok};
use super::span::{FileId, Span};
use crate::diagnostics::{Code, Diagnostic};
use lalrpop_util::{ErrorRecovery, ParseError};

#[allow(clippy::all, clippy::pedantic, missing_docs, unused)]
mod grammar {
    include!(concat!(env!("OUT_DIR"), "/flow.rs"));
}

/// State shared with the grammar's actions: the file and the diagnostics.
pub struct Ctx {
    file: FileId,
    /// Diagnostics found so far.
    pub diags: Vec<Diagnostic>,
    /// Offsets of lexer errors (parse errors at these tokens are not repeated).
    lex_error_starts: Vec<usize>,
}

type Recovery<'a> = ErrorRecovery<usize, Tok<'a>, String>;

/// Parses a whole file.
pub fn parse_module(text: &str, file: FileId) -> (Module, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        file,
        diags: Vec::new(),
        lex_error_starts: Vec::new(),
    };
    let toks = ctx.lex(text, 0, true);
    let end = text.len();
    let module = match grammar::ModuleParser::new().parse(&mut ctx, toks.into_iter().map(Ok)) {
        Ok(m) => m,
        Err(e) => {
            ctx.report(e, end);
            Module::default()
        }
    };
    ctx.diags.sort_by_key(|d| d.span.start);
    (module, first_error_per_line(ctx.diags, text))
}

/// Keeps only the first syntax error of each line: after recovery the rest of
/// a broken line mostly yields follow-on errors that would only be noise.
fn first_error_per_line(diags: Vec<Diagnostic>, text: &str) -> Vec<Diagnostic> {
    let line_of = |offset: u32| {
        let end = (offset as usize).min(text.len());
        text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    };
    let mut last_line = None;
    let mut out = Vec::with_capacity(diags.len());
    for d in diags {
        let line = line_of(d.span.start);
        if last_line != Some(line) {
            last_line = Some(line);
            out.push(d);
        }
    }
    out
}

/// Parses a single expression (used by the REPL and for template holes).
pub fn parse_expr(text: &str, base: usize, file: FileId) -> (Expr, Vec<Diagnostic>) {
    let mut ctx = Ctx {
        file,
        diags: Vec::new(),
        lex_error_starts: Vec::new(),
    };
    let e = ctx.parse_sub_expr(text, base);
    (e, ctx.diags)
}

impl Ctx {
    fn lex<'a>(&mut self, text: &'a str, base: usize, module_level: bool) -> Vec<Spanned<'a>> {
        let (toks, errs) = tokenize(text, base);
        for (at, end, err) in errs {
            self.lex_error(at, end, &err);
        }
        if let Some((l, r)) = too_deep(&toks) {
            self.diags.push(
                Diagnostic::new(
                    Code::Syntax,
                    self.span(l, r),
                    format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
                )
                .with_help("split the expression into several statements"),
            );
            return Vec::new();
        }
        disambiguate(toks, module_level)
    }

    fn lex_error(&mut self, at: usize, end: usize, err: &LexError) {
        self.lex_error_starts.push(at);
        let span = Span::new(self.file, at, end.max(at + 1));
        let mut d = Diagnostic::new(Code::Syntax, span, err.message());
        d.help = Some(
            match err.kind {
                super::lexer::LexErrorKind::InvalidEscape => {
                    "valid escapes are \\n \\t \\r \\\" \\\\ \\u{...} (and \\` \\$ in templates)"
                }
                super::lexer::LexErrorKind::UnterminatedString => "close the string with `\"`",
                super::lexer::LexErrorKind::UnterminatedTemplate => {
                    "close the template with a backtick"
                }
                super::lexer::LexErrorKind::UnterminatedComment => "close the comment with `*/`",
                _ => "remove or replace this text",
            }
            .to_string(),
        );
        self.diags.push(d);
    }

    fn parse_sub_expr(&mut self, text: &str, base: usize) -> Expr {
        let toks = self.lex(text, base, false);
        if toks.is_empty() {
            let span = Span::new(self.file, base, base + text.len());
            self.diags.push(
                Diagnostic::new(Code::Syntax, span, "empty interpolation `${}`")
                    .with_help("put an expression between the braces"),
            );
            return Expr::new(ExprKind::Error, span);
        }
        match grammar::ExprParser::new().parse(self, toks.into_iter().map(Ok)) {
            Ok(e) => e,
            Err(err) => {
                self.report(err, base + text.len());
                Expr::new(
                    ExprKind::Error,
                    Span::new(self.file, base, base + text.len()),
                )
            }
        }
    }

    /// Records a recovered parse error.
    pub fn recover(&mut self, e: Recovery<'_>) {
        self.report(e.error, 0);
    }

    fn report(&mut self, e: ParseError<usize, Tok<'_>, String>, eof: usize) {
        let d = match e {
            ParseError::InvalidToken { location } => Diagnostic::new(
                Code::Syntax,
                self.span(location, location + 1),
                "invalid token",
            ),
            ParseError::UnrecognizedEof { location, expected } => {
                let at = location.max(eof);
                let mut d = Diagnostic::new(
                    Code::Syntax,
                    self.span(at, at),
                    format!("unexpected end of file{}", expected_text(&expected)),
                );
                d.help = help_for(&expected);
                d
            }
            ParseError::UnrecognizedToken {
                token: (l, tok, r),
                expected,
            } => {
                if tok == Tok::Invalid
                    && self
                        .lex_error_starts
                        .iter()
                        .any(|s| *s >= l && *s < r.max(l + 1))
                {
                    return;
                }
                if self.lex_error_starts.contains(&l) {
                    return;
                }
                let mut d = Diagnostic::new(
                    Code::Syntax,
                    self.span(l, r),
                    format!("unexpected {tok}{}", expected_text(&expected)),
                );
                d.help = help_for(&expected);
                d
            }
            ParseError::ExtraToken { token: (l, tok, r) } => {
                Diagnostic::new(Code::Syntax, self.span(l, r), format!("unexpected {tok}"))
            }
            ParseError::User { error } => Diagnostic::new(Code::Syntax, self.span(eof, eof), error),
        };
        // Recovery can report the same position twice; keep the first.
        if !self.diags.iter().any(|x| x.span.start == d.span.start) {
            self.diags.push(d);
        }
    }

    /// A span in this file.
    pub fn span(&self, l: usize, r: usize) -> Span {
        Span::new(self.file, l, r)
    }

    /// An identifier node.
    pub fn ident(&self, n: &str, l: usize, r: usize) -> Ident {
        Ident {
            name: n.into(),
            span: self.span(l, r),
        }
    }

    /// A type node.
    pub fn ty(&self, kind: TypeExprKind, l: usize, r: usize) -> TypeExpr {
        TypeExpr {
            kind,
            span: self.span(l, r),
        }
    }

    /// An expression node.
    pub fn expr(&self, kind: ExprKind, l: usize, r: usize) -> Expr {
        Expr::new(kind, self.span(l, r))
    }

    /// A binary expression node.
    pub fn binary(&self, op: BinOp, a: Expr, b: Expr, l: usize, r: usize) -> Expr {
        self.expr(ExprKind::Binary(op, Box::new(a), Box::new(b)), l, r)
    }

    /// A call: `x.m(args)` becomes a method call, `error(...)` an error constructor.
    pub fn call(&self, f: Expr, args: Vec<Arg>, l: usize, r: usize) -> Expr {
        match f.kind {
            ExprKind::Field {
                target,
                name,
                optional: false,
            } => self.expr(ExprKind::MethodCall { target, name, args }, l, r),
            ExprKind::TypeDesc(TypeExpr {
                kind: TypeExprKind::Builtin(BuiltinType::Error),
                ..
            }) => self.expr(ExprKind::ErrorCtor(args), l, r),
            kind => self.expr(
                ExprKind::Call(Box::new(Expr::new(kind, f.span)), args),
                l,
                r,
            ),
        }
    }

    /// `target = value;` (or `_ = value;`, a discard).
    pub fn assign(&self, target: Expr, value: Expr) -> StmtKind {
        match &target.kind {
            ExprKind::Name(n) if &*n.name == "_" => StmtKind::Discard(value),
            _ => StmtKind::Assign {
                target,
                op: None,
                value,
            },
        }
    }

    /// Splits `module:name` (starting at offset `l`) into two identifiers.
    pub fn split_qualified(&self, q: &str, l: usize) -> (Ident, Ident) {
        let colon = q.find(':').unwrap_or(q.len());
        let m = self.ident(&q[..colon], l, l + colon);
        let rest = q.get(colon + 1..).unwrap_or("");
        let n = self.ident(rest, l + colon + 1, l + q.len());
        (m, n)
    }

    /// A pattern that is a plain name: `_` is the wildcard, else a constant.
    pub fn name_pattern(&self, n: Ident) -> Pattern {
        if &*n.name == "_" {
            Pattern::Wildcard(n.span)
        } else {
            let span = n.span;
            Pattern::Value(Expr::new(ExprKind::Name(n), span))
        }
    }

    /// `{a:b}` lexes `a:b` as a qualified name; in a mapping it is `a: b`.
    pub fn tight_field(&self, q: &str, l: usize, r: usize) -> MappingField {
        let (k, v) = self.split_qualified(q, l);
        let _ = r;
        let vspan = v.span;
        MappingField {
            key: k.name,
            key_span: k.span,
            value: Expr::new(ExprKind::Name(v), vspan),
        }
    }

    /// Splits function-type parameters into ordinary ones and a trailing rest.
    pub fn fn_type_params(
        &mut self,
        ps: Vec<(TypeExpr, bool)>,
    ) -> (Vec<TypeExpr>, Option<Box<TypeExpr>>) {
        let mut params = Vec::new();
        let mut rest = None;
        let n = ps.len();
        for (i, (t, is_rest)) in ps.into_iter().enumerate() {
            if is_rest {
                if i + 1 != n {
                    self.diags.push(Diagnostic::new(
                        Code::Syntax,
                        t.span,
                        "a rest parameter must be the last parameter",
                    ));
                }
                rest = Some(Box::new(t));
            } else {
                params.push(t);
            }
        }
        (params, rest)
    }

    /// Builds a template expression from the text between the backticks
    /// (which starts at offset `l + 1`), parsing each `${...}` hole.
    pub fn template(&mut self, body: &str, l: usize, r: usize) -> Expr {
        let base = l + 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        let b = body.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => match decode_escape(&body[i + 1..], true) {
                    Some((ch, n)) => {
                        text.push(ch);
                        i += 1 + n;
                    }
                    None => {
                        let at = base + i;
                        self.lex_error(
                            at,
                            at + 2,
                            &LexError {
                                kind: super::lexer::LexErrorKind::InvalidEscape,
                                at: Some(at),
                            },
                        );
                        i += 2;
                    }
                },
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    }
                    let start = i + 2;
                    let end = hole_end(body, start);
                    let e = self.parse_sub_expr(&body[start..end], base + start);
                    parts.push(TemplatePart::Expr(e));
                    i = end + 1;
                }
                _ => {
                    let ch = body[i..].chars().next().unwrap_or('\u{fffd}');
                    text.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        self.expr(ExprKind::Template(parts), l, r)
    }
}

/// How deeply expressions may nest (brackets plus operator chains). The
/// checker and compiler recurse over the tree, so this bounds their stack use.
pub const MAX_NESTING: usize = 5_000;

/// Estimates expression nesting from the tokens alone: every bracket opens a
/// level, and every operator in a run (`a + b + c ...`) adds one. Returns the
/// span of the first token beyond [`MAX_NESTING`].
fn too_deep(toks: &[Spanned<'_>]) -> Option<(usize, usize)> {
    let mut levels: Vec<usize> = vec![0];
    let mut chain = 0usize;
    for (l, t, r) in toks {
        match t {
            Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::ArrowParen => {
                levels.push(chain);
                chain = 0;
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                chain = levels.pop().unwrap_or(0);
                if levels.is_empty() {
                    levels.push(0);
                }
            }
            Tok::Semi | Tok::Comma => chain = 0,
            Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::EqEq
            | Tok::NotEq
            | Tok::Lt
            | Tok::Le
            | Tok::Gt
            | Tok::Ge
            | Tok::AndAnd
            | Tok::OrOr
            | Tok::Bang
            | Tok::Question
            | Tok::Elvis
            | Tok::QuestionDot
            | Tok::Dot
            | Tok::Arrow
            | Tok::FatArrow
            | Tok::Is
            | Tok::Check
            | Tok::Checkpanic
            | Tok::Trap
            | Tok::Wait
            | Tok::Start => chain += 1,
            _ => {}
        }
        if levels.len() + chain > MAX_NESTING {
            return Some((*l, *r));
        }
    }
    None
}

/// The offset of the `}` closing a hole whose contents start at `start`.
fn hole_end(body: &str, start: usize) -> usize {
    // Reuse the lexer's scanner: a hole is what `scan_template` skips.
    let b = body.as_bytes();
    let mut depth = 1;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                if let Some(e) = super::lexer::scan_template(&body[i + 1..]) {
                    i += e + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

fn friendly(expected: &str) -> String {
    let e = expected.trim_matches('"');
    match e {
        "IDENT" => "identifier".into(),
        "QIDENT" => "qualified name".into(),
        "INT" | "FLOAT" => "number".into(),
        "DURATION" => "duration".into(),
        "STRING" => "string".into(),
        "TEMPLATE" => "template".into(),
        "DECL" => "declaration".into(),
        "ARROWPAREN" => "`(`".into(),
        "ARMARROW" => "`=>`".into(),
        other => format!("`{}`", other.replace("\\\"", "\"")),
    }
}

fn expected_text(expected: &[String]) -> String {
    let mut names: Vec<String> = expected
        .iter()
        .filter(|e| !matches!(e.as_str(), "INVALID" | "DECL" | "ARROWPAREN"))
        .map(|e| friendly(e))
        .collect();
    names.dedup();
    match names.len() {
        0 => String::new(),
        1 => format!(", expected {}", names[0]),
        2..=5 => format!(", expected one of {}", names.join(", ")),
        _ => String::new(),
    }
}

fn help_for(expected: &[String]) -> Option<String> {
    let has = |t: &str| expected.iter().any(|e| e.trim_matches('"') == t);
    if has(";") {
        Some("statements and declarations end with `;`".into())
    } else if has("}") {
        Some("check that every `{` has a matching `}`".into())
    } else if has(")") {
        Some("check that every `(` has a matching `)`".into())
    } else if has("{") {
        Some("this construct needs a `{ ... }` block".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_expressions_are_a_syntax_error_not_a_crash() {
        let src = format!(
            "function f() returns int {{ return 1{}; }}",
            " + 1".repeat(MAX_NESTING + 10)
        );
        let (_, d) = parse_module(&src, FileId(0));
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("nested too deeply"),
            "{}",
            d[0].message
        );
        let ok = format!(
            "function f() returns int {{ return 1{}; }}",
            " + 1".repeat(1000)
        );
        assert!(parse_module(&ok, FileId(0)).1.is_empty());
    }

    #[test]
    fn parses_every_construct_without_errors() {
        let src = r#"
import io;
import "./lib/pricing.flow" as pricing;
type Order record { int id; string item; int qty = 1; string? note; duration timeout; };
type NotFound distinct error;
const MAX = 50;
int counter = 0;
public function main(string... args) returns error? {
    var x = 1;
    int[] xs = [1, 2, 3];
    map<json> m = {a: 1, "b": [true, ()], c:x};
    xs[0] = 5;
    Order? o = ();
    foreach int i in 0 ..< 10 { io:println(`i=${i} ${ {a: "}"}.a }`); }
    match x { 1 | 2 => { } 3 if x > 2 => { } var z => { } }
    var g = (a, b) => a + b;
    var k = function(int q) returns int { return q; };
    Order[] ords = check j.cloneWithType(Order[]);
    float f = <float>x;
    if x is int && !(x is string) { x += 1; } else if x > 2 { } else { }
    do { fail error("bad", code = 1, wait = 2s); } on fail var e { io:println(e); }
    _ = xs.pop();
    return;
}
"#;
        let (m, d) = parse_module(src, FileId(0));
        assert!(
            d.is_empty(),
            "{:?}",
            d.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
        assert_eq!(m.items.len(), 7);
        let ItemKind::Function(main) = &m.items[6].kind else {
            panic!("main is not a function");
        };
        assert_eq!(main.body.as_ref().map(|b| b.stmts.len()), Some(15));
    }
}
