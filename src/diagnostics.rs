//! Compile-time diagnostics: stable codes (§16), positions, labels and help,
//! rendered by miette or as JSON lines (`flow check --format json`).

use crate::syntax::span::{SourceMap, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::fmt;

/// Every diagnostic code of §16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// `flow::syntax`
    Syntax,
    /// `flow::unknown-name`
    UnknownName,
    /// `flow::unknown-module`
    UnknownModule,
    /// `flow::unknown-field`
    UnknownField,
    /// `flow::type-mismatch`
    TypeMismatch,
    /// `flow::arity`
    Arity,
    /// `flow::unhandled-error`
    UnhandledError,
    /// `flow::check-without-handler`
    CheckWithoutHandler,
    /// `flow::error-type-mismatch`
    ErrorTypeMismatch,
    /// `flow::missing-return`
    MissingReturn,
    /// `flow::duplicate-definition`
    DuplicateDefinition,
    /// `flow::assign-to-final`
    AssignToFinal,
    /// `flow::not-iterable`
    NotIterable,
    /// `flow::not-callable`
    NotCallable,
    /// `flow::endpoint-config`
    EndpointConfig,
    /// `flow::transaction-not-ended`
    TransactionNotEnded,
    /// `flow::nested-transaction`
    NestedTransaction,
    /// `flow::invalid-compensation`
    InvalidCompensation,
    /// `flow::import-cycle`
    ImportCycle,
    /// `flow::unreachable-check` (warning)
    UnreachableCheck,
    /// `flow::unreachable-code` (warning)
    UnreachableCode,
    /// `flow::unused-variable` (warning)
    UnusedVariable,
}

impl Code {
    /// The code's stable text, e.g. `flow::unhandled-error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "flow::syntax",
            Code::UnknownName => "flow::unknown-name",
            Code::UnknownModule => "flow::unknown-module",
            Code::UnknownField => "flow::unknown-field",
            Code::TypeMismatch => "flow::type-mismatch",
            Code::Arity => "flow::arity",
            Code::UnhandledError => "flow::unhandled-error",
            Code::CheckWithoutHandler => "flow::check-without-handler",
            Code::ErrorTypeMismatch => "flow::error-type-mismatch",
            Code::MissingReturn => "flow::missing-return",
            Code::DuplicateDefinition => "flow::duplicate-definition",
            Code::AssignToFinal => "flow::assign-to-final",
            Code::NotIterable => "flow::not-iterable",
            Code::NotCallable => "flow::not-callable",
            Code::EndpointConfig => "flow::endpoint-config",
            Code::TransactionNotEnded => "flow::transaction-not-ended",
            Code::NestedTransaction => "flow::nested-transaction",
            Code::InvalidCompensation => "flow::invalid-compensation",
            Code::ImportCycle => "flow::import-cycle",
            Code::UnreachableCheck => "flow::unreachable-check",
            Code::UnreachableCode => "flow::unreachable-code",
            Code::UnusedVariable => "flow::unused-variable",
        }
    }

    /// Warnings never change the exit code.
    pub fn severity(self) -> Severity {
        match self {
            Code::UnreachableCheck | Code::UnreachableCode | Code::UnusedVariable => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the program from running.
    Error,
    /// Reported only.
    Warning,
}

/// A secondary label.
#[derive(Debug, Clone)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What it says.
    pub text: String,
}

/// One diagnostic.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// The headline.
    pub message: String,
    /// The primary position.
    pub span: Span,
    /// Text of the primary label (defaults to the message).
    pub primary_label: Option<String>,
    /// Secondary labels.
    pub labels: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a code, primary span and message.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            span,
            primary_label: None,
            labels: Vec::new(),
            help: None,
        }
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the primary label text.
    pub fn with_primary(mut self, text: impl Into<String>) -> Diagnostic {
        self.primary_label = Some(text.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The JSON-lines form of `flow check --format json`.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let file = sources.get(self.span.file);
        let (line, column) = file.line_col(self.span.start);
        serde_json::json!({
            "code": self.code.as_str(),
            "severity": match self.severity() { Severity::Error => "error", Severity::Warning => "warning" },
            "message": self.message,
            "file": file.name,
            "line": line,
            "column": column,
            "help": self.help,
        })
    }

    /// Converts to a miette report with the file's source attached.
    pub fn to_report(&self, sources: &SourceMap) -> miette::Report {
        let file = sources.get(self.span.file);
        let (line, col) = file.line_col(self.span.start);
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(
                self.primary_label
                    .clone()
                    .unwrap_or_else(|| self.message.clone()),
            ),
            self.span,
        )];
        for l in &self.labels {
            if l.span.file == self.span.file {
                labels.push(LabeledSpan::new_with_span(Some(l.text.clone()), l.span));
            }
        }
        let severity = match self.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let diag = miette::MietteDiagnostic::new(format!(
            "{} ({}:{}:{})",
            self.message, file.name, line, col
        ))
        .with_code(self.code.as_str())
        .with_severity(severity)
        .with_labels(labels);
        let diag = match &self.help {
            Some(h) => diag.with_help(h.clone()),
            None => diag,
        };
        miette::Report::new(diag)
            .with_source_code(NamedSource::new(file.name.clone(), file.text.to_string()))
    }

    /// The human rendering (miette's graphical handler, no colours).
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        let report = self.to_report(sources);
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            out = format!("{}: {}", self.code.as_str(), self.message);
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}
