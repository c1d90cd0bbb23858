//! The `flow` command line (§1.1): a thin client of the library.

use crate::check::{self, CheckResult};
use crate::compile::{compile, CompiledProgram};
use crate::diagnostics::Diagnostic;
use crate::runtime::config::{self, ConfigError, ConfigSources};
use crate::runtime::http::{HostPolicy, LineSink, Redactor, TraceSink};
use crate::runtime::server::ServerLimits;
use crate::runtime::{self, Outcome};
use crate::stdlib::http::HttpSettings;
use crate::syntax::span::SourceMap;
use crate::vm::machine::{HostIo, Limits, Vm};
mod repl;
mod tx;

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "flow",
    version,
    about = "Run, check and test Flow integration scripts"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Options shared by the commands that run code.
#[derive(clap::Args, Debug, Default, Clone)]
struct RunOptions {
    /// Sets a configurable: `-C name=value`.
    #[arg(short = 'C', value_name = "NAME=VALUE")]
    config_values: Vec<String>,
    /// A TOML file with configurable values (default: ./Config.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Prints one line per remote attempt and resilience event to stderr.
    #[arg(long)]
    trace: bool,
    /// Restricts the hosts endpoints may contact (HOST[:PORT],...).
    #[arg(long, value_name = "HOSTS")]
    allow_net: Option<String>,
    /// Minimum level of `log` output: debug, info, warn or error.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
    /// The transaction log of `run` and `tx recover` (default:
    /// .flow/transactions.db next to the script).
    #[arg(long, value_name = "PATH")]
    tx_log: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checks a file, then runs its `main`.
    Run {
        /// The script.
        file: PathBuf,
        /// Arguments passed to `main(string... args)`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Parses and checks files, printing diagnostics.
    Check {
        /// The scripts.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `json` prints one JSON object per diagnostic per line on stdout.
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
        /// Also prints each endpoint with its resolved URL(s) and policy
        /// (runs the module initialisers, after resolving configurables).
        #[arg(long)]
        endpoints: bool,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Runs the `test` blocks of a file or of every `.flow` file in a folder.
    Test {
        /// A file or a folder.
        path: PathBuf,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Shows and finishes transactions of the transaction log (§12.1).
    Tx {
        #[command(subcommand)]
        action: TxAction,
    },
    /// Starts the interactive REPL.
    Repl {
        #[command(flatten)]
        options: RunOptions,
    },
}

/// `flow tx ...`.
#[derive(Subcommand, Debug)]
enum TxAction {
    /// Lists the transactions of a script that are not finished (all of
    /// them with --all).
    List {
        /// The script (its log is .flow/transactions.db next to it).
        file: Option<PathBuf>,
        /// Also lists committed and rolled-back transactions.
        #[arg(long)]
        all: bool,
        /// The transaction log (default: next to the script).
        #[arg(long, value_name = "PATH")]
        tx_log: Option<PathBuf>,
    },
    /// Runs the outstanding compensations of a script's unfinished
    /// transactions (also those whose compensations failed before).
    Recover {
        /// The script (checked and initialised to find its endpoints).
        file: PathBuf,
        #[command(flatten)]
        options: RunOptions,
    },
}

const SUBCOMMANDS: &[&str] = &["run", "check", "test", "tx", "repl", "help"];

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let mut argv: Vec<String> = std::env::args().collect();
    // `flow FILE ARGS...` is `flow run FILE ARGS...`.
    if let Some(first) = argv.get(1) {
        if !first.starts_with('-') && !SUBCOMMANDS.contains(&first.as_str()) {
            argv.insert(1, "run".into());
        }
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Some(Command::Run {
            file,
            args,
            options,
        }) => run(&file, args, &options),
        Some(Command::Check {
            files,
            format,
            endpoints,
            options,
        }) => {
            let code = check_files(&files, format.as_deref());
            if code != 0 || !endpoints {
                return code;
            }
            files
                .iter()
                .map(|f| print_endpoints(f, &options))
                .max()
                .unwrap_or(0)
        }
        Some(Command::Test { path, options }) => test(&path, &options),
        Some(Command::Tx { action }) => match action {
            TxAction::List { file, all, tx_log } => tx::list(file.as_deref(), tx_log, all),
            TxAction::Recover { file, options } => tx::recover(&file, &options),
        },
        Some(Command::Repl { options }) => start_repl(&options),
        None => start_repl(&RunOptions::default_for_repl()),
    }
}

impl RunOptions {
    /// The options of a bare `flow` (which starts the REPL).
    fn default_for_repl() -> RunOptions {
        RunOptions {
            log_level: "info".into(),
            ..RunOptions::default()
        }
    }
}

/// `flow repl` and `flow` without arguments.
fn start_repl(options: &RunOptions) -> i32 {
    let config = match config_sources(options) {
        Ok(s) => s,
        Err(e) => return config_failure(&e),
    };
    repl::main(repl::Settings {
        config,
        limits: limits(),
        log_level: crate::stdlib::log_level(&options.log_level).unwrap_or(1),
        color: std::io::stderr().is_terminal(),
        http: http_settings(options),
        io: None,
    })
}

/// Prints diagnostics in the human format (stderr).
fn print_diagnostics(diags: &[Diagnostic], sources: &SourceMap) {
    let color = std::io::stderr().is_terminal();
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{}", d.render(sources, color));
    }
}

/// Checks and compiles a file; on errors prints them and returns exit code 2.
fn build(file: &Path) -> Result<CompiledProgram, i32> {
    let mut sources = SourceMap::new();
    let CheckResult {
        program,
        diagnostics,
    } = check::check_program(file, &mut sources);
    print_diagnostics(&diagnostics, &sources);
    match program {
        Some(p) => {
            let compiled = compile(p, Arc::new(sources));
            if std::env::var_os("FLOW_DUMP_BYTECODE").is_some() {
                eprint!("{}", compiled.disassemble());
            }
            Ok(compiled)
        }
        None => Err(2),
    }
}

/// Run-time limits; `FLOW_MAX_OPERATIONS` bounds calls and loop iterations
/// (used by the robustness tests, where a mutated program may loop forever).
fn limits() -> Limits {
    Limits {
        max_operations: std::env::var("FLOW_MAX_OPERATIONS")
            .ok()
            .and_then(|v| v.parse().ok()),
        ..Limits::default()
    }
}

/// The configurable sources of the command line (`-C`, `--config`).
fn config_sources(options: &RunOptions) -> Result<ConfigSources, ConfigError> {
    let assignments = options
        .config_values
        .iter()
        .map(|a| config::parse_assignment(a))
        .collect::<Result<_, _>>()?;
    Ok(ConfigSources {
        assignments,
        file: options.config.clone(),
    })
}

/// Prints a configuration error and returns its exit code.
fn config_failure(e: &ConfigError) -> i32 {
    eprintln!("{e}");
    e.exit_code()
}

/// Loads a compiled program into a VM writing to the process's stdout and
/// stderr, with the command line's limits and log level.
fn start_vm(program: CompiledProgram, options: &RunOptions) -> Result<Rc<Vm>, String> {
    let vm = runtime::instantiate(
        Arc::new(program),
        &crate::stdlib::resolve,
        HostIo::process(),
        limits(),
    )?;
    if let Some(level) = crate::stdlib::log_level(&options.log_level) {
        vm.log_level.set(level);
    }
    vm.set_extension(http_settings(options));
    Ok(vm)
}

/// The `http` module's settings from `--trace` and `--allow-net`.
fn http_settings(options: &RunOptions) -> HttpSettings {
    let trace: Option<Arc<dyn TraceSink>> = options
        .trace
        .then(|| Arc::new(LineSink::stderr(Redactor::default())) as Arc<dyn TraceSink>);
    HttpSettings {
        trace,
        hosts: host_policy(options),
        transport: None,
        server: server_limits(),
    }
}

/// The hosts `--allow-net` allows (default: all).
fn host_policy(options: &RunOptions) -> HostPolicy {
    match &options.allow_net {
        Some(list) => HostPolicy::only(list.split(',').map(str::trim).filter(|h| !h.is_empty())),
        None => HostPolicy::any(),
    }
}

/// The limits of service listeners; `FLOW_MAX_BODY_BYTES` and
/// `FLOW_HEADER_READ_TIMEOUT_MS` override the defaults (10 MB, 10 s).
fn server_limits() -> ServerLimits {
    let mut limits = ServerLimits::default();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = env("FLOW_MAX_BODY_BYTES") {
        limits.max_body = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(ms) = env("FLOW_HEADER_READ_TIMEOUT_MS") {
        limits.header_read_timeout = std::time::Duration::from_millis(ms.max(1));
    }
    limits
}

/// Checks and compiles `file`, loads it into a VM and resolves its
/// configurables; `needs_main` refuses a file without `main`. On failure
/// the message is printed and the exit code returned.
fn load_program(file: &Path, options: &RunOptions, needs_main: bool) -> Result<Rc<Vm>, i32> {
    let sources = config_sources(options).map_err(|e| config_failure(&e))?;
    let program = build(file)?;
    // A literal address the sandbox refuses stops the run before anything
    // is initialised, with the run-time failure code (§15.2).
    let denied =
        crate::stdlib::http::denied_net_literals(&program.net_literals, &host_policy(options));
    if !denied.is_empty() {
        print_diagnostics(&denied, &program.sources);
        return Err(1);
    }
    let names = program.configurables.iter().map(|c| &*c.name);
    config::check_names(names, &sources).map_err(|e| config_failure(&e))?;
    if needs_main && program.main.is_none() && program.services.is_empty() {
        eprintln!(
            "error: {} has nothing to run: declare `public function main()` or a service",
            file.display()
        );
        return Err(2);
    }
    let vm = start_vm(program, options).map_err(|e| {
        eprintln!("{e}");
        1
    })?;
    config::configure(&vm, &sources).map_err(|e| config_failure(&e))?;
    Ok(vm)
}

fn run(file: &Path, args: Vec<String>, options: &RunOptions) -> i32 {
    let vm = match load_program(file, options, true) {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    vm.set_extension(tx::settings(file, options.tx_log.clone()));
    vm.set_extension(service_vms(&vm));
    let outcome = runtime::run_main_then_exit(vm, args);
    if let Outcome::Failure(text) = &outcome {
        eprint!("{text}");
    }
    outcome.exit_code()
}

/// How many VM instances an isolated service may run on: one per core, or
/// `FLOW_SERVICE_VMS` (which also reports the chosen mode on stderr; used
/// by the tests).
fn service_vms(vm: &Vm) -> crate::stdlib::vms::ServiceVms {
    let forced = std::env::var("FLOW_SERVICE_VMS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    crate::stdlib::vms::ServiceVms {
        count: forced,
        make: crate::stdlib::vms::process_factory(vm),
        report: forced.is_some(),
    }
}

/// `flow check --endpoints`: runs the initialisers of a checked file and
/// prints its endpoints.
fn print_endpoints(file: &Path, options: &RunOptions) -> i32 {
    let vm = match load_program(file, options, false) {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    if let Outcome::Failure(text) = runtime::run_init(vm.clone()) {
        eprint!("{text}");
        return 1;
    }
    let text = crate::stdlib::http::describe_endpoints(&vm);
    if text.is_empty() {
        println!("{}: no endpoints", file.display());
    } else {
        print!("{text}");
    }
    0
}

fn check_files(files: &[PathBuf], format: Option<&str>) -> i32 {
    let json = match format {
        None | Some("human") => false,
        Some("json") => true,
        Some(other) => {
            eprintln!("error: unknown format `{other}` (use `json`)");
            return 2;
        }
    };
    let mut code = 0;
    for file in files {
        let mut sources = SourceMap::new();
        let result = check::check_program(file, &mut sources);
        if json {
            let mut out = std::io::stdout().lock();
            for d in &result.diagnostics {
                let _ = writeln!(out, "{}", d.to_json(&sources));
            }
        } else {
            print_diagnostics(&result.diagnostics, &sources);
        }
        if result.diagnostics.iter().any(Diagnostic::is_error) {
            code = 2;
        }
    }
    code
}

/// The `.flow` files to test: the file itself, or every file under the folder.
fn test_files(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut out = Vec::new();
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "flow") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    } else {
        vec![path.to_path_buf()]
    }
}

fn test(path: &Path, options: &RunOptions) -> i32 {
    let sources = match config_sources(options) {
        Ok(s) => s,
        Err(e) => return config_failure(&e),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut worst = 0;
    let mut programs = Vec::new();
    for file in test_files(path) {
        match build(&file) {
            Ok(p) => programs.push(p),
            Err(code) => worst = worst.max(code),
        }
    }
    // A `-C` name must belong to at least one of the programs tested.
    let names = programs
        .iter()
        .flat_map(|p| p.configurables.iter().map(|c| &*c.name));
    if let Err(e) = config::check_names(names, &sources) {
        return config_failure(&e);
    }
    for program in programs {
        if program.tests.is_empty() {
            continue;
        }
        let vm = match start_vm(program, options) {
            Ok(vm) => vm,
            Err(e) => {
                eprintln!("{e}");
                worst = worst.max(1);
                continue;
            }
        };
        if let Err(e) = config::configure(&vm, &sources) {
            worst = worst.max(config_failure(&e));
            continue;
        }
        match runtime::run_tests(vm) {
            Ok(results) => {
                let mut out = std::io::stdout().lock();
                for r in results {
                    match r.failure {
                        None => {
                            passed += 1;
                            let _ = writeln!(out, "ok   {}", r.name);
                        }
                        Some(why) => {
                            failed += 1;
                            let _ = writeln!(out, "FAIL {}: {}", r.name, why);
                        }
                    }
                }
            }
            Err(text) => {
                eprint!("{text}");
                worst = worst.max(1);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        worst = worst.max(1);
    }
    worst
}
