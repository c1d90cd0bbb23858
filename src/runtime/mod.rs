//! Stage 5: running programs on tokio — module initialisation, `main`,
//! `test` blocks — and reporting run-time failures (§1.2).
//!
//! Invariant: one VM instance lives on one thread, driven by a
//! current-thread tokio runtime with a `LocalSet`, so strands (`!Send`
//! values) can suspend and resume on it.

pub mod config;
pub mod http;
pub mod resilience;
pub mod server;
pub mod tx;

use crate::check::types::Types;
use crate::compile::CompiledProgram;
use crate::vm::drive;
use crate::vm::format::to_display_string;
use crate::vm::interp::Strand;
use crate::vm::machine::{HostIo, Limits, NativeResolver, Vm};
use crate::vm::value::{ErrorObj, Value};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// `main` returned normally.
    Success,
    /// `main` returned an error, or a panic was not trapped: the text to
    /// print on stderr (starting with `error: `).
    Failure(String),
}

impl Outcome {
    /// The process exit code (§1.2).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure(_) => 1,
        }
    }
}

/// The result of one `test` block.
#[derive(Debug)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// `None` when it passed, else why it failed.
    pub failure: Option<String>,
}

/// Builds the single-threaded runtime that drives a VM.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("error: cannot start the runtime: {e}"))
}

/// Loads a program into a new VM instance.
pub fn instantiate(
    program: Arc<CompiledProgram>,
    resolve: &NativeResolver,
    io: HostIo,
    limits: Limits,
) -> Result<Rc<Vm>, String> {
    Vm::new(program, resolve, io, limits).map_err(|e| format!("error: {e}"))
}

/// Runs the module initialiser and then `main` with the command-line arguments.
pub fn run_main(vm: Rc<Vm>, args: Vec<String>) -> Outcome {
    run_main_with(vm, args, false)
}

/// [`run_main`] for a process that exits right after (`flow run`): the data
/// `main` and the module variables hold is not freed.
pub fn run_main_then_exit(vm: Rc<Vm>, args: Vec<String>) -> Outcome {
    std::mem::forget(vm.clone());
    run_main_with(vm, args, true)
}

fn run_main_with(vm: Rc<Vm>, args: Vec<String>, leak: bool) -> Outcome {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return Outcome::Failure(e),
    };
    let local = tokio::task::LocalSet::new();
    let vm_outer = vm.clone();
    let body = async move {
        let program = vm.program.clone();
        if let Err(e) = drive(Strand::new(vm.clone(), program.init, Vec::new())).await {
            return Outcome::Failure(describe_failure(&e, &program.types));
        }
        // Transactions a dead process left unfinished are finished first
        // (§12.1), when the host asked for a durable log.
        if vm.extension::<crate::stdlib::tx::TxSettings>().is_some()
            && crate::stdlib::tx::uses_transactions(&vm)
        {
            match crate::stdlib::tx::recover(&vm, false).await {
                Ok(done) => {
                    for r in &done {
                        vm.write_stderr(&crate::stdlib::tx::describe_recovery(r));
                    }
                }
                Err(e) => return Outcome::Failure(format!("error: {e}\n")),
            }
        }
        let listeners = match crate::stdlib::service::start(&vm) {
            Ok(l) => l,
            Err(e) => return Outcome::Failure(e),
        };
        if listeners.is_empty() {
            return run_main_strand(&vm, args, leak).await;
        }
        // Services run: a signal stops them (also while `main` runs), and
        // the process lives until every listener is closed.
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let main_done = tokio::select! {
            o = run_main_strand(&vm, args, leak) => o,
            _ = &mut signal => return stop_services(&listeners).await,
        };
        vm.flush();
        if let Outcome::Failure(_) = main_done {
            return main_done;
        }
        tokio::select! {
            _ = all_finished(&listeners) => Outcome::Success,
            _ = &mut signal => stop_services(&listeners).await,
        }
    };
    // The strands run in a task of the runtime rather than as `block_on`'s
    // own future: a task woken by another task (hyper's connection task
    // delivering a response) is run next, while a woken `block_on` future
    // costs the scheduler one more non-blocking poll of the driver (an
    // `epoll_wait` and a timer pass) per wake-up, i.e. per remote call.
    let task = OnThisThread::new(async move { local.run_until(body).await });
    let outcome = rt.block_on(async move {
        match tokio::spawn(task).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failure(format!("error: the program's task failed: {e}\n")),
        }
    });
    vm_outer.flush();
    outcome
}

/// A `!Send` future spawned on the current-thread runtime of
/// [`run_main_with`]. Boxed: tokio's task harness keeps stack room for its
/// future's size, and `main`'s remote calls run below that room (see
/// [`run_main_strand`]).
struct OnThisThread<F>(Pin<Box<F>>);

impl<F: Future> OnThisThread<F> {
    fn new(future: F) -> OnThisThread<F> {
        OnThisThread(Box::pin(future))
    }
}

// SAFETY: `OnThisThread` is only spawned on the current-thread runtime that
// `run_main_with` creates and drives with `block_on` on this thread, and it
// is awaited to completion there: a current-thread runtime polls and drops
// its tasks only on the thread running `block_on` (or dropping the runtime,
// this thread too), so the future never leaves this thread. Wakers may be
// used from other threads; they only schedule the task.
unsafe impl<F> Send for OnThisThread<F> {}

impl<F: Future> Future for OnThisThread<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        self.get_mut().0.as_mut().poll(cx)
    }
}

/// Aborts a spawned task when the future waiting for it is dropped.
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `main` (if the program has one) with the command-line arguments.
async fn run_main_strand(vm: &Rc<Vm>, args: Vec<String>, leak: bool) -> Outcome {
    let program = vm.program.clone();
    let Some(main) = program.main else {
        return Outcome::Success;
    };
    let takes_args = program.functions[main as usize].nparams > 0;
    let argv = if takes_args {
        vec![Value::array(args.into_iter().map(Value::str).collect())]
    } else {
        Vec::new()
    };
    let strand = Strand::new(vm.clone(), main, argv);
    // `main` runs as a task of the LocalSet, like every started strand,
    // not inside this future: this future's poll frame is about 8 KiB, and
    // a remote call polled below it used stack lines 20 KiB away from those
    // of hyper's connection task, touching both bands on every call
    // (docs/PERFORMANCE.md, "Session 10"). Dropping this future (a signal
    // stopping the services) still stops `main`.
    let mut task = AbortOnDrop(tokio::task::spawn_local(async move {
        if leak {
            crate::vm::drive_and_leak(strand).await
        } else {
            drive(strand).await
        }
    }));
    let result = match (&mut task.0).await {
        Ok(result) => result,
        Err(e) => return Outcome::Failure(format!("error: main's task failed: {e}\n")),
    };
    match result {
        Ok(Value::Error(e)) => Outcome::Failure(describe_failure(&Value::Error(e), &program.types)),
        Ok(_) => Outcome::Success,
        Err(panic) => Outcome::Failure(describe_failure(&panic, &program.types)),
    }
}

/// How long a stopping service waits for requests in flight (§11.3).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, before the returned future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = recv(int) => {}
                _ = recv(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves when every listener is closed and its connections are gone.
async fn all_finished(listeners: &[Arc<server::BoundListener>]) {
    for l in listeners {
        l.finished().await;
    }
}

/// Stops accepting on every listener and lets requests in flight finish
/// (up to [`SHUTDOWN_GRACE`]).
async fn stop_services(listeners: &[Arc<server::BoundListener>]) -> Outcome {
    for l in listeners {
        l.close();
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, all_finished(listeners)).await;
    Outcome::Success
}

/// Runs `fut` to completion on a fresh single-threaded runtime with a
/// `LocalSet` (for work on an already initialised instance).
pub fn block_on_local<F: std::future::Future>(fut: F) -> Result<F::Output, String> {
    let rt = runtime()?;
    let local = tokio::task::LocalSet::new();
    Ok(local.block_on(&rt, fut))
}

/// Runs only the module initialiser (e.g. to inspect endpoints).
pub fn run_init(vm: Rc<Vm>) -> Outcome {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return Outcome::Failure(e),
    };
    let local = tokio::task::LocalSet::new();
    let outcome = local.block_on(&rt, async {
        let program = vm.program.clone();
        match drive(Strand::new(vm.clone(), program.init, Vec::new())).await {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(describe_failure(&e, &program.types)),
        }
    });
    vm.flush();
    outcome
}

/// Runs the initialiser, then every test block in its own strand.
pub fn run_tests(vm: Rc<Vm>) -> Result<Vec<TestResult>, String> {
    let rt = runtime()?;
    let local = tokio::task::LocalSet::new();
    let results = local.block_on(&rt, async {
        let program = vm.program.clone();
        if let Err(e) = drive(Strand::new(vm.clone(), program.init, Vec::new())).await {
            return Err(describe_failure(&e, &program.types));
        }
        let mut results = Vec::new();
        for (name, func) in &program.tests {
            let failure = match drive(Strand::new(vm.clone(), *func, Vec::new())).await {
                Ok(Value::Error(e)) => Some(first_line(&e)),
                Ok(_) => None,
                Err(Value::Error(e)) => Some(first_line(&e)),
                Err(other) => Some(to_display_string(&other, &program.types)),
            };
            results.push(TestResult {
                name: name.clone(),
                failure,
            });
        }
        Ok(results)
    });
    vm.flush();
    results
}

fn first_line(e: &ErrorObj) -> String {
    e.message.to_string()
}

/// The stderr text for a failed run: `error: MESSAGE`, the detail, the cause
/// chain and (for panics) the Flow stack trace.
pub fn describe_failure(v: &Value, types: &Types) -> String {
    let Value::Error(e) = v else {
        return format!("error: {}\n", to_display_string(v, types));
    };
    let mut out = format!("error: {}\n", e.message);
    if !e.detail.is_empty() {
        let detail = Value::map(e.detail.clone());
        out.push_str(&format!(
            "  detail: {}\n",
            to_display_string(&detail, types)
        ));
    }
    let mut cause = e.cause.clone();
    let mut depth = 0;
    while let Some(Value::Error(c)) = cause {
        out.push_str(&format!("  cause: {}\n", c.message));
        cause = c.cause.clone();
        depth += 1;
        if depth > 100 {
            break;
        }
    }
    for f in &e.trace {
        out.push_str(&format!("    at {} ({})\n", f.function, f.location));
    }
    out
}
