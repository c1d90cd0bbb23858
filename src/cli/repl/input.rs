//! Reading REPL input: when an input is complete, and what kind it is.

use crate::syntax::ast::{ItemKind, Module};
use crate::syntax::lexer::{tokenize, LexErrorKind, Tok};
use crate::syntax::parser::{parse_expr, parse_module};
use crate::syntax::span::FileId;

/// What the continuation lines of the terminal editor start with (the `... `
/// prompt is part of the edited text there, and removed before parsing).
pub const CONTINUATION: &str = "\n... ";

/// The input without the editor's continuation prompts.
pub fn strip_continuations(text: &str) -> String {
    text.replace(CONTINUATION, "\n")
}

/// Whether the parser could still complete `text`, so the REPL should read
/// another line: brackets are open, a template or comment is unterminated,
/// the input ends with a token that needs a right-hand side (`=`, `+`,
/// `,`, `->`, ...), or the parser stops only at the end of the text (e.g.
/// `if x { y(); } else`). A blank last line always submits; so does a
/// command.
pub fn needs_more(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with(':') {
        return false;
    }
    if text.contains('\n')
        && text
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty())
    {
        return false;
    }
    let (toks, errors) = tokenize(text, 0);
    if errors.iter().any(|(_, _, e)| {
        matches!(
            e.kind,
            LexErrorKind::UnterminatedTemplate | LexErrorKind::UnterminatedComment
        )
    }) {
        return true;
    }
    let mut depth: i64 = 0;
    for (_, t, _) in &toks {
        match t {
            Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
            Tok::RParen | Tok::RBracket | Tok::RBrace => depth -= 1,
            _ => {}
        }
    }
    if depth > 0 {
        return true;
    }
    if parser_wants_more(text) {
        return true;
    }
    toks.last().is_some_and(|(_, t, _)| wants_operand(t))
}

/// Whether the real parser, reading the input as declarations, as one
/// expression or as statements, fails only because the text ended (and no
/// reading succeeds).
fn parser_wants_more(text: &str) -> bool {
    // Only "unexpected end of file" errors, and none that merely wants the
    // `}` closing the wrapper function below.
    let ends_early = |diags: &[crate::diagnostics::Diagnostic]| {
        !diags.is_empty()
            && diags.iter().all(|d| {
                d.message.starts_with("unexpected end of file")
                    && !d
                        .help
                        .as_deref()
                        .is_some_and(|h| h.contains("matching `}`"))
            })
    };
    let (_, as_items) = parse_module(text, FileId(0));
    if as_items.is_empty() {
        return false;
    }
    let (_, as_expr) = parse_expr(text, 0, FileId(0));
    if as_expr.is_empty() {
        return false;
    }
    let (_, as_statements) = parse_module(&format!("function __input() {{\n{text}\n}}"), FileId(0));
    if as_statements.is_empty() {
        return false;
    }
    let (_, open_body) = parse_module(&format!("function __input() {{\n{text}\n"), FileId(0));
    ends_early(&as_items) || ends_early(&as_expr) || ends_early(&open_body)
}

/// Tokens after which an input cannot end.
fn wants_operand(t: &Tok<'_>) -> bool {
    use Tok::*;
    matches!(
        t,
        Assign
            | Plus
            | Minus
            | Star
            | Slash
            | Percent
            | AndAnd
            | OrOr
            | EqEq
            | NotEq
            | Lt
            | Gt
            | Le
            | Ge
            | Comma
            | Dot
            | Arrow
            | FatArrow
            | Question
            | Colon
            | Elvis
            | Bang
            | Pipe
            | RangeExcl
            | Ellipsis
            | QuestionDot
            | ArrowParen
            | ArmArrow
            | PlusAssign
            | MinusAssign
            | StarAssign
            | SlashAssign
    )
}

/// What an input is.
pub enum Input {
    /// Nothing to do.
    Empty,
    /// A `:command` and its argument text.
    Command(String, String),
    /// Top-level declarations (their parsed form); module-level variable
    /// declarations among them run like statements.
    Items(Module),
    /// A single expression, whose value is shown.
    Expr,
    /// Statements (possibly malformed: the check reports it).
    Statements,
}

/// Classifies an input (already without continuation prompts).
pub fn classify(text: &str) -> Input {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Input::Empty;
    }
    if let Some(cmd) = trimmed.strip_prefix(':') {
        let (name, arg) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        return Input::Command(name.to_string(), arg.trim().to_string());
    }
    let (module, diags) = parse_module(text, FileId(0));
    if diags.is_empty()
        && !module.items.is_empty()
        && !module
            .items
            .iter()
            .any(|i| matches!(i.kind, ItemKind::Error))
    {
        return Input::Items(module);
    }
    let (_, diags) = parse_expr(text, 0, FileId(0));
    if diags.is_empty() && !text.trim_end().ends_with(';') {
        return Input::Expr;
    }
    Input::Statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_and_trailing_operators_continue() {
        assert!(needs_more("function f() {"));
        assert!(needs_more("foo(1,"));
        assert!(needs_more("int x ="));
        assert!(needs_more("1 +"));
        assert!(needs_more("[1, 2"));
        assert!(needs_more("`a ${x}"));
        assert!(!needs_more("1 + 2"));
        assert!(!needs_more("int x = 5;"));
        assert!(!needs_more("function f() {\n}"));
        assert!(!needs_more(":type 1 +"));
        assert!(!needs_more(""));
        // The parser decides what brackets and operators cannot.
        assert!(needs_more("if x { y(); } else"));
        assert!(needs_more("int x = 5"));
        assert!(needs_more("return"));
        assert!(!needs_more("x"));
        assert!(!needs_more("if x { y(); }"));
        assert!(!needs_more("))"));
    }

    #[test]
    fn a_blank_line_submits() {
        assert!(!needs_more("foo(1,\n"));
        assert!(!needs_more("if x {\n  \n"));
    }

    #[test]
    fn continuation_prompts_are_removed() {
        assert_eq!(
            strip_continuations("if x {\n... y;\n... }"),
            "if x {\ny;\n}"
        );
    }

    #[test]
    fn inputs_are_classified() {
        assert!(matches!(classify("  "), Input::Empty));
        assert!(
            matches!(classify(":type 1 + 2"), Input::Command(c, a) if c == "type" && a == "1 + 2")
        );
        assert!(matches!(
            classify("function f() returns int { return 1; }"),
            Input::Items(_)
        ));
        assert!(matches!(classify("int x = 5;"), Input::Items(_)));
        assert!(matches!(classify("1 + 2"), Input::Expr));
        assert!(matches!(classify("x = 3;"), Input::Statements));
        assert!(matches!(classify("io:println(1);"), Input::Statements));
    }
}
