//! The embedding API (§15.1) and the sandbox limits (§15.2).
//!
//! ```ignore
//! let engine = flow::Engine::builder()
//!     .allow_net(["127.0.0.1:9090"])   // default for embedders: no network
//!     .max_operations(50_000_000)       // per call
//!     .max_stack_depth(1_000)
//!     .max_memory(64 << 20)             // approximate bytes of Flow values
//!     .timeout(Duration::from_secs(5))  // wall time per call
//!     .module(orders)                   // a HostModule
//!     .build();
//! let program = engine.compile_file("flows/orders.flow")?;
//! let out: serde_json::Value = program.call("handle", (order_json,)).await?;
//! ```
//!
//! **Calls.** Every call runs in a fresh instance of the program: its
//! module initialiser runs, then the function. Calls therefore share no
//! state (module variables, endpoint circuit breakers), and limits apply
//! to one call. A call runs on a thread of its own with a current-thread
//! tokio runtime (the VM is single-threaded): the blocking pool of the
//! caller's tokio runtime when there is one, else a new thread. So the
//! future of [`Program::call`] is `Send`, and one [`Program`] can be called
//! from many tasks at once. Dropping the future cancels the call (at its
//! next suspension point, call or loop iteration).
//!
//! **Limits.** Exceeding a limit is a panic inside the script (which it
//! cannot survive: the limit stays exceeded), reported as
//! [`CallError::Panic`]; see `vm::sandbox` for how memory is measured.

mod host;

pub use host::{HostError, HostFuture, HostModule, HostResult};

use crate::check::tir;
use crate::check::types::{TyId, TyKind};
use crate::check::{self, CheckOptions, ExtraModule};
use crate::compile::{compile, CompiledProgram};
use crate::diagnostics::{Code, Diagnostic};
use crate::runtime::config::{self, ConfigSources};
use crate::runtime::describe_failure;
use crate::runtime::http::{HostPolicy, TraceEvent, TraceSink};
use crate::stdlib::http::{denied_net_literals, HttpSettings};
use crate::syntax::span::{SourceMap, Span};
use crate::vm::convert::clone_with_type;
use crate::vm::format::to_display_string;
use crate::vm::interp::Strand;
use crate::vm::json::{json_from_serde, json_to_serde};
use crate::vm::machine::{HostIo, Limits, Native, Vm};
use crate::vm::sandbox::{self, SandboxLimits};
use crate::vm::value::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes the standard output and error of one call's instance.
type IoFactory = dyn Fn() -> HostIo + Send + Sync;

/// Settings shared by an engine and the programs it compiled.
struct Settings {
    hosts: Vec<String>,
    max_operations: Option<u64>,
    max_depth: usize,
    max_memory: Option<usize>,
    timeout: Option<Duration>,
    modules: Vec<HostModule>,
    trace: Option<Arc<dyn TraceSink>>,
    io: Option<Arc<IoFactory>>,
    config: Vec<(String, String)>,
    config_file: Option<PathBuf>,
    log_level: u8,
}

/// Compiles and runs Flow programs with one set of limits, network policy
/// and host modules. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    settings: Arc<Settings>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        f.debug_struct("Engine")
            .field("allow_net", &s.hosts)
            .field("max_operations", &s.max_operations)
            .field("max_stack_depth", &s.max_depth)
            .field("max_memory", &s.max_memory)
            .field("timeout", &s.timeout)
            .field("modules", &s.modules)
            .finish()
    }
}

/// Configures an [`Engine`] (see [`Engine::builder`]).
pub struct EngineBuilder {
    settings: Settings,
}

impl Engine {
    /// A builder with the embedding defaults: no network, no operation,
    /// memory or time limit, at most 200,000 nested calls, no host modules.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            settings: Settings {
                hosts: Vec::new(),
                max_operations: None,
                max_depth: Limits::default().max_depth,
                max_memory: None,
                timeout: None,
                modules: Vec::new(),
                trace: None,
                io: None,
                config: Vec::new(),
                config_file: None,
                log_level: 1,
            },
        }
    }

    /// Checks and compiles `source` (imports of file modules resolve
    /// relative to the current directory); `name` is the file name shown
    /// in diagnostics and stack traces.
    pub fn compile_str(&self, name: &str, source: &str) -> Result<Program, CompileError> {
        self.compile_text(name, source, Path::new("."))
    }

    /// Reads, checks and compiles a file (imports relative to its folder).
    pub fn compile_file(&self, path: impl AsRef<Path>) -> Result<Program, CompileError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let dir = path.parent().unwrap_or(Path::new("."));
                self.compile_text(&name, &text, dir)
            }
            Err(e) => {
                let mut sources = SourceMap::new();
                let file = sources.add(name.clone(), "");
                let d = Diagnostic::new(
                    Code::Syntax,
                    Span::new(file, 0, 0),
                    format!("cannot read {name}: {e}"),
                );
                Err(CompileError::new(vec![d], sources))
            }
        }
    }

    fn compile_text(&self, name: &str, text: &str, dir: &Path) -> Result<Program, CompileError> {
        let mut sources = SourceMap::new();
        if let Some(d) = self.module_problem(&mut sources) {
            return Err(CompileError::new(vec![d], sources));
        }
        let options = CheckOptions {
            modules: self
                .settings
                .modules
                .iter()
                .map(|m| ExtraModule {
                    name: m.name.clone(),
                    text: m.source.clone(),
                })
                .collect(),
            ..CheckOptions::default()
        };
        let result = check::check_source_with(name, text, dir, &mut sources, &options);
        let (errors, warnings): (Vec<_>, Vec<_>) = result
            .diagnostics
            .into_iter()
            .partition(Diagnostic::is_error);
        let Some(program) = result.program else {
            return Err(CompileError::new(errors, sources));
        };
        let missing = self.missing_host_functions(&program);
        if !missing.is_empty() {
            return Err(CompileError::new(missing, sources));
        }
        let denied = denied_net_literals(&program.net_literals, &host_policy(&self.settings));
        if !denied.is_empty() {
            return Err(CompileError::new(denied, sources));
        }
        let functions = public_functions(&program, text);
        let warnings = warnings.iter().map(|d| d.render(&sources, false)).collect();
        let compiled = compile(program, Arc::new(sources));
        Ok(Program {
            inner: Arc::new(ProgramInner {
                compiled: Arc::new(compiled),
                functions,
                settings: self.settings.clone(),
                warnings,
            }),
        })
    }

    /// A host module name that cannot be used, as a diagnostic.
    fn module_problem(&self, sources: &mut SourceMap) -> Option<Diagnostic> {
        let names = check::stdlib_module_names();
        for (i, m) in self.settings.modules.iter().enumerate() {
            let ident = m
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && m.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            let problem = if !ident {
                format!("host module name `{}` is not an identifier", m.name)
            } else if names.contains(&m.name.as_str()) || m.name == "strand" {
                format!(
                    "host module `{}` has the name of a standard-library module",
                    m.name
                )
            } else if self.settings.modules[..i].iter().any(|o| o.name == m.name) {
                format!("host module `{}` is registered twice", m.name)
            } else {
                continue;
            };
            let file = sources.add("<engine>", "");
            return Some(Diagnostic::new(
                Code::DuplicateDefinition,
                Span::new(file, 0, 0),
                problem,
            ));
        }
        None
    }

    /// A diagnostic for each `@native` function of a host module that has
    /// no implementation.
    fn missing_host_functions(&self, program: &tir::Program) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for f in &program.functions {
            let Some(nid) = f.native else { continue };
            let Some(decl) = program.natives.get(nid.0 as usize) else {
                continue;
            };
            let Some((module, member)) = decl.name.split_once(':') else {
                continue;
            };
            let Some(m) = self.settings.modules.iter().find(|m| m.name == module) else {
                continue;
            };
            if m.implementation(member).is_none() {
                out.push(
                    Diagnostic::new(
                        Code::UnknownName,
                        f.span,
                        format!("host function `{}` has no implementation", decl.name),
                    )
                    .with_help(format!(
                        "register it with HostModule::function(\"{member}\", ...) or async_function"
                    )),
                );
            }
        }
        out
    }
}

impl EngineBuilder {
    /// Allows endpoints to contact these hosts: `"127.0.0.1"`,
    /// `"api.example.com"`, `"*.example.com"` (every subdomain), each
    /// optionally with `:PORT`. Without it a program has no network: an
    /// endpoint whose URL is not allowed makes the module initialiser
    /// fail ([`CallError::Init`]). May be called more than once.
    pub fn allow_net<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.settings
            .hosts
            .extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Allows every host.
    pub fn allow_any_net(self) -> Self {
        self.allow_net(["*"])
    }

    /// At most `n` calls and loop iterations per strand of a call;
    /// exceeded → panic `operation limit exceeded`.
    pub fn max_operations(mut self, n: u64) -> Self {
        self.settings.max_operations = Some(n);
        self
    }

    /// At most `n` nested Flow calls; exceeded → panic `stack overflow`.
    pub fn max_stack_depth(mut self, n: usize) -> Self {
        self.settings.max_depth = n.max(1);
        self
    }

    /// At most about `bytes` bytes of Flow values per call (strings counted
    /// exactly, containers by periodic measurement); exceeded → panic
    /// `memory limit exceeded`.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.settings.max_memory = Some(bytes);
        self
    }

    /// At most `limit` of wall time per call (initialiser included), busy
    /// or waiting; exceeded → panic `time limit exceeded`.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.settings.timeout = Some(limit);
        self
    }

    /// Adds a host module (scripts `import` it by name).
    pub fn module(mut self, module: HostModule) -> Self {
        self.settings.modules.push(module);
        self
    }

    /// Receives the events `flow run --trace` prints: one per remote
    /// attempt and resilience event. Header values of endpoint headers
    /// that come from configurables are already `***`; use a
    /// [`crate::runtime::http::Redactor`] to hide others.
    pub fn trace(self, hook: impl Fn(&TraceEvent) + Send + Sync + 'static) -> Self {
        self.trace_sink(Arc::new(HookSink(hook)))
    }

    /// Like [`EngineBuilder::trace`] with a [`TraceSink`] (e.g. a
    /// [`crate::runtime::http::LineSink`]).
    pub fn trace_sink(mut self, sink: Arc<dyn TraceSink>) -> Self {
        self.settings.trace = Some(sink);
        self
    }

    /// Where `io` and `log` write, made once per call (default: the
    /// process's standard output and error).
    pub fn output(mut self, io: impl Fn() -> HostIo + Send + Sync + 'static) -> Self {
        self.settings.io = Some(Arc::new(io));
        self
    }

    /// Sets a configurable (§5.4), like `flow run -C name=value`.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.config.push((name.into(), value.into()));
        self
    }

    /// Reads configurables from this TOML file (default: `Config.toml` in
    /// the current directory, if it exists).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.config_file = Some(path.into());
        self
    }

    /// Minimum level of `log` output: `"debug"`, `"info"` (default),
    /// `"warn"` or `"error"`; other names are ignored.
    pub fn log_level(mut self, level: &str) -> Self {
        if let Some(l) = crate::stdlib::log_level(level) {
            self.settings.log_level = l;
        }
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        Engine {
            settings: Arc::new(self.settings),
        }
    }
}

/// A trace hook as a [`TraceSink`].
struct HookSink<F>(F);

impl<F: Fn(&TraceEvent) + Send + Sync> TraceSink for HookSink<F> {
    fn event(&self, event: &TraceEvent) {
        (self.0)(event)
    }
}

/// Diagnostics of a program that does not compile (errors only).
pub struct CompileError {
    diagnostics: Vec<Diagnostic>,
    sources: Arc<SourceMap>,
}

impl CompileError {
    fn new(diagnostics: Vec<Diagnostic>, sources: SourceMap) -> CompileError {
        CompileError {
            diagnostics,
            sources: Arc::new(sources),
        }
    }

    /// The diagnostics as miette reports (with source snippets and
    /// positions).
    pub fn reports(&self) -> Vec<miette::Report> {
        self.diagnostics
            .iter()
            .map(|d| d.to_report(&self.sources))
            .collect()
    }

    /// The diagnostics.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Each diagnostic as `file:line:col: code: message`.
    pub fn positions(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| {
                let file = self.sources.get(d.span.file);
                let (line, col) = file.line_col(d.span.start);
                format!(
                    "{}:{line}:{col}: {}: {}",
                    file.name,
                    d.code.as_str(),
                    d.message
                )
            })
            .collect()
    }

    /// The diagnostics rendered as `flow check` prints them (`color`:
    /// with ANSI colours).
    pub fn render(&self, color: bool) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.sources, color))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::fmt::Debug for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.positions()).finish()
    }
}

impl std::error::Error for CompileError {}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The function returned an error value.
    #[error("{message}")]
    Flow {
        /// Its message.
        message: String,
        /// Its detail map as a JSON object (`null` when empty or not JSON).
        detail: Json,
    },
    /// The script panicked, or a limit was exceeded (operations, stack
    /// depth, memory, wall time).
    #[error("panic: {message}")]
    Panic {
        /// The panic message, e.g. `time limit exceeded: ...`.
        message: String,
        /// The Flow stack trace, innermost first: `function (file:line:col)`.
        trace: Vec<String>,
    },
    /// The module initialiser failed (e.g. an endpoint URL whose host is
    /// not allowed, a configurable without a value): the function did not
    /// run.
    #[error("initialisation failed: {message}")]
    Init {
        /// What failed (the text `flow run` would print).
        message: String,
    },
    /// No public function of that name.
    #[error("no public function `{0}`")]
    UnknownFunction(String),
    /// The arguments do not fit the function's parameters.
    #[error("bad arguments: {0}")]
    Arguments(String),
    /// The result is not JSON (e.g. a duration or a function), or does not
    /// deserialize into the requested type.
    #[error("bad result: {0}")]
    Result(String),
    /// The call could not run (no thread or runtime, or the host cancelled).
    #[error("{0}")]
    Host(String),
}

/// A public function's signature.
struct Signature {
    func: u32,
    /// Name, type and whether it has a default, per parameter.
    params: Vec<(String, TyId, bool)>,
    has_rest: bool,
}

struct ProgramInner {
    compiled: Arc<CompiledProgram>,
    functions: HashMap<String, Signature>,
    settings: Arc<Settings>,
    warnings: Vec<String>,
}

/// A compiled program: call its public functions any number of times,
/// from any number of tasks. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Program {
    inner: Arc<ProgramInner>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.inner.functions.keys().collect();
        names.sort();
        f.debug_struct("Program")
            .field("functions", &names)
            .finish()
    }
}

impl Program {
    /// The names of the public functions of the root module.
    pub fn functions(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// The warnings of the compilation, rendered.
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    /// Calls the public function `function` in a fresh instance (the module
    /// initialiser runs first). `args` serializes to a JSON array (a tuple
    /// such as `(order,)`, a `Vec`, or `()` for none); each element is
    /// converted to its parameter's type like `cloneWithType`, and a
    /// missing trailing argument takes the parameter's default. The result
    /// is the returned value as JSON (`()` is `null`).
    pub fn call<A: Serialize>(
        &self,
        function: &str,
        args: A,
    ) -> impl Future<Output = Result<Json, CallError>> + Send + 'static {
        let prepared = serde_json::to_value(args)
            .map_err(|e| CallError::Arguments(e.to_string()))
            .map(|v| match v {
                Json::Array(items) => items,
                Json::Null => Vec::new(),
                other => vec![other],
            });
        let program = self.inner.clone();
        let function = function.to_string();
        async move {
            let args = prepared?;
            if !program.functions.contains_key(&function) {
                return Err(CallError::UnknownFunction(function));
            }
            spawn_call(program, function, args).await
        }
    }

    /// [`Program::call`] with the result deserialized into `T`.
    pub fn call_as<T: DeserializeOwned, A: Serialize>(
        &self,
        function: &str,
        args: A,
    ) -> impl Future<Output = Result<T, CallError>> + Send + 'static {
        let call = self.call(function, args);
        async move {
            let json = call.await?;
            serde_json::from_value(json).map_err(|e| CallError::Result(e.to_string()))
        }
    }
}

/// The public functions of the root module (its functions have
/// unqualified names).
fn public_functions(program: &tir::Program, root_text: &str) -> HashMap<String, Signature> {
    let (parsed, _) =
        crate::syntax::parser::parse_module(root_text, crate::syntax::span::FileId(0));
    let mut out = HashMap::new();
    for item in parsed.items.iter().filter(|i| i.public) {
        let crate::syntax::ast::ItemKind::Function(fd) = &item.kind else {
            continue;
        };
        let name = &fd.name.name;
        let Some((id, f)) = program
            .functions
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == *name)
        else {
            continue;
        };
        let params = f
            .params
            .iter()
            .map(|p| {
                let local = f.locals.get(p.local.0 as usize);
                (
                    local.map_or_else(String::new, |l| l.name.to_string()),
                    local.map_or(TyId::NEVER, |l| l.ty),
                    p.default.is_some(),
                )
            })
            .collect();
        out.insert(
            name.to_string(),
            Signature {
                func: id as u32,
                params,
                has_rest: f.has_rest,
            },
        );
    }
    out
}

/// Sets the cancellation flag when the caller drops the call's future.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs a call on a thread of its own; the future is `Send`.
fn spawn_call(
    program: Arc<ProgramInner>,
    function: String,
    args: Vec<Json>,
) -> impl Future<Output = Result<Json, CallError>> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let job = move || {
        let mut tx = tx;
        let result = run_call(&program, &function, args, flag, &mut tx);
        let _ = tx.send(result);
    };
    let started = match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn_blocking(job));
            Ok(())
        }
        Err(_) => std::thread::Builder::new()
            .name("flow-call".into())
            .spawn(job)
            .map(drop)
            .map_err(|e| CallError::Host(format!("cannot start a thread for the call: {e}"))),
    };
    async move {
        started?;
        let _cancel = CancelOnDrop(cancel);
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(CallError::Host(
                "the call ended without a result (internal error)".into(),
            )),
        }
    }
}

/// Runs one call on the current thread: a sandbox, a fresh instance, the
/// initialiser, the function.
fn run_call(
    program: &ProgramInner,
    function: &str,
    args: Vec<Json>,
    cancel: Arc<AtomicBool>,
    tx: &mut tokio::sync::oneshot::Sender<Result<Json, CallError>>,
) -> Result<Json, CallError> {
    let settings = &program.settings;
    let Some(sig) = program.functions.get(function) else {
        return Err(CallError::UnknownFunction(function.to_string()));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CallError::Host(format!("cannot start a runtime for the call: {e}")))?;
    // The sandbox first: the instance's strands take their fuel from it.
    let _sandbox = sandbox::enter(SandboxLimits {
        deadline: settings.timeout.map(|t| (Instant::now(), t)),
        max_memory: settings.max_memory,
        cancel: Some(cancel),
    });
    let vm = instantiate(program)?;
    let local = tokio::task::LocalSet::new();
    let work = execute(vm.clone(), sig, args);
    let result = local.block_on(&rt, async {
        let limited = async {
            match settings.timeout {
                Some(limit) => match tokio::time::timeout(limit, work).await {
                    Ok(r) => r,
                    Err(_) => Err(CallError::Panic {
                        message: sandbox::time_limit_message(limit),
                        trace: Vec::new(),
                    }),
                },
                None => work.await,
            }
        };
        tokio::select! {
            r = limited => r,
            _ = tx.closed() => Err(CallError::Host("the call was cancelled".into())),
        }
    });
    vm.flush();
    // A limit hit after the last check (e.g. a string refused by the
    // memory limit) still fails the call.
    if let Some(crate::vm::value::Panic::Message(message)) = sandbox::stopped() {
        if !matches!(&result, Err(CallError::Panic { message: m, .. }) if *m == message) {
            return Err(CallError::Panic {
                message,
                trace: Vec::new(),
            });
        }
    }
    result
}

/// A fresh instance of the program with the engine's natives, limits,
/// network policy and configurables.
fn instantiate(program: &ProgramInner) -> Result<Rc<Vm>, CallError> {
    let settings = &program.settings;
    let compiled = &program.compiled;
    let bind = |name: &str| -> Option<Native> {
        if let Some((module, member)) = name.split_once(':') {
            if let Some(m) = settings.modules.iter().find(|m| m.name == module) {
                let imp = m.implementation(member)?;
                let decl = compiled.natives.iter().find(|n| *n.name == *name)?;
                let ret = match compiled.types.kind(decl.ty) {
                    TyKind::Function(f) => f.ret,
                    _ => TyId::NEVER,
                };
                return Some(Native::Host(host::bind(imp, name, ret)));
            }
        }
        crate::stdlib::resolve(name).map(Native::Builtin)
    };
    let io = match &settings.io {
        Some(make) => make(),
        None => HostIo::process(),
    };
    let limits = Limits {
        max_depth: settings.max_depth,
        max_operations: settings.max_operations,
    };
    let vm = Vm::with_natives(compiled.clone(), &bind, io, limits)
        .map_err(|message| CallError::Init { message })?;
    vm.log_level.set(settings.log_level);
    vm.set_extension(HttpSettings {
        trace: settings.trace.clone(),
        hosts: host_policy(settings),
        transport: None,
        server: Default::default(),
    });
    let sources = ConfigSources {
        assignments: settings.config.clone(),
        file: settings.config_file.clone(),
    };
    let names = compiled.configurables.iter().map(|c| &*c.name);
    config::check_names(names, &sources)
        .and_then(|()| config::configure(&vm, &sources))
        .map_err(|e| CallError::Init {
            message: e.to_string(),
        })?;
    Ok(vm)
}

/// The initialiser, then the function with the converted arguments; the
/// result as JSON.
async fn execute(vm: Rc<Vm>, sig: &Signature, args: Vec<Json>) -> Result<Json, CallError> {
    let program = vm.program.clone();
    let types = &program.types;
    if let Err(e) = crate::vm::drive(Strand::new(vm.clone(), program.init, Vec::new())).await {
        let text = describe_failure(&e, types);
        let message = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
        return Err(CallError::Init {
            message: message.to_string(),
        });
    }
    let argv = convert_args(&vm, sig, args)?;
    match crate::vm::drive(Strand::new(vm.clone(), sig.func, argv)).await {
        Ok(Value::Error(e)) => {
            let detail = if e.detail.is_empty() {
                Json::Null
            } else {
                json_to_serde(&Value::map(e.detail.clone()), types).unwrap_or(Json::Null)
            };
            Err(CallError::Flow {
                message: e.message.to_string(),
                detail,
            })
        }
        Ok(v) => json_to_serde(&v, types)
            .map_err(|e| CallError::Result(format!("the function's result is not JSON: {e}"))),
        Err(Value::Error(e)) => Err(CallError::Panic {
            message: e.message.to_string(),
            trace: e
                .trace
                .iter()
                .map(|f| format!("{} ({})", f.function, f.location))
                .collect(),
        }),
        Err(other) => Err(CallError::Panic {
            message: to_display_string(&other, types),
            trace: Vec::new(),
        }),
    }
}

/// JSON arguments as Flow values of the parameters' types.
fn convert_args(vm: &Rc<Vm>, sig: &Signature, args: Vec<Json>) -> Result<Vec<Value>, CallError> {
    let types = &vm.program.types;
    let fixed = sig.params.len() - usize::from(sig.has_rest);
    if args.len() > fixed && !sig.has_rest {
        return Err(CallError::Arguments(format!(
            "expected at most {fixed} arguments, found {}",
            args.len()
        )));
    }
    let defaults = |r, f| host::record_default(vm, r, f);
    let convert = |i: usize, name: &str, ty: TyId, v: &Value| {
        clone_with_type(v, ty, types, &defaults).map_err(|e| {
            CallError::Arguments(format!(
                "argument {} (`{name}`) is not a `{}`: {e}",
                i + 1,
                types.display(ty)
            ))
        })
    };
    let mut out = Vec::with_capacity(sig.params.len());
    let mut args = args.into_iter();
    for (i, (name, ty, optional)) in sig.params.iter().take(fixed).enumerate() {
        match args.next() {
            Some(a) => out.push(convert(i, name, *ty, &json_from_serde(&a))?),
            None if *optional => out.push(Value::Undefined),
            None => {
                return Err(CallError::Arguments(format!(
                    "missing argument {} (`{name}`)",
                    i + 1
                )))
            }
        }
    }
    if sig.has_rest {
        if let Some((name, ty, _)) = sig.params.last() {
            let rest = Value::array(args.map(|a| json_from_serde(&a)).collect());
            out.push(convert(fixed, name, *ty, &rest)?);
        }
    }
    Ok(out)
}

/// The hosts `allow_net` allows (default: none; `"*"` allows all).
fn host_policy(settings: &Settings) -> HostPolicy {
    if settings.hosts.iter().any(|h| h == "*") {
        HostPolicy::any()
    } else {
        HostPolicy::only(settings.hosts.iter().cloned())
    }
}
