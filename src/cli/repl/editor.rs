//! The terminal line editor's Flow support: completeness (via the lexer),
//! completion, bracket matching, and the `... ` continuation prompt.

use super::input::{needs_more, strip_continuations, CONTINUATION};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Cmd, ConditionalEventHandler, Context, Event, EventContext, Helper, RepeatCount};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// Flow keywords offered by completion.
const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "function",
    "returns",
    "return",
    "if",
    "else",
    "while",
    "foreach",
    "in",
    "break",
    "continue",
    "match",
    "var",
    "final",
    "const",
    "type",
    "record",
    "endpoint",
    "service",
    "configurable",
    "public",
    "check",
    "checkpanic",
    "trap",
    "fail",
    "panic",
    "do",
    "on",
    "is",
    "error",
    "true",
    "false",
    "transaction",
    "commit",
    "rollback",
    "compensate",
    "retry",
    "timeout",
    "start",
    "wait",
    "distinct",
    "int",
    "float",
    "boolean",
    "string",
    "json",
    "any",
    "map",
    "future",
    "duration",
    "typedesc",
];

/// Commands offered by completion after `:`.
const COMMANDS: &[&str] = &[":help", ":type", ":load", ":endpoints", ":reset", ":quit"];

/// Remote methods offered after `endpoint->`.
const REMOTE_METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "execute"];

/// The names completion can offer, refreshed by the REPL after each input.
#[derive(Default)]
pub struct Names {
    /// Names declared in the session.
    pub session: Vec<String>,
    /// Standard-library modules and their public members.
    pub modules: Vec<(String, Vec<String>)>,
}

/// The rustyline helper.
pub struct FlowHelper {
    names: Arc<Mutex<Names>>,
    brackets: MatchingBracketHighlighter,
}

impl FlowHelper {
    /// A helper completing from `names`.
    pub fn new(names: Arc<Mutex<Names>>) -> FlowHelper {
        FlowHelper {
            names,
            brackets: MatchingBracketHighlighter::new(),
        }
    }
}

impl Helper for FlowHelper {}

impl Validator for FlowHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        if needs_more(&strip_continuations(ctx.input())) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Hinter for FlowHelper {
    type Hint = String;
}

impl Highlighter for FlowHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        self.brackets.highlight(line, pos)
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.brackets.highlight_char(line, pos, kind)
    }
}

impl Completer for FlowHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let head = &before[..start];
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = Vec::new();
        if head.ends_with("->") {
            out.extend(REMOTE_METHODS.iter().map(|m| m.to_string()));
        } else if let Some(module) = module_before(head) {
            if let Some((_, members)) = names.modules.iter().find(|(m, _)| m == module) {
                out.extend(members.iter().cloned());
            }
        } else if head.trim().is_empty() && word.is_empty() && before.ends_with(':') {
            out.extend(
                COMMANDS
                    .iter()
                    .map(|c| c.trim_start_matches(':').to_string()),
            );
        } else {
            out.extend(KEYWORDS.iter().map(|k| k.to_string()));
            out.extend(names.session.iter().cloned());
            out.extend(names.modules.iter().map(|(m, _)| m.clone()));
        }
        let mut candidates: Vec<Pair> = out
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        candidates.sort_by(|a, b| a.display.cmp(&b.display));
        candidates.dedup_by(|a, b| a.display == b.display);
        Ok((start, candidates))
    }
}

/// `io` when the text before the word ends with `io:`.
fn module_before(head: &str) -> Option<&str> {
    let h = head.strip_suffix(':')?;
    let start = h
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let m = &h[start..];
    (!m.is_empty()).then_some(m)
}

/// Enter: when the input is incomplete, starts a continuation line showing
/// `... ` (rustyline has no continuation prompt of its own).
pub struct ContinueLine;

impl ConditionalEventHandler for ContinueLine {
    fn handle(
        &self,
        _evt: &Event,
        _n: RepeatCount,
        _positive: bool,
        ctx: &EventContext<'_>,
    ) -> Option<Cmd> {
        let line = ctx.line();
        if ctx.pos() == line.len() && needs_more(&strip_continuations(line)) {
            Some(Cmd::Insert(1, CONTINUATION.to_string()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_prefix_is_found() {
        assert_eq!(module_before("io:"), Some("io"));
        assert_eq!(module_before("x = time:"), Some("time"));
        assert_eq!(module_before("x = "), None);
        assert_eq!(module_before(":"), None);
    }
}
