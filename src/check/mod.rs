//! Stage 2: names, types, narrowing and the error-flow rules; lowers the AST
//! to the typed IR ([`tir`]).
//!
//! Entry points: [`check_program`] (a file and its imports) and
//! [`check_source`] (text given directly, for the REPL and embedding).
//!
//! The checker runs in passes over all modules (in dependency order):
//! collect top-level names, resolve `type` declarations, function
//! signatures, module-level initialisers (into [`tir::Program::init`]),
//! then function and test bodies. It never stops at the first error: a
//! failed expression gets the poison type (`never`), which is compatible
//! with everything, so one mistake produces one diagnostic.

mod access;
mod call;
mod checker;
mod concurrency;
mod errors;
mod expr;
mod items;
mod lambda;
mod methods;
mod modules;
mod narrow;
mod ops;
mod remote;
mod resilience;
mod resolve_types;
mod scope;
mod services;
mod stmt;
#[cfg(test)]
mod tests;
pub mod tir;
mod transaction;
pub mod types;

use crate::diagnostics::Diagnostic;
use crate::syntax::span::SourceMap;
use checker::Checker;
use modules::{load_program, load_program_with, RootSource};
use std::path::Path;

/// The result of checking a program.
#[derive(Debug)]
pub struct CheckResult {
    /// The typed program; `None` iff some diagnostic is an error.
    pub program: Option<tir::Program>,
    /// All diagnostics (syntax and check, errors and warnings), ordered by
    /// file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckResult {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads the root file and everything it imports (file modules relative to
/// the importing file; stdlib modules from the embedded `stdlib/*.flow`),
/// parses, checks, and lowers to TIR.
pub fn check_program(root_path: &Path, sources: &mut SourceMap) -> CheckResult {
    let loaded = load_program(RootSource::File(root_path), sources);
    finish(loaded)
}

/// Same as [`check_program`], but the root's text is given (REPL/embedding);
/// imports resolve relative to `base_dir`.
pub fn check_source(
    name: &str,
    text: &str,
    base_dir: &Path,
    sources: &mut SourceMap,
) -> CheckResult {
    check_source_with(name, text, base_dir, sources, &CheckOptions::default())
}

/// The names of the standard-library modules, in a fixed order.
pub fn stdlib_module_names() -> Vec<&'static str> {
    modules::stdlib_modules().map(|(name, _)| name).collect()
}

/// The public member names of a standard-library module (for completion).
pub fn stdlib_members(module: &str) -> Vec<String> {
    let Some((_, text)) = modules::stdlib_modules().find(|(n, _)| *n == module) else {
        return Vec::new();
    };
    let (parsed, _) = crate::syntax::parser::parse_module(text, crate::syntax::span::FileId(0));
    parsed
        .items
        .iter()
        .filter(|i| i.public)
        .filter_map(|i| {
            use crate::syntax::ast::ItemKind;
            let name = match &i.kind {
                ItemKind::Function(f) => &f.name.name,
                ItemKind::Type(t) => &t.name.name,
                ItemKind::Const(d) | ItemKind::Var(d) => &d.name.name,
                _ => return None,
            };
            Some(name.to_string())
        })
        .collect()
}

/// Options for [`check_source_with`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Names of root-module variables whose values the host stores before
    /// the initialiser runs (the REPL's session variables): their
    /// initialisers are type-checked but not run, and may be absent.
    pub preset_globals: Vec<String>,
    /// Modules supplied by the embedding host (§15.1), importable by name
    /// like standard-library modules; their `@native` functions are bound
    /// by the host when the program is instantiated.
    pub modules: Vec<ExtraModule>,
}

/// A module supplied by the embedding host: `import NAME;` loads `text`.
#[derive(Debug, Clone)]
pub struct ExtraModule {
    /// The module name (an identifier, not a standard-library name).
    pub name: String,
    /// Its Flow source.
    pub text: String,
}

/// [`check_source`] with options.
pub fn check_source_with(
    name: &str,
    text: &str,
    base_dir: &Path,
    sources: &mut SourceMap,
    options: &CheckOptions,
) -> CheckResult {
    let loaded = load_program_with(
        RootSource::Text {
            name,
            text,
            base_dir,
        },
        sources,
        &options.modules,
    );
    finish_with(loaded, options)
}

fn finish(loaded: modules::Loaded) -> CheckResult {
    finish_with(loaded, &CheckOptions::default())
}

fn finish_with(loaded: modules::Loaded, options: &CheckOptions) -> CheckResult {
    let mut diagnostics = loaded.diags;
    let mods = loaded.modules;
    if mods.is_empty() {
        return CheckResult {
            program: None,
            diagnostics,
        };
    }
    let mut c = Checker::new();
    c.preset = options
        .preset_globals
        .iter()
        .map(|n| crate::syntax::ast::Name::from(n.as_str()))
        .collect();
    let decls = c.collect(&mods);
    c.resolve_all_types();
    c.signatures(&mods, &decls);
    let init = c.initialisers(&mods, &decls);
    let tests = c.bodies(&mods, &decls);
    c.services(&mods, &decls);
    c.check_all_record_defaults();
    let root = mods.len() - 1;
    let main = c.main_fn(root);
    diagnostics.append(&mut c.diags);
    // Stable order: by file (root first in the source map), then position.
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return CheckResult {
            program: None,
            diagnostics,
        };
    }
    let record_defaults = c.default_functions();
    let functions = c
        .funcs
        .into_iter()
        .map(|f| f.unwrap_or_else(placeholder_function))
        .collect();
    let program = tir::Program {
        types: c.types,
        functions,
        globals: c.globals,
        natives: c.natives,
        init,
        main,
        tests: tests
            .into_iter()
            .filter(|(_, _, m)| *m == root)
            .map(|(n, f, _)| (n, f))
            .collect(),
        record_defaults,
        configurables: c.configurables,
        net_literals: c.net_literals,
        services: c.services,
    };
    CheckResult {
        program: Some(program),
        diagnostics,
    }
}

/// Stands in for a function slot that was never filled (only possible after
/// an error, which prevents a program from being produced).
fn placeholder_function() -> tir::Function {
    tir::Function {
        name: "<missing>".into(),
        span: Default::default(),
        params: Vec::new(),
        has_rest: false,
        ret: types::TyId::NIL,
        locals: Vec::new(),
        captures: Vec::new(),
        body: tir::Block::default(),
        native: None,
    }
}
