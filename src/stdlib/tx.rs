//! `tx`: transactions (§12). `tx:run` runs a transaction's body (a closure)
//! as a strand while the transaction is the task's current one (a tokio
//! task-local, so natives called by the body — `compensate`, `commit`,
//! `rollback`, `tx:id()`, and every remote call — find it); when the body
//! fails, panics or rolls back it runs the registered compensations in
//! reverse order through their endpoints (so with their retry policies),
//! each with `Idempotency-Key: <txid>:<n>`.
//!
//! Durability (§12.1): hosts that want it store [`TxSettings`] with a log
//! path; the log is opened on the first record a transaction writes (a
//! program that never runs a transaction never opens it). Records are
//! written before what they protect: a remote call before it is sent, a
//! compensation when registered, the outcome when decided, each
//! compensation's completion after it. [`recover`] finishes what a dead
//! process left.

use super::http::{
    call_error_value, client_named, error_value, plain_client, prepare_request, trace_sink,
};
use super::{arg, ready};
use crate::runtime::http::{Client, Request, TraceEvent};
use crate::runtime::tx::log::{Record, RecordKind, Start, TxLog, TxState, TxSummary};
use crate::runtime::tx::{is_alive, process_identity, StoredCall};
use crate::vm::interp::Strand;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::{ErrorObj, MapObj, Panic, Str, Value, VmResult};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;

tokio::task_local! {
    static CURRENT: Rc<Tx>;
}

/// Per-instance settings of transactions, stored with
/// `vm.set_extension(TxSettings { .. })` before anything runs. Without
/// them (or with `log: None`) transactions are kept in memory only.
#[derive(Debug, Clone, Default)]
pub struct TxSettings {
    /// The log file (`.flow/transactions.db` next to the script, or
    /// `--tx-log`).
    pub log: Option<PathBuf>,
    /// The script's identity in the log (its canonical path).
    pub script: String,
}

/// The instance's open log (opened lazily).
pub(super) struct LogSlot {
    pub(super) settings: TxSettings,
    log: RefCell<Option<TxLog>>,
    /// This process ([`process_identity`]).
    owner: String,
}

impl LogSlot {
    pub(super) fn of(vm: &Vm) -> Rc<LogSlot> {
        if let Some(s) = vm.extension::<LogSlot>() {
            return s;
        }
        let settings = vm
            .extension::<TxSettings>()
            .map(|s| (*s).clone())
            .unwrap_or_default();
        vm.set_extension(LogSlot {
            settings,
            log: RefCell::new(None),
            owner: process_identity(),
        });
        vm.extension::<LogSlot>().unwrap_or_else(|| {
            Rc::new(LogSlot {
                settings: TxSettings::default(),
                log: RefCell::new(None),
                owner: process_identity(),
            })
        })
    }

    /// Runs `f` on the open log (opening it first); `Ok(())` without
    /// writing when there is no log.
    pub(super) fn with<T: Default>(
        &self,
        f: impl FnOnce(&mut TxLog) -> Result<T, crate::runtime::tx::log::LogError>,
    ) -> Result<T, String> {
        let Some(path) = &self.settings.log else {
            return Ok(T::default());
        };
        let mut slot = self.log.borrow_mut();
        if slot.is_none() {
            *slot = Some(TxLog::open(path).map_err(|e| e.to_string())?);
        }
        match slot.as_mut() {
            Some(log) => f(log).map_err(|e| e.to_string()),
            None => Ok(T::default()),
        }
    }
}

/// A registered compensation.
pub(super) struct Compensation {
    n: u32,
    client: Client,
    call: StoredCall,
}

/// A compensation that did not complete.
pub(super) struct Failed {
    n: u32,
    endpoint: String,
    method: String,
    path: String,
    error: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Active,
    Committed,
    RolledBack,
}

/// What a transaction is to this process.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Started by a `transaction` statement (a coordinator once a
    /// transactional resource joined it).
    Local,
    /// A transactional resource's share of a remote transaction (§12.2).
    Participant,
}

/// One running transaction.
pub struct Tx {
    pub(super) id: String,
    pub(super) role: Role,
    /// (Coordinator) the base URLs of the participants, in joining order.
    pub(super) participants: RefCell<Vec<String>>,
    /// (Participant) a resource of it failed: prepare is refused.
    pub(super) doomed: Cell<bool>,
    pub(super) attempt: i64,
    pub(super) vm: Rc<Vm>,
    pub(super) log: Rc<LogSlot>,
    pub(super) phase: Cell<Phase>,
    /// Whether the transaction has a row in the log yet.
    pub(super) logged: Cell<bool>,
    pub(super) registered: RefCell<Vec<Compensation>>,
    /// Compensations that did not complete when it rolled back.
    pub(super) failed: RefCell<Vec<Failed>>,
}

/// Runs `f` with `tx` as the task's current transaction (a transactional
/// resource, §12.2).
pub(crate) async fn run_in<F: std::future::Future>(tx: Rc<Tx>, f: F) -> F::Output {
    CURRENT.scope(tx, f).await
}

/// The transaction of the running task, if any.
pub(crate) fn current() -> Option<Rc<Tx>> {
    CURRENT.try_with(|t| t.clone()).ok()
}

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "id" => id,
        "attempt" => attempt,
        "run" => run,
        "compensate" => compensate,
        "commit" => commit,
        "rollback" => rollback,
        _ => return None,
    })
}

pub(super) fn new_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let r: u64 = rand::random();
    format!("{ms:012x}{r:016x}")
}

pub(super) fn tx_error(
    vm: &Vm,
    ty: &str,
    message: String,
    detail: MapObj,
    cause: Option<Value>,
) -> Value {
    let e = error_value(&vm.program.types, ty, message, detail);
    match (e, cause) {
        (Value::Error(e), Some(c)) => Value::Error(Rc::new(ErrorObj {
            ty: e.ty,
            message: e.message.clone(),
            detail: e.detail.clone(),
            cause: Some(c),
            trace: Vec::new(),
        })),
        (e, _) => e,
    }
}

impl Tx {
    /// A new, active transaction.
    pub(super) fn new(vm: &Rc<Vm>, id: String, attempt: i64, role: Role) -> Tx {
        Tx {
            id,
            role,
            participants: RefCell::new(Vec::new()),
            doomed: Cell::new(false),
            attempt,
            vm: vm.clone(),
            log: LogSlot::of(vm),
            phase: Cell::new(Phase::Active),
            logged: Cell::new(false),
            registered: RefCell::new(Vec::new()),
            failed: RefCell::new(Vec::new()),
        }
    }

    /// `ENDPOINT METHOD PATH: ERROR` of each compensation that failed.
    pub(super) fn failed_descriptions(&self) -> Vec<String> {
        self.failed
            .borrow()
            .iter()
            .map(|f| format!("{} {} {}: {}", f.endpoint, f.method, f.path, f.error))
            .collect()
    }

    /// Writes a record (creating the transaction's row with the first).
    pub(super) fn write(
        &self,
        record: Option<Record<'_>>,
        state: Option<TxState>,
    ) -> Result<(), String> {
        let owner = self.log.owner.as_str();
        let start = (!self.logged.get()).then_some(Start {
            script: &self.log.settings.script,
            attempt: self.attempt,
            owner,
            role: match self.role {
                Role::Local => "local",
                Role::Participant => "participant",
            },
        });
        if start.is_some()
            && record
                .as_ref()
                .is_none_or(|r| r.kind == RecordKind::Decision)
        {
            // Nothing was logged yet: an outcome alone needs no record.
            return Ok(());
        }
        self.log
            .with(|log| log.write(&self.id, start, record, state))?;
        self.logged.set(true);
        Ok(())
    }

    /// Logs a remote call of the body before it is sent.
    pub(crate) fn before_call(&self, endpoint: &str, req: &Request) -> VmResult<()> {
        let data = serde_json::json!({
            "endpoint": endpoint,
            "method": req.method.as_str(),
            "path": req.path,
        });
        self.write(
            Some(Record {
                kind: RecordKind::Call,
                n: None,
                data: &data,
            }),
            None,
        )
        .map_err(Panic::msg)
    }

    /// Runs the registered compensations, last first, and records the
    /// outcome; the failures are kept in `failed`.
    pub(super) async fn roll_back(&self, reason: &str) {
        self.phase.set(Phase::RolledBack);
        let comps = std::mem::take(&mut *self.registered.borrow_mut());
        let participants = self.participants.borrow().clone();
        let decision = serde_json::json!({
            "outcome": "rollback",
            "reason": reason,
            "participants": participants,
        });
        if let Err(e) = self.write(
            Some(Record {
                kind: RecordKind::Decision,
                n: None,
                data: &decision,
            }),
            Some(TxState::RollingBack),
        ) {
            self.warn(&format!("{e} (the compensations still run)"));
        }
        let mut failed = Vec::new();
        for p in &participants {
            if let Err(e) = super::twopc::tell(&self.vm, p, &self.id, "abort").await {
                self.warn(&format!("participant {p} was not told to abort: {e}"));
                failed.push(Failed {
                    n: 0,
                    endpoint: p.clone(),
                    method: "POST".into(),
                    path: format!("/.flow/tx/{}/abort", self.id),
                    error: e,
                });
            }
        }
        for c in comps.iter().rev() {
            if let Some(f) = run_compensation(&self.vm, self, c.n, &c.client, &c.call).await {
                failed.push(f);
            }
        }
        let state = if failed.is_empty() {
            TxState::RolledBack
        } else {
            TxState::Heuristic
        };
        if let Err(e) = self.write(None, Some(state)) {
            self.warn(&e);
        }
        self.failed.borrow_mut().extend(failed);
    }

    pub(super) fn warn(&self, msg: &str) {
        self.vm.write_stderr(&format!(
            "time={} level=warn msg={:?} tx={}\n",
            super::log::timestamp(),
            msg,
            self.id
        ));
    }

    /// The `tx:HeuristicError` for the compensations that did not
    /// complete, with the block's failure as its cause.
    fn heuristic(&self, cause: Option<Value>) -> Value {
        let failed = self.failed.borrow();
        let items = failed
            .iter()
            .map(|f| {
                let mut m = MapObj::default();
                m.insert(Str::from("n"), Value::Int(i64::from(f.n)));
                m.insert(Str::from("endpoint"), Value::str(f.endpoint.as_str()));
                m.insert(Str::from("method"), Value::str(f.method.as_str()));
                m.insert(Str::from("path"), Value::str(f.path.as_str()));
                m.insert(Str::from("error"), Value::str(f.error.as_str()));
                Value::map(m)
            })
            .collect();
        let mut detail = MapObj::default();
        detail.insert(Str::from("compensations"), Value::array(items));
        let n = failed.len();
        tx_error(
            &self.vm,
            "tx:HeuristicError",
            format!(
                "transaction {}: {n} compensation{} did not complete",
                self.id,
                if n == 1 { "" } else { "s" }
            ),
            detail,
            cause,
        )
    }

    /// What `tx:run` returns once the body has finished with `result`.
    async fn finish(&self, result: Result<Value, Value>) -> VmResult<Value> {
        match result {
            Ok(Value::Nil) => {
                if self.phase.get() == Phase::Active {
                    self.roll_back("the block ended without commit").await;
                }
                if self.phase.get() == Phase::Committed {
                    return Ok(Value::Bool(false));
                }
                if self.failed.borrow().is_empty() {
                    Ok(Value::Bool(true))
                } else {
                    Ok(self.heuristic(None))
                }
            }
            Ok(failure) => {
                if self.phase.get() == Phase::Active {
                    let reason = match &failure {
                        Value::Error(e) => format!("failed: {}", e.message),
                        _ => "failed".to_string(),
                    };
                    self.roll_back(&reason).await;
                }
                if self.failed.borrow().is_empty() {
                    Ok(failure)
                } else {
                    Ok(self.heuristic(Some(failure)))
                }
            }
            Err(panic) => {
                if self.phase.get() == Phase::Active {
                    self.roll_back("panicked").await;
                }
                Err(Panic::Error(panic))
            }
        }
    }
}

/// Sends one compensation; `None` when it completed. The outcome is
/// logged (a failure also on stderr).
async fn run_compensation(
    vm: &Rc<Vm>,
    tx: &Tx,
    n: u32,
    client: &Client,
    call: &StoredCall,
) -> Option<Failed> {
    let result = client.call(call.request.clone()).await;
    let what = format!("endpoint `{}`: {}", call.endpoint, call.describe());
    let (kind, data, failed) = match result {
        Ok(_) => (RecordKind::Compensated, serde_json::json!({}), None),
        Err(e) => {
            let message = match call_error_value(&vm.program.types, &e, &what) {
                Value::Error(v) => v.message.to_string(),
                _ => format!("{what}: {e}"),
            };
            (
                RecordKind::CompensationFailed,
                serde_json::json!({ "error": message }),
                Some(Failed {
                    n,
                    endpoint: call.endpoint.clone(),
                    method: call.request.method.to_string(),
                    path: call.request.path.clone(),
                    error: message,
                }),
            )
        }
    };
    if let Some(f) = &failed {
        tx.warn(&format!("compensation {n} did not complete: {}", f.error));
    }
    if let Some(sink) = trace_sink(vm) {
        sink.event(&TraceEvent::Compensation {
            endpoint: call.endpoint.clone(),
            method: call.request.method.to_string(),
            path: call.request.path.clone(),
            tx: tx.id.clone(),
            n,
            error: failed.as_ref().map(|f| f.error.clone()),
        });
    }
    if let Err(e) = tx.write(
        Some(Record {
            kind,
            n: Some(n),
            data: &data,
        }),
        None,
    ) {
        tx.warn(&e);
    }
    failed
}

// ---- natives ----------------------------------------------------------------------

/// `tx:id()`.
fn id(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    ready(Ok(
        current().map_or(Value::Nil, |t| Value::str(t.id.as_str()))
    ))
}

/// `tx:attempt()`.
fn attempt(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    ready(Ok(Value::Int(current().map_or(0, |t| t.attempt))))
}

/// `tx:run(body, attempt)`: `false` when committed, `true` when rolled
/// back without failing, else the failure to pass on.
fn run(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    let Value::Func(closure) = arg(args, 0) else {
        return ready(Err(Panic::msg(format!(
            "internal type error: expected a function, found {}",
            arg(args, 0).kind_name()
        ))));
    };
    if let Some(outer) = current() {
        return ready(Err(Panic::msg(format!(
            "a transaction cannot start inside another transaction ({})",
            outer.id
        ))));
    }
    let attempt = match arg(args, 1) {
        Value::Int(n) => *n,
        _ => 0,
    };
    let tx = Rc::new(Tx::new(vm, new_id(), attempt, Role::Local));
    let strand = Strand::for_closure(vm.clone(), closure.clone(), Vec::new());
    NativeResult::Suspend(Box::pin(async move {
        let mut guard = CancelGuard(Some(tx.clone()));
        let result = CURRENT.scope(tx.clone(), crate::vm::drive(strand)).await;
        guard.0 = None;
        tx.finish(result).await
    }))
}

/// Rolls back a transaction whose body was dropped while running (an
/// enclosing `timeout` fired, its strand was cancelled): the compensations
/// run as a task of their own. Outside a `LocalSet` (or when the process
/// ends first) the transaction stays unfinished in the log and the next
/// start recovers it.
struct CancelGuard(Option<Rc<Tx>>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        let Some(tx) = self.0.take() else {
            return;
        };
        if tx.phase.get() != Phase::Active {
            return;
        }
        // `spawn_local` panics outside a `LocalSet` (see `strand:spawn`).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::task::spawn_local(async move {
                tx.roll_back("cancelled").await;
            })
        }));
    }
}

/// `tx:compensate(c, method, path, body, headers, query)`.
fn compensate(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    ready((|| {
        let tx = current().ok_or_else(|| Panic::msg("`compensate` outside a transaction"))?;
        if tx.phase.get() != Phase::Active {
            return Err(Panic::msg(format!(
                "`compensate` after transaction {} has ended",
                tx.id
            )));
        }
        let (client, endpoint, req, what) = match prepare_request(vm, args)? {
            Ok(p) => p,
            Err(Value::Error(e)) => return Err(Panic::msg(e.message.to_string())),
            Err(_) => return Err(Panic::msg("invalid compensation")),
        };
        let n = tx.registered.borrow().len() as u32 + 1;
        let base = match &client {
            Client::Endpoint(e) => e.url().to_string(),
            _ => String::new(),
        };
        let call = StoredCall {
            endpoint,
            base,
            request: req.header("Idempotency-Key", format!("{}:{n}", tx.id)),
        };
        let data = call.to_json();
        tx.write(
            Some(Record {
                kind: RecordKind::Compensation,
                n: Some(n),
                data: &data,
            }),
            None,
        )
        .map_err(|e| Panic::msg(format!("{what}: cannot register the compensation: {e}")))?;
        tx.registered
            .borrow_mut()
            .push(Compensation { n, client, call });
        Ok(Value::Nil)
    })())
}

/// `commit`: `()` or a `tx:Error`.
fn commit(vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let fail = |msg: String| tx_error(vm, "tx:Error", msg, MapObj::default(), None);
    let Some(tx) = current() else {
        return ready(Ok(fail("`commit` outside a transaction".into())));
    };
    ready(Ok(match tx.phase.get() {
        Phase::Committed => Value::Nil,
        Phase::RolledBack => fail(format!("transaction {} was already rolled back", tx.id)),
        Phase::Active if !tx.participants.borrow().is_empty() => {
            let vm = vm.clone();
            return NativeResult::Suspend(Box::pin(async move {
                Ok(super::twopc::commit(&vm, &tx).await)
            }));
        }
        Phase::Active => {
            let decision = serde_json::json!({ "outcome": "commit" });
            let logged = tx.write(
                Some(Record {
                    kind: RecordKind::Decision,
                    n: None,
                    data: &decision,
                }),
                Some(TxState::Committed),
            );
            match logged {
                // Not written when nothing was logged before.
                Ok(()) => {
                    tx.phase.set(Phase::Committed);
                    tx.registered.borrow_mut().clear();
                    Value::Nil
                }
                Err(e) => fail(format!(
                    "transaction {}: the commit could not be logged: {e}",
                    tx.id
                )),
            }
        }
    }))
}

/// `rollback;`.
fn rollback(_vm: &Rc<Vm>, _args: &[Value]) -> NativeResult {
    let Some(tx) = current() else {
        return ready(Err(Panic::msg("`rollback` outside a transaction")));
    };
    match tx.phase.get() {
        Phase::RolledBack => ready(Ok(Value::Nil)),
        Phase::Committed => ready(Err(Panic::msg(format!(
            "`rollback` after transaction {} was committed",
            tx.id
        )))),
        Phase::Active => NativeResult::Suspend(Box::pin(async move {
            tx.roll_back("rollback").await;
            Ok(Value::Nil)
        })),
    }
}

// ---- recovery ----------------------------------------------------------------------

/// What recovery did to one transaction.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The transaction's id.
    pub id: String,
    /// Its state before recovery.
    pub was: TxState,
    /// Each compensation sent: its number, `METHOD path on ENDPOINT`, and
    /// the error when it did not complete.
    pub compensations: Vec<(u32, String, Option<String>)>,
}

/// Whether a compiled program can run transactions (a `transaction`
/// statement, or a transactional resource, §12.2).
pub fn uses_transactions(vm: &Vm) -> bool {
    vm.program.natives.iter().any(|n| &*n.name == "tx:run")
        || vm
            .program
            .services
            .iter()
            .any(|s| s.resources.iter().any(|r| r.transactional))
}

/// Finishes the transactions of this instance's script that a dead process
/// left unfinished (state active or rolling back: presumed abort), and
/// with `heuristic` also those whose compensations failed: runs their
/// outstanding compensations, last registered first, through the
/// endpoints of this (initialised) instance. Never creates the log.
pub async fn recover(vm: &Rc<Vm>, heuristic: bool) -> Result<Vec<Recovered>, String> {
    let slot = LogSlot::of(vm);
    let Some(path) = slot.settings.log.clone() else {
        return Ok(Vec::new());
    };
    if slot.log.borrow().is_none() {
        match TxLog::open_existing(&path).map_err(|e| e.to_string())? {
            Some(log) => *slot.log.borrow_mut() = Some(log),
            None => return Ok(Vec::new()),
        }
    }
    let mut states = vec![TxState::Active, TxState::RollingBack];
    if heuristic {
        states.push(TxState::Heuristic);
    }
    let script = slot.settings.script.clone();
    let pending = slot.with(|log| log.list(Some(&script), &states))?;
    let mut out = super::twopc::recover_committing(vm, &slot).await?;
    // A transaction of a process that is still running is not ours to
    // finish.
    for t in pending.into_iter().filter(|t| !is_alive(&t.owner)) {
        out.push(recover_tx(vm, &slot, &t).await?);
    }
    Ok(out)
}

/// Rolls back one unfinished transaction from the log: tells its
/// participants to abort and runs its outstanding compensations.
async fn recover_tx(vm: &Rc<Vm>, slot: &Rc<LogSlot>, t: &TxSummary) -> Result<Recovered, String> {
    let prepared = t.state == TxState::Prepared;
    let tx = Tx::new(vm, t.id.clone(), t.attempt, Role::Local);
    tx.phase.set(Phase::RolledBack);
    tx.logged.set(true);
    let participants = super::twopc::logged_participants(slot, &t.id)?;
    for p in &participants {
        if let Err(e) = super::twopc::tell(vm, p, &t.id, "abort").await {
            tx.warn(&format!("participant {p} was not told to abort: {e}"));
        }
    }
    if t.state == TxState::Active || prepared {
        let decision =
            serde_json::json!({ "outcome": "rollback", "reason": "recovered after a crash" });
        tx.write(
            Some(Record {
                kind: RecordKind::Decision,
                n: None,
                data: &decision,
            }),
            Some(TxState::RollingBack),
        )?;
    }
    let outstanding = slot.with(|log| log.outstanding(&t.id))?;
    let mut done = Vec::new();
    let mut any_failed = false;
    for o in outstanding {
        let call = StoredCall::from_json(&o.data)
            .map_err(|e| format!("transaction {}: compensation {}: {e}", t.id, o.n))?;
        let client = match client_named(vm, &call.endpoint) {
            Some(c) => Ok(c),
            None if !call.base.is_empty() => plain_client(vm, &call.base),
            None => Err(format!(
                "the program has no endpoint `{}` any more",
                call.endpoint
            )),
        };
        let text = format!("{} on {}", call.describe(), call.endpoint);
        let failure = match client {
            Ok(client) => run_compensation(vm, &tx, o.n, &client, &call)
                .await
                .map(|f| f.error),
            Err(e) => Some(e),
        };
        any_failed |= failure.is_some();
        done.push((o.n, text, failure));
    }
    let state = if any_failed {
        TxState::Heuristic
    } else {
        TxState::RolledBack
    };
    tx.write(None, Some(state))?;
    Ok(Recovered {
        id: t.id.clone(),
        was: t.state,
        compensations: done,
    })
}

/// Rolls back participant transaction `id` from the log (the coordinator
/// told a restarted participant to abort).
pub(super) async fn recover_one(vm: &Rc<Vm>, id: &str) -> Result<(), String> {
    let slot = LogSlot::of(vm);
    let all = slot.with(|log| log.list(None, &[]))?;
    if let Some(t) = all.into_iter().find(|t| t.id == id) {
        recover_tx(vm, &slot, &t).await?;
    }
    Ok(())
}

/// The lines `flow run` / `flow tx recover` print for a recovery.
pub fn describe_recovery(r: &Recovered) -> String {
    let n = r.compensations.len();
    let plural = if n == 1 { "" } else { "s" };
    if r.was == TxState::Committing {
        // A 2PC coordinator finishing its commit (§12.2).
        return recovery_report(
            r,
            format!("(committing): {n} participant{plural}"),
            |_| String::new(),
            ("committed", "some participants did not commit"),
        );
    }
    recovery_report(
        r,
        format!("({}): {n} outstanding compensation{plural}", r.was.as_str()),
        |k| format!("compensation {k}: "),
        ("rolled back", "some compensations did not complete"),
    )
}

/// A recovery's report: the `heading` line, one line per item (`label`
/// of its number, then what it was and how it ended), and the final line,
/// `ends.0` when every item completed, else `ends.1`.
fn recovery_report(
    r: &Recovered,
    heading: String,
    label: impl Fn(u32) -> String,
    ends: (&str, &str),
) -> String {
    let mut s = format!("flow: recovering transaction {} {heading}\n", r.id);
    for (k, what, failure) in &r.compensations {
        let label = label(*k);
        match failure {
            None => s.push_str(&format!("flow:   {label}{what}: done\n")),
            Some(e) => s.push_str(&format!("flow:   {label}{what}: failed: {e}\n")),
        }
    }
    let end = if r.compensations.iter().all(|c| c.2.is_none()) {
        ends.0.to_string()
    } else {
        format!("{} (see `flow tx list`)", ends.1)
    };
    s.push_str(&format!("flow: transaction {}: {end}\n", r.id));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recovered(was: TxState, failed_second: bool) -> Recovered {
        Recovered {
            id: "t1".into(),
            was,
            compensations: vec![
                (2, "DELETE /a on x".into(), None),
                (
                    1,
                    "DELETE /b on y".into(),
                    failed_second.then(|| "503".to_string()),
                ),
            ],
        }
    }

    #[test]
    fn a_rolled_back_recovery_lists_each_compensation() {
        assert_eq!(
            describe_recovery(&recovered(TxState::Active, false)),
            "flow: recovering transaction t1 (active): 2 outstanding compensations\n\
             flow:   compensation 2: DELETE /a on x: done\n\
             flow:   compensation 1: DELETE /b on y: done\n\
             flow: transaction t1: rolled back\n"
        );
        assert!(
            describe_recovery(&recovered(TxState::Active, true)).ends_with(
                "flow:   compensation 1: DELETE /b on y: failed: 503\n\
             flow: transaction t1: some compensations did not complete (see `flow tx list`)\n"
            )
        );
    }

    #[test]
    fn a_committing_coordinator_lists_each_participant() {
        assert_eq!(
            describe_recovery(&recovered(TxState::Committing, true)),
            "flow: recovering transaction t1 (committing): 2 participants\n\
             flow:   DELETE /a on x: done\n\
             flow:   DELETE /b on y: failed: 503\n\
             flow: transaction t1: some participants did not commit (see `flow tx list`)\n"
        );
    }
}
