//! A REPL session: the declarations and variables entered so far, and the
//! values of those variables.
//!
//! Each input is checked and compiled as part of a whole program made of
//! the session's declarations, one module variable per session variable
//! (whose values the session keeps between inputs and stores into the new
//! instance before it runs: `check::CheckOptions::preset_globals`), and a
//! function `__repl_run` holding the input. Top-level variable declarations
//! of an input become session variables: the input is checked once with
//! them as locals (to learn the types of `var` declarations), then again
//! with them as module variables that the input assigns.
//!
//! Invariant: declarations are only ever appended (a redefinition replaces
//! the old text in place), so functions, records and error types keep their
//! ids from one input to the next and values made by earlier inputs (records,
//! closures) stay meaningful in the next program.

use super::input::{classify, Input};
use crate::check::{self, CheckOptions};
use crate::compile::compile;
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::runtime::config::{self, ConfigSources};
use crate::runtime::describe_failure;
use crate::syntax::ast::{ImportTarget, ItemKind, StmtKind};
use crate::syntax::parser::parse_module;
use crate::syntax::span::{FileId, SourceMap, Span};
use crate::vm::drive;
use crate::vm::format::{to_display_string, write_json_string};
use crate::vm::interp::Strand;
use crate::vm::machine::{HostIo, Limits, Vm};
use crate::vm::value::Value;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// The function each input is compiled into.
const RUN_FN: &str = "__repl_run";

/// What the REPL shows for an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing (a declaration, or a statement that finished).
    Silent,
    /// A line of output (`42 : int`, an error value, a type).
    Text(String),
    /// Rendered diagnostics or a failure (shown on stderr); the session goes on.
    Problem(String),
}

/// Settings of a session that come from the command line.
#[derive(Clone, Default)]
pub struct Settings {
    /// Where configurable values come from.
    pub config: ConfigSources,
    /// Run-time limits.
    pub limits: Limits,
    /// `log` threshold (0 debug ... 3 error).
    pub log_level: u8,
    /// Render diagnostics with colour.
    pub color: bool,
    /// The `http` module's settings (tracing, allowed hosts).
    pub http: crate::stdlib::http::HttpSettings,
    /// Where a new instance's `io` output goes (default: the process's
    /// stdout and stderr).
    pub io: Option<Rc<dyn Fn() -> HostIo>>,
}

/// A piece of the synthesized program that came from the user: a slice of
/// an input (or of a loaded file).
#[derive(Debug, Clone)]
struct Segment {
    /// The input it came from.
    origin: Rc<Origin>,
    /// Byte range within the origin's text.
    start: usize,
    end: usize,
}

/// An input's text and its display name (`<repl:3>`, a loaded file path).
#[derive(Debug)]
struct Origin {
    name: String,
    text: String,
}

impl Segment {
    fn text(&self) -> &str {
        self.origin.text.get(self.start..self.end).unwrap_or("")
    }
}

/// A declaration of the session (function, type, const, endpoint, ...).
#[derive(Debug, Clone)]
struct Decl {
    /// The name it declares (a redefinition replaces it).
    name: Option<String>,
    /// Its text.
    text: Segment,
}

/// A session variable: a module variable of the synthesized program.
#[derive(Debug, Clone)]
struct SessionVar {
    name: String,
    /// Its type as Flow source text.
    ty: String,
}

/// What the body of `__repl_run` is made of.
struct Body {
    /// Text before the user's text (e.g. `return `).
    prefix: &'static str,
    /// The user's statements or expression.
    parts: Vec<Segment>,
    /// Text after (e.g. `;`).
    suffix: &'static str,
    /// The body is `return EXPR;`: show the value.
    shows_value: bool,
}

/// A synthesized program with the map back to the user's text.
struct Synthesized {
    text: String,
    /// (start offset in `text`, segment) for every user segment.
    segments: Vec<(usize, Segment)>,
    /// Where the body of `__repl_run` starts and ends in `text`.
    body_range: (usize, usize),
}

/// A checked and compiled input, ready to run.
struct Built {
    program: crate::compile::CompiledProgram,
    /// Static type of the shown value, when the input is an expression.
    shown_type: Option<String>,
    /// Session variables after this input.
    vars: Vec<SessionVar>,
    /// The program text it was compiled from.
    synthesized: Synthesized,
}

/// An interactive session.
pub struct Session {
    base_dir: PathBuf,
    settings: Settings,
    decls: Vec<Decl>,
    vars: Vec<SessionVar>,
    /// Values of session variables, endpoints and configurables by name.
    values: HashMap<String, Value>,
    /// Names whose value the session supplies (not re-initialised).
    preset: Vec<String>,
    inputs: usize,
    /// The runtime strands run on between prompts.
    runtime: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
    /// The instance of the last successful input (for `:endpoints`).
    vm: Option<Rc<Vm>>,
}

impl Session {
    /// A new, empty session resolving imports relative to `base_dir`.
    pub fn new(base_dir: PathBuf, settings: Settings) -> Result<Session, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        Ok(Session {
            base_dir,
            settings,
            decls: Vec::new(),
            vars: Vec::new(),
            values: HashMap::new(),
            preset: Vec::new(),
            inputs: 0,
            runtime,
            local: tokio::task::LocalSet::new(),
            vm: None,
        })
    }

    /// Forgets every declaration and variable.
    pub fn reset(&mut self) {
        self.decls.clear();
        self.vars.clear();
        self.values.clear();
        self.preset.clear();
        self.vm = None;
    }

    /// The names declared so far (for completion).
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.decls.iter().filter_map(|d| d.name.clone()).collect();
        out.extend(self.vars.iter().map(|v| v.name.clone()));
        out
    }

    /// Runs the session's runtime until `fut` completes: strands started by
    /// earlier inputs make progress meanwhile (the terminal loop waits for
    /// the next line this way).
    pub fn idle<T>(&self, fut: impl Future<Output = T>) -> T {
        self.local.block_on(&self.runtime, fut)
    }

    /// The instance that ran the last input, if any.
    pub fn vm(&self) -> Option<&Rc<Vm>> {
        self.vm.as_ref()
    }

    /// Evaluates one input. `interrupt` resolves when the user asks to
    /// cancel (Ctrl-C); the input then stops at its next suspension point.
    pub fn eval(&mut self, text: &str, interrupt: impl Future<Output = ()>) -> Reply {
        self.inputs += 1;
        let origin = Rc::new(Origin {
            name: format!("<repl:{}>", self.inputs),
            text: text.to_string(),
        });
        let whole = Segment {
            origin: origin.clone(),
            start: 0,
            end: text.len(),
        };
        match classify(text) {
            Input::Empty | Input::Command(..) => Reply::Silent,
            Input::Expr => self.run(
                Vec::new(),
                Body {
                    prefix: "return ",
                    parts: vec![whole],
                    suffix: ";",
                    shows_value: true,
                },
                interrupt,
            ),
            Input::Statements => self.run(
                Vec::new(),
                Body {
                    prefix: "",
                    parts: vec![whole],
                    suffix: "",
                    shows_value: false,
                },
                interrupt,
            ),
            Input::Items(module) => self.run_items(&module, &origin, interrupt),
        }
    }

    /// Loads a file's declarations (and runs its module variable
    /// declarations) into the session.
    pub fn load(&mut self, path: &std::path::Path, interrupt: impl Future<Output = ()>) -> Reply {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return Reply::Problem(format!("error: cannot read {}: {e}", path.display())),
        };
        let origin = Rc::new(Origin {
            name: path.display().to_string(),
            text,
        });
        let (module, diags) = parse_module(&origin.text, FileId(0));
        if !diags.is_empty() {
            let mut sources = SourceMap::new();
            let file = sources.add(origin.name.clone(), origin.text.clone());
            let diags: Vec<Diagnostic> = diags.into_iter().map(|d| respan(d, file, 0)).collect();
            return Reply::Problem(render(&diags, &sources, self.settings.color));
        }
        self.run_items(&module, &origin, interrupt)
    }

    /// Adds parsed items' declarations and runs their variable declarations.
    fn run_items(
        &mut self,
        module: &crate::syntax::ast::Module,
        origin: &Rc<Origin>,
        interrupt: impl Future<Output = ()>,
    ) -> Reply {
        let (decls, parts) = self.split_items(module, origin);
        self.run(
            decls,
            Body {
                prefix: "",
                parts,
                suffix: "",
                shows_value: false,
            },
            interrupt,
        )
    }

    /// The static type of an expression, without running it.
    pub fn type_of(&mut self, expr: &str) -> Reply {
        self.inputs += 1;
        let origin = Rc::new(Origin {
            name: format!("<repl:{}>", self.inputs),
            text: expr.to_string(),
        });
        let body = Body {
            prefix: "return ",
            parts: vec![Segment {
                origin,
                start: 0,
                end: expr.len(),
            }],
            suffix: ";",
            shows_value: true,
        };
        match self.build(&self.decls.clone(), &body) {
            Ok(built) => Reply::Text(built.shown_type.unwrap_or_else(|| "()".into())),
            Err(problem) => Reply::Problem(problem),
        }
    }

    /// Splits parsed items into declarations and (for module variables)
    /// statements of the body.
    fn split_items(
        &self,
        module: &crate::syntax::ast::Module,
        origin: &Rc<Origin>,
    ) -> (Vec<Decl>, Vec<Segment>) {
        let mut decls = Vec::new();
        let mut parts = Vec::new();
        for item in &module.items {
            let seg = Segment {
                origin: origin.clone(),
                start: item.span.start as usize,
                end: item.span.end as usize,
            };
            let name = match &item.kind {
                ItemKind::Var(_) => {
                    parts.push(seg);
                    continue;
                }
                // Every standard-library module is imported already.
                ItemKind::Import(i) if matches!(i.target, ImportTarget::Stdlib(_)) => continue,
                ItemKind::Import(i) => i.alias.as_ref().map(|a| a.name.to_string()),
                ItemKind::Const(d) => Some(d.name.name.to_string()),
                ItemKind::Type(t) => Some(t.name.name.to_string()),
                ItemKind::Function(f) if f.name.name.as_ref() == RUN_FN => None,
                ItemKind::Function(f) => Some(f.name.name.to_string()),
                ItemKind::Configurable(c) => Some(c.name.name.to_string()),
                ItemKind::Endpoint(e) => Some(e.name.name.to_string()),
                ItemKind::Service(_) | ItemKind::Test(_) | ItemKind::Error => None,
            };
            decls.push(Decl { name, text: seg });
        }
        (decls, parts)
    }

    /// Checks, compiles and runs an input made of new declarations and a body.
    fn run(
        &mut self,
        new_decls: Vec<Decl>,
        body: Body,
        interrupt: impl Future<Output = ()>,
    ) -> Reply {
        let mut decls = self.decls.clone();
        for d in new_decls {
            match decls
                .iter_mut()
                .find(|o| o.name.is_some() && o.name == d.name)
            {
                Some(old) => *old = d,
                None => decls.push(d),
            }
        }
        let built = match self.build(&decls, &body) {
            Ok(b) => b,
            Err(problem) => return Reply::Problem(problem),
        };
        let Built {
            program,
            shown_type,
            vars,
            synthesized,
        } = built;
        let run_fn = program
            .functions
            .iter()
            .position(|f| &*f.name == RUN_FN)
            .map(|i| i as u32);
        let Some(run_fn) = run_fn else {
            return Reply::Problem("error: internal: the input was not compiled".into());
        };
        let vm = match Vm::new(
            Arc::new(program),
            &crate::stdlib::resolve,
            self.settings
                .io
                .as_ref()
                .map_or_else(HostIo::process, |make| make()),
            self.settings.limits,
        ) {
            Ok(vm) => vm,
            Err(e) => return Reply::Problem(format!("error: {e}")),
        };
        vm.log_level.set(self.settings.log_level);
        vm.set_extension(self.settings.http.clone());
        if let Err(e) = config::configure(&vm, &self.settings.config) {
            return Reply::Problem(e.to_string());
        }
        self.restore_values(&vm);
        let outcome = self.execute(&vm, run_fn, interrupt);
        vm.flush();
        // Values of existing variables survive whatever happened; new
        // declarations and variables only when the input succeeded.
        self.save_values(&vm);
        let types = &vm.program.types;
        let reply = match outcome {
            Execution::Interrupted => Reply::Problem("interrupted".into()),
            Execution::InitFailed(e) | Execution::Panicked(e) => Reply::Problem(locate_trace(
                describe_failure(&e, types).trim_end(),
                &synthesized,
            )),
            Execution::Returned(Value::Error(e)) if !body.shows_value => {
                // A statement failed: its declarations do not take effect.
                Reply::Problem(locate_trace(
                    describe_failure(&Value::Error(e), types).trim_end(),
                    &synthesized,
                ))
            }
            Execution::Returned(v) => {
                self.decls = decls;
                self.vars = vars;
                self.preset = self.vars.iter().map(|v| v.name.clone()).collect();
                self.preset.extend(
                    self.decls
                        .iter()
                        .filter(|d| d.text.text().trim_start().starts_with("endpoint"))
                        .filter_map(|d| d.name.clone()),
                );
                self.save_values(&vm);
                match (shown_type, v) {
                    (Some(ty), v) if ty != "()" || !matches!(v, Value::Nil) => {
                        Reply::Text(format!("{} : {ty}", show_value(&v, types)))
                    }
                    _ => Reply::Silent,
                }
            }
        };
        self.vm = Some(vm);
        reply
    }

    /// Runs the initialiser and `__repl_run` until done or interrupted.
    fn execute(&self, vm: &Rc<Vm>, run_fn: u32, interrupt: impl Future<Output = ()>) -> Execution {
        let work = async {
            if let Err(e) = drive(Strand::new(vm.clone(), vm.program.init, Vec::new())).await {
                return Execution::InitFailed(e);
            }
            match drive(Strand::new(vm.clone(), run_fn, Vec::new())).await {
                Ok(v) => Execution::Returned(v),
                Err(e) => Execution::Panicked(e),
            }
        };
        self.local.block_on(&self.runtime, async {
            tokio::select! {
                r = work => r,
                () = interrupt => Execution::Interrupted,
            }
        })
    }

    /// Stores the session's values into a fresh instance's globals, with
    /// their record and error types moved to the new program's ids (an
    /// input may intern new anonymous types before older ones).
    fn restore_values(&self, vm: &Vm) {
        let mut globals = vm.globals.borrow_mut();
        let mut rebase = self.vm.as_ref().map(|old| Rebase {
            old: &old.program.types,
            new: &vm.program.types,
            done: HashMap::new(),
            visiting: Vec::new(),
        });
        for (i, g) in vm.program.globals.iter().enumerate() {
            if let (Some(v), Some(slot)) = (self.values.get(&*g.name), globals.get_mut(i)) {
                *slot = match &mut rebase {
                    Some(r) => r.value(v),
                    None => v.clone(),
                };
            }
        }
    }

    /// Keeps the values of the root module's variables.
    fn save_values(&mut self, vm: &Vm) {
        let globals = vm.globals.borrow();
        for (i, g) in vm.program.globals.iter().enumerate() {
            if g.name.contains(':') {
                continue;
            }
            if let Some(v) = globals.get(i) {
                self.values.insert(g.name.to_string(), v.clone());
            }
        }
    }

    /// Checks an input in the context of `decls` (twice when it declares
    /// variables) and compiles it.
    fn build(&self, decls: &[Decl], body: &Body) -> Result<Built, String> {
        let first = self.synthesize(decls, &self.vars, body, &[]);
        let (result, sources) = self.check(&first, &self.preset)?;
        let hoisted = top_level_decls(&first);
        if hoisted.is_empty() {
            let shown_type = body.shows_value.then(|| returned_type(&result)).flatten();
            let program = compile(result, Arc::new(sources));
            return Ok(Built {
                program,
                shown_type,
                vars: self.vars.clone(),
                synthesized: first,
            });
        }
        // Second pass: the declared variables become session variables.
        let mut vars: Vec<SessionVar> = self.vars.clone();
        let mut rewrites = Vec::new();
        for h in &hoisted {
            let ty = match &h.ty_text {
                Some(t) => t.clone(),
                None => local_type(&result, &h.name).unwrap_or_else(|| "any".into()),
            };
            vars.retain(|v| v.name != h.name);
            vars.push(SessionVar {
                name: h.name.clone(),
                ty,
            });
            rewrites.push(h.clone());
        }
        let mut preset = self.preset.clone();
        preset.extend(hoisted.iter().map(|h| h.name.clone()));
        let second = self.synthesize(decls, &vars, body, &rewrites);
        let (result, sources) = self.check(&second, &preset)?;
        let shown_type = body.shows_value.then(|| returned_type(&result)).flatten();
        let program = compile(result, Arc::new(sources));
        Ok(Built {
            program,
            shown_type,
            vars,
            synthesized: second,
        })
    }

    /// Checks a synthesized program; on errors renders them against the
    /// user's own text.
    fn check(
        &self,
        s: &Synthesized,
        preset: &[String],
    ) -> Result<(crate::check::tir::Program, SourceMap), String> {
        let mut sources = SourceMap::new();
        let options = CheckOptions {
            preset_globals: preset.to_vec(),
            ..CheckOptions::default()
        };
        let result =
            check::check_source_with("<repl>", &s.text, &self.base_dir, &mut sources, &options);
        let shown: Vec<Diagnostic> = result
            .diagnostics
            .iter()
            .filter(|d| d.code != Code::UnusedVariable)
            .cloned()
            .collect();
        match result.program {
            Some(p) if !shown.iter().any(Diagnostic::is_error) => {
                if !shown.is_empty() {
                    let (diags, map) = remap(shown, &sources, s);
                    eprint!("{}", render(&diags, &map, self.settings.color));
                }
                Ok((p, sources))
            }
            _ => {
                let (diags, map) = remap(shown, &sources, s);
                Err(render(&diags, &map, self.settings.color))
            }
        }
    }

    /// The program for an input: standard-library imports, declarations,
    /// session variables, and `__repl_run` with the body. `rewrites` turns
    /// top-level variable declarations of the body into assignments.
    fn synthesize(
        &self,
        decls: &[Decl],
        vars: &[SessionVar],
        body: &Body,
        rewrites: &[Hoisted],
    ) -> Synthesized {
        let mut text = String::new();
        let mut segments = Vec::new();
        for m in check::stdlib_module_names() {
            text.push_str(&format!("import {m};\n"));
        }
        for d in decls {
            segments.push((text.len(), d.text.clone()));
            text.push_str(d.text.text());
            text.push('\n');
        }
        for v in vars {
            text.push_str(&format!("{} {};\n", v.ty, v.name));
        }
        text.push_str(&format!("function {RUN_FN}() returns any|error {{\n"));
        let body_start = text.len();
        text.push_str(body.prefix);
        for part in &body.parts {
            let mut from = part.start;
            for r in rewrites.iter().filter(|r| {
                Rc::ptr_eq(&r.origin, &part.origin) && r.start >= part.start && r.end <= part.end
            }) {
                let seg = Segment {
                    origin: part.origin.clone(),
                    start: from,
                    end: r.start,
                };
                segments.push((text.len(), seg.clone()));
                text.push_str(seg.text());
                if let Some((s, e)) = r.init {
                    text.push_str(&r.name);
                    text.push_str(" = ");
                    let init = Segment {
                        origin: part.origin.clone(),
                        start: s,
                        end: e,
                    };
                    segments.push((text.len(), init.clone()));
                    text.push_str(init.text());
                    text.push(';');
                }
                from = r.end;
            }
            let rest = Segment {
                origin: part.origin.clone(),
                start: from,
                end: part.end,
            };
            segments.push((text.len(), rest.clone()));
            text.push_str(rest.text());
            text.push('\n');
        }
        text.push_str(body.suffix);
        let body_end = text.len();
        text.push_str("\n}\n");
        Synthesized {
            text,
            segments,
            body_range: (body_start, body_end),
        }
    }
}

/// Moves values made by one program onto another program's type ids:
/// records by name (or, for anonymous records, by field names) and error
/// types by name. Arrays and maps are updated in place (aliasing is kept);
/// records and errors whose ids change are rebuilt.
struct Rebase<'a> {
    old: &'a crate::check::types::Types,
    new: &'a crate::check::types::Types,
    /// Results by the address of the container already visited.
    done: HashMap<usize, Value>,
    /// Records being rebuilt (a record reachable from itself stays as is).
    visiting: Vec<usize>,
}

impl Rebase<'_> {
    fn value(&mut self, v: &Value) -> Value {
        match v {
            Value::Record(r) => self.record(v, r),
            Value::Array(a) => {
                let key = Rc::as_ptr(a) as usize;
                if self.done.insert(key, v.clone()).is_some() {
                    return v.clone();
                }
                let items: Vec<Value> = a.borrow().clone();
                let items: Vec<Value> = items.iter().map(|x| self.value(x)).collect();
                *a.borrow_mut() = items;
                v.clone()
            }
            Value::Map(m) => {
                let key = Rc::as_ptr(m) as usize;
                if self.done.insert(key, v.clone()).is_some() {
                    return v.clone();
                }
                let entries: Vec<Value> = m.borrow().values().cloned().collect();
                let entries: Vec<Value> = entries.iter().map(|x| self.value(x)).collect();
                for (slot, new) in m.borrow_mut().values_mut().zip(entries) {
                    *slot = new;
                }
                v.clone()
            }
            Value::Error(e) => {
                let name = &self.old.error_def(e.ty).name;
                let ty = self
                    .new
                    .error_defs()
                    .iter()
                    .position(|d| &d.name == name)
                    .map_or(crate::check::types::ErrorId(0), |i| {
                        crate::check::types::ErrorId(i as u32)
                    });
                let detail_values: Vec<Value> = e.detail.values().cloned().collect();
                let detail_values: Vec<Value> =
                    detail_values.iter().map(|x| self.value(x)).collect();
                let mut detail = e.detail.clone();
                for (slot, new) in detail.values_mut().zip(detail_values) {
                    *slot = new;
                }
                Value::Error(Rc::new(crate::vm::value::ErrorObj {
                    ty,
                    message: e.message.clone(),
                    detail,
                    cause: e.cause.as_ref().map(|c| self.value(c)),
                    trace: e.trace.clone(),
                }))
            }
            other => other.clone(),
        }
    }

    fn record(&mut self, v: &Value, r: &Rc<crate::vm::value::RecordObj>) -> Value {
        let key = Rc::as_ptr(r) as usize;
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        if self.visiting.contains(&key) {
            return v.clone();
        }
        self.visiting.push(key);
        let def = self.old.record(r.rec);
        let same_fields = |d: &crate::check::types::RecordDef| {
            d.name == def.name
                && d.fields.len() == def.fields.len()
                && d.fields
                    .iter()
                    .zip(&def.fields)
                    .all(|(a, b)| a.name == b.name)
        };
        let rec = self
            .new
            .records()
            .iter()
            .position(same_fields)
            .map_or(r.rec, |i| crate::check::types::RecordId(i as u32));
        let fields: Vec<Value> = r.fields.borrow().clone();
        let fields: Vec<Value> = fields.iter().map(|x| self.value(x)).collect();
        let out = Value::Record(Rc::new(crate::vm::value::RecordObj {
            rec,
            fields: std::cell::RefCell::new(fields),
        }));
        self.visiting.pop();
        self.done.insert(key, out.clone());
        out
    }
}

/// How running an input ended.
enum Execution {
    Returned(Value),
    InitFailed(Value),
    Panicked(Value),
    Interrupted,
}

/// A top-level variable declaration of an input's body.
#[derive(Debug, Clone)]
struct Hoisted {
    origin: Rc<Origin>,
    name: String,
    /// The declared type's text (`None` for `var`).
    ty_text: Option<String>,
    /// The declaration statement's range in the origin.
    start: usize,
    end: usize,
    /// The initialiser's range in the origin.
    init: Option<(usize, usize)>,
}

/// The top-level variable declarations in the body of `__repl_run`, mapped
/// back to their origins.
fn top_level_decls(s: &Synthesized) -> Vec<Hoisted> {
    let (module, _) = parse_module(&s.text, FileId(0));
    let Some(body) = module.items.iter().find_map(|i| match &i.kind {
        ItemKind::Function(f) if f.name.name.as_ref() == RUN_FN => f.body.as_ref(),
        _ => None,
    }) else {
        return Vec::new();
    };
    let locate = |at: usize| s.segment_at(at).map(|(seg, pos)| (seg.origin.clone(), pos));
    let mut out = Vec::new();
    for stmt in &body.stmts {
        let StmtKind::VarDecl(d) = &stmt.kind else {
            continue;
        };
        let (start, end) = (stmt.span.start as usize, stmt.span.end as usize);
        if start < s.body_range.0 || end > s.body_range.1 {
            continue;
        }
        let (Some((origin, o_start)), Some((_, o_end))) = (locate(start), locate(end)) else {
            continue;
        };
        let ty_text =
            d.ty.as_ref()
                .and_then(|t| s.text.get(t.span.start as usize..t.span.end as usize))
                .map(str::to_string);
        let init = d.init.as_ref().and_then(|e| {
            let (a, b) = (locate(e.span.start as usize)?, locate(e.span.end as usize)?);
            Some((a.1, b.1))
        });
        out.push(Hoisted {
            origin,
            name: d.name.name.to_string(),
            ty_text,
            start: o_start,
            end: o_end,
            init,
        });
    }
    out
}

/// The type of the value `__repl_run` returns (`return EXPR;`).
fn returned_type(p: &crate::check::tir::Program) -> Option<String> {
    use crate::check::tir::StmtKind;
    let f = p.functions.iter().find(|f| &*f.name == RUN_FN)?;
    f.body.stmts.iter().rev().find_map(|s| match &s.kind {
        StmtKind::Return(e) => Some(p.types.display(e.ty)),
        _ => None,
    })
}

/// The type of a top-level local of `__repl_run`, as Flow source.
fn local_type(p: &crate::check::tir::Program, name: &str) -> Option<String> {
    let f = p.functions.iter().find(|f| &*f.name == RUN_FN)?;
    let local = f.locals.iter().find(|l| &*l.name == name)?;
    Some(p.types.display(local.ty))
}

/// A value as the REPL shows it: strings quoted, everything else as `toString()`.
fn show_value(v: &Value, types: &crate::check::types::Types) -> String {
    match v {
        Value::Str(s) => {
            let mut out = String::new();
            write_json_string(&mut out, s);
            out
        }
        other => to_display_string(other, types),
    }
}

impl Synthesized {
    /// The user segment holding an offset of the text, and the offset's
    /// position in that segment's origin.
    fn segment_at(&self, at: usize) -> Option<(&Segment, usize)> {
        self.segments
            .iter()
            .find(|(off, seg)| at >= *off && at <= off + (seg.end - seg.start))
            .map(|(off, seg)| (seg, seg.start + at - off))
    }

    /// The user's position (`<repl:3>:1:5`) of an offset in the text.
    fn origin_location(&self, at: usize) -> Option<String> {
        let (seg, pos) = self.segment_at(at)?;
        let before = seg.origin.text.get(..pos)?;
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some(format!("{}:{line}:{col}", seg.origin.name))
    }

    /// The offset of a 1-based line and column of the text.
    fn offset_of(&self, line: usize, col: usize) -> Option<usize> {
        let start: usize = self
            .text
            .split_inclusive('\n')
            .take(line.checked_sub(1)?)
            .map(str::len)
            .sum();
        let line_text = self.text.get(start..)?.split('\n').next()?;
        let byte = line_text
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map_or(line_text.len(), |(i, _)| i);
        Some(start + byte)
    }
}

/// Rewrites `(<repl>:L:C)` locations of a failure's trace to the user's inputs.
fn locate_trace(text: &str, s: &Synthesized) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("(<repl>:") {
        out.push_str(&rest[..i + 1]);
        rest = &rest[i + 1..];
        let Some(close) = rest.find(')') else { break };
        let loc = &rest["<repl>:".len()..close];
        let mapped = loc.split_once(':').and_then(|(l, c)| {
            let offset = s.offset_of(l.parse().ok()?, c.parse().ok()?)?;
            s.origin_location(offset)
        });
        match mapped {
            Some(m) => out.push_str(&m),
            None => out.push_str(&rest[..close]),
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Moves diagnostics from the synthesized program onto the user's text:
/// every origin becomes a file of a new source map.
fn remap(
    diags: Vec<Diagnostic>,
    sources: &SourceMap,
    s: &Synthesized,
) -> (Vec<Diagnostic>, SourceMap) {
    let mut map = SourceMap::new();
    for i in 0..sources.len() {
        let f = sources.get(FileId(i as u32));
        map.add(f.name.clone(), f.text.clone());
    }
    let synth_file = (0..sources.len())
        .map(|i| FileId(i as u32))
        .find(|id| sources.get(*id).name == "<repl>");
    let mut files: Vec<(Rc<Origin>, FileId)> = Vec::new();
    let mut move_span = |span: Span, map: &mut SourceMap| -> Span {
        if Some(span.file) != synth_file {
            return span;
        }
        let at = span.start as usize;
        let Some((seg, start)) = s.segment_at(at) else {
            return span;
        };
        let file = match files.iter().find(|(o, _)| Rc::ptr_eq(o, &seg.origin)) {
            Some((_, f)) => *f,
            None => {
                let f = map.add(seg.origin.name.clone(), seg.origin.text.clone());
                files.push((seg.origin.clone(), f));
                f
            }
        };
        let len = span.len().min(seg.origin.text.len().saturating_sub(start));
        Span::new(file, start, start + len)
    };
    let diags = diags
        .into_iter()
        .map(|mut d| {
            d.span = move_span(d.span, &mut map);
            d.labels = d
                .labels
                .into_iter()
                .map(|l| Label {
                    span: move_span(l.span, &mut map),
                    ..l
                })
                .collect();
            d
        })
        .collect();
    (diags, map)
}

/// Points a diagnostic at `file`, shifting it by `offset`.
fn respan(mut d: Diagnostic, file: FileId, offset: usize) -> Diagnostic {
    d.span = Span::new(
        file,
        d.span.start as usize + offset,
        d.span.end as usize + offset,
    );
    d
}

fn render(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(sources, color));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
