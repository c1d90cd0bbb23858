//! Distributed transactions (§12.2): two-phase commit over HTTP between a
//! coordinator (a program whose `transaction` called transactional
//! resources) and participants (services whose `transactional` resources
//! joined it).
//!
//! Coordinator: a remote call inside a transaction carries `Flow-Tx-Id`
//! and `Flow-Tx-Coordinator`; a participant answers with
//! `Flow-Tx-Participant: <its base URL>`, which the coordinator logs (a
//! `participant` record) before using the response. `commit` then sends
//! `POST /.flow/tx/{id}/prepare` to each participant; all yes → the
//! decision `commit` is logged (state `committing`) and `/commit` is sent
//! to each until it is acknowledged (retrying up to a deadline); any no or
//! timeout → the decision `rollback` is logged, `/abort` is sent to every
//! participant and the local compensations run. A restarted coordinator
//! finishes `committing` transactions before `main`.
//!
//! Participant: the resource's strand runs with the participant's [`Tx`]
//! as its current transaction, so `compensate` registers (and logs) there.
//! A failed resource dooms it (prepare is refused). The participant only
//! answers: it never calls the coordinator (the coordinator drives every
//! step and retries phase two, so a prepared participant that restarts is
//! told the outcome).

use super::http::plain_client;
use super::tx::{new_id, tx_error, LogSlot, Phase, Recovered, Role, Tx};
use crate::runtime::http::{Body, Request};
use crate::runtime::tx::is_alive;
use crate::runtime::tx::log::{Record, RecordKind, TxState};
use crate::vm::machine::Vm;
use crate::vm::value::{MapObj, Str, Value};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The request header naming the transaction.
pub const TX_ID_HEADER: &str = "Flow-Tx-Id";
/// The request header naming the coordinator.
pub const COORDINATOR_HEADER: &str = "Flow-Tx-Coordinator";
/// The response header by which a participant joins.
pub const PARTICIPANT_HEADER: &str = "Flow-Tx-Participant";

/// The coordinator's own URL (its first served listener), stored by
/// `service::start`.
pub struct CoordinatorUrl(pub String);

fn env_ms(name: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// How long a participant may take to answer prepare.
fn prepare_timeout() -> Duration {
    env_ms("FLOW_TX_PREPARE_TIMEOUT_MS", 10_000)
}

/// How long phase two keeps retrying an unreachable participant.
fn phase2_deadline() -> Duration {
    env_ms("FLOW_TX_PHASE2_DEADLINE_MS", 30_000)
}

/// The crash points of the tests (`FLOW_TX_TEST_EXIT`): the process exits
/// with status 3 there, like a crash.
fn crash_point(name: &str) {
    if std::env::var("FLOW_TX_TEST_EXIT").is_ok_and(|v| v == name) {
        std::process::exit(3);
    }
}

/// The two headers a remote call inside `tx` carries (none for a
/// participant: participants do not propagate the transaction).
pub(crate) fn request_headers(vm: &Vm, tx: &Tx) -> Vec<(&'static str, String)> {
    if tx.role != Role::Local {
        return Vec::new();
    }
    let coordinator = vm.extension::<CoordinatorUrl>().map_or_else(
        || format!("flow:{}", crate::runtime::tx::process_identity()),
        |c| c.0.clone(),
    );
    vec![
        (TX_ID_HEADER, tx.id.clone()),
        (COORDINATOR_HEADER, coordinator),
    ]
}

/// Records the participant a response names (logged before the response
/// is used).
pub(crate) fn joined(tx: &Tx, url: &str) -> Result<(), String> {
    if tx.role != Role::Local || tx.participants.borrow().iter().any(|p| p == url) {
        return Ok(());
    }
    let data = json!({ "url": url });
    tx.write(
        Some(Record {
            kind: RecordKind::Participant,
            n: None,
            data: &data,
        }),
        None,
    )?;
    tx.participants.borrow_mut().push(url.to_string());
    Ok(())
}

/// The participants logged for transaction `id`.
pub(super) fn logged_participants(slot: &LogSlot, id: &str) -> Result<Vec<String>, String> {
    Ok(slot
        .with(|log| log.records(id, RecordKind::Participant))?
        .iter()
        .filter_map(|d| d.get("url")?.as_str().map(str::to_string))
        .collect())
}

/// One control request; the status and body of the answer.
async fn post(
    vm: &Vm,
    base: &str,
    id: &str,
    action: &str,
    limit: Duration,
) -> Result<(u16, String), String> {
    let client = plain_client(vm, base)?;
    let req = Request::post(format!("/.flow/tx/{id}/{action}"), Body::Json(json!({}))).raw();
    match tokio::time::timeout(limit, client.call(req)).await {
        Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(r)) => Ok((r.status, String::from_utf8_lossy(&r.body).into_owned())),
    }
}

/// Why phase two did not reach a participant.
enum NotDone {
    /// It answered with another outcome (409): `mixed`.
    Refused(String),
    /// It could not be reached before the deadline: `hazard`.
    Unreachable(String),
}

/// Sends `/commit` or `/abort` until acknowledged, refused, or the
/// deadline passes.
async fn tell_outcome(vm: &Vm, base: &str, id: &str, action: &str) -> Result<(), NotDone> {
    let deadline = tokio::time::Instant::now() + phase2_deadline();
    let mut pause = Duration::from_millis(50);
    loop {
        let last = match post(vm, base, id, action, Duration::from_secs(5)).await {
            Ok((200, _)) => return Ok(()),
            Ok((409, body)) => return Err(NotDone::Refused(format!("{base}: {body}"))),
            Ok((s, body)) => format!("{base}: status {s}: {body}"),
            Err(e) => format!("{base}: {e}"),
        };
        if tokio::time::Instant::now() + pause > deadline {
            return Err(NotDone::Unreachable(last));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Tells a participant the outcome (`commit` / `abort`); `Err` describes
/// why it did not acknowledge.
pub(super) async fn tell(vm: &Vm, base: &str, id: &str, action: &str) -> Result<(), String> {
    tell_outcome(vm, base, id, action)
        .await
        .map_err(|e| match e {
            NotDone::Refused(m) | NotDone::Unreachable(m) => m,
        })
}

/// `commit` of a transaction with participants: the value `commit`
/// returns.
pub(super) async fn commit(vm: &Rc<Vm>, tx: &Rc<Tx>) -> Value {
    let parts = tx.participants.borrow().clone();
    let mut refusal = None;
    for p in &parts {
        match post(vm, p, &tx.id, "prepare", prepare_timeout()).await {
            Ok((200, _)) => {}
            Ok((s, body)) => {
                refusal = Some(format!("participant {p} refused to prepare ({s}: {body})"));
                break;
            }
            Err(e) => {
                refusal = Some(format!("participant {p} did not prepare: {e}"));
                break;
            }
        }
    }
    let decision = json!({ "outcome": "commit", "participants": parts });
    if refusal.is_none() {
        if let Err(e) = tx.write(
            Some(Record {
                kind: RecordKind::Decision,
                n: None,
                data: &decision,
            }),
            Some(TxState::Committing),
        ) {
            refusal = Some(format!("the commit could not be logged: {e}"));
        }
    }
    if let Some(why) = refusal {
        tx.roll_back(&why).await;
        let message = format!("transaction {} aborted: {why}", tx.id);
        if tx.failed.borrow().is_empty() {
            return tx_error(vm, "tx:Error", message, outcome_detail("aborted"), None);
        }
        let cause = tx_error(vm, "tx:Error", message, MapObj::default(), None);
        return heuristic(vm, tx, "mixed", tx.failed_descriptions(), Some(cause));
    }
    crash_point("coordinator-decision");
    tx.phase.set(Phase::Committed);
    tx.registered.borrow_mut().clear();
    let (mixed, hazard) = finish_commit(vm, &tx.id, &parts).await;
    let state = if hazard.is_empty() && mixed.is_empty() {
        TxState::Committed
    } else if hazard.is_empty() {
        TxState::Mixed
    } else {
        // Stays `committing`: the next start tries again.
        TxState::Committing
    };
    if let Err(e) = tx.write(None, Some(state)) {
        tx.warn(&e);
    }
    if mixed.is_empty() && hazard.is_empty() {
        return Value::Nil;
    }
    let outcome = if hazard.is_empty() { "mixed" } else { "hazard" };
    let mut all = mixed;
    all.extend(hazard);
    for m in &all {
        tx.warn(&format!("participant not committed: {m}"));
    }
    heuristic(vm, tx, outcome, all, None)
}

/// Sends `/commit` to every participant: the refusals and the unreachable.
async fn finish_commit(vm: &Vm, id: &str, parts: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut mixed, mut hazard) = (Vec::new(), Vec::new());
    for p in parts {
        match tell_outcome(vm, p, id, "commit").await {
            Ok(()) => {}
            Err(NotDone::Refused(m)) => mixed.push(m),
            Err(NotDone::Unreachable(m)) => hazard.push(m),
        }
    }
    (mixed, hazard)
}

fn outcome_detail(outcome: &str) -> MapObj {
    let mut d = MapObj::default();
    d.insert(Str::from("outcome"), Value::str(outcome));
    d
}

/// The `tx:HeuristicError` of a non-clean outcome.
fn heuristic(
    vm: &Vm,
    tx: &Tx,
    outcome: &str,
    problems: Vec<String>,
    cause: Option<Value>,
) -> Value {
    let mut detail = outcome_detail(outcome);
    detail.insert(
        Str::from("problems"),
        Value::array(problems.iter().map(|p| Value::str(p.as_str())).collect()),
    );
    tx_error(
        vm,
        "tx:HeuristicError",
        format!("transaction {}: outcome {outcome}", tx.id),
        detail,
        cause,
    )
}

/// Finishes the `committing` transactions of this script that a dead
/// coordinator left (before `main`).
pub(super) async fn recover_committing(
    vm: &Rc<Vm>,
    slot: &Rc<LogSlot>,
) -> Result<Vec<Recovered>, String> {
    let script = slot.settings.script.clone();
    let pending = slot.with(|log| log.list(Some(&script), &[TxState::Committing]))?;
    let mut out = Vec::new();
    for t in pending.into_iter().filter(|t| !is_alive(&t.owner)) {
        let parts = logged_participants(slot, &t.id)?;
        let tx = Tx::new(vm, t.id.clone(), t.attempt, Role::Local);
        tx.logged.set(true);
        let mut done = Vec::new();
        let mut hazard = false;
        for p in &parts {
            let r = tell_outcome(vm, p, &t.id, "commit").await;
            hazard |= matches!(r, Err(NotDone::Unreachable(_)));
            let failure = r.err().map(|e| match e {
                NotDone::Refused(m) | NotDone::Unreachable(m) => m,
            });
            done.push((0, format!("commit {p}"), failure));
        }
        let state = if hazard {
            TxState::Committing
        } else if done.iter().any(|d| d.2.is_some()) {
            TxState::Mixed
        } else {
            TxState::Committed
        };
        tx.write(None, Some(state))?;
        out.push(Recovered {
            id: t.id,
            was: TxState::Committing,
            compensations: done,
        });
    }
    Ok(out)
}

// ---- participant ---------------------------------------------------------------------

/// The participant transactions of this instance that are still open.
#[derive(Default)]
struct Joined(RefCell<HashMap<String, Rc<Tx>>>);

fn joined_map(vm: &Vm) -> Rc<Joined> {
    if let Some(j) = vm.extension::<Joined>() {
        return j;
    }
    vm.set_extension(Joined::default());
    vm.extension::<Joined>()
        .unwrap_or_else(|| Rc::new(Joined::default()))
}

/// Whether `id` can be a transaction id (it is used in paths and the log).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The transaction a request for a transactional resource runs in: the
/// remote one named by `Flow-Tx-Id` (joined), or a local one of its own.
/// `Err` is the message of a 400 answer.
pub fn join(vm: &Rc<Vm>, headers: &crate::runtime::http::HeaderMap) -> Result<Rc<Tx>, String> {
    let Some(id) = headers.get(TX_ID_HEADER) else {
        return Ok(Rc::new(Tx::new(vm, new_id(), 0, Role::Local)));
    };
    let id = id.to_str().unwrap_or_default().trim();
    if !valid_id(id) {
        return Err(format!("invalid {TX_ID_HEADER} header"));
    }
    let map = joined_map(vm);
    if let Some(tx) = map.0.borrow().get(id) {
        return Ok(tx.clone());
    }
    let tx = Rc::new(Tx::new(vm, id.to_string(), 0, Role::Participant));
    map.0.borrow_mut().insert(id.to_string(), tx.clone());
    Ok(tx)
}

/// After a transactional resource ran in `tx`: a participant is doomed by a
/// failure; a local transaction commits or rolls back.
pub async fn after_resource(tx: &Rc<Tx>, failed: bool) {
    if tx.role == Role::Participant {
        if failed {
            tx.doomed.set(true);
        }
        return;
    }
    if failed {
        tx.roll_back("the resource failed").await;
    } else {
        after_commit(tx);
    }
}

/// Whether `tx` is a joined participant transaction (its answer names the
/// participant).
pub fn is_participant(tx: &Tx) -> bool {
    tx.role == Role::Participant
}

/// Answers `POST /.flow/tx/{id}/{action}`: the status and JSON body.
pub async fn control(vm: &Rc<Vm>, id: &str, action: &str) -> (u16, serde_json::Value) {
    if !valid_id(id) {
        return (400, json!({ "error": "invalid transaction id" }));
    }
    let map = joined_map(vm);
    let live = map.0.borrow().get(id).cloned();
    let trace = |what: &str| {
        if super::http::trace_sink(vm).is_some() {
            vm.write_stderr(&format!("trace: tx {id}: {what}\n"));
        }
    };
    let slot = LogSlot::of(vm);
    let logged = slot.with(|log| log.state(id)).ok().flatten();
    match action {
        "prepare" => {
            trace("prepare");
            if let Some(tx) = live {
                if tx.doomed.get() || tx.phase.get() != Phase::Active {
                    map.0.borrow_mut().remove(id);
                    if tx.phase.get() == Phase::Active {
                        tx.roll_back("a resource failed").await;
                    }
                    trace("vote no");
                    return (409, json!({ "vote": "no", "error": "a resource failed" }));
                }
                let data = json!({});
                let r = tx.write(
                    Some(Record {
                        kind: RecordKind::Prepared,
                        n: None,
                        data: &data,
                    }),
                    Some(TxState::Prepared),
                );
                return match r {
                    Ok(()) => {
                        trace("vote yes");
                        (200, json!({ "vote": "yes" }))
                    }
                    Err(e) => (409, json!({ "vote": "no", "error": e })),
                };
            }
            match logged {
                Some(TxState::Prepared) => (200, json!({ "vote": "yes" })),
                _ => (409, json!({ "vote": "no", "error": "unknown transaction" })),
            }
        }
        "commit" => {
            trace("commit");
            crash_point("participant-commit");
            let tx = match live {
                Some(tx) => {
                    map.0.borrow_mut().remove(id);
                    tx
                }
                None => match logged {
                    Some(TxState::Committed) => return (200, json!({ "outcome": "committed" })),
                    Some(TxState::Prepared | TxState::Active) => {
                        let tx = Rc::new(Tx::new(vm, id.to_string(), 0, Role::Participant));
                        tx.logged.set(true);
                        tx
                    }
                    Some(_) => return (409, json!({ "outcome": "aborted" })),
                    None => return (409, json!({ "error": "unknown transaction" })),
                },
            };
            after_commit(&tx);
            (200, json!({ "outcome": "committed" }))
        }
        "abort" => {
            trace("abort");
            if let Some(tx) = live {
                map.0.borrow_mut().remove(id);
                if tx.phase.get() == Phase::Active {
                    tx.roll_back("aborted by the coordinator").await;
                }
                return (200, json!({ "outcome": "aborted" }));
            }
            match logged {
                Some(TxState::Committed) => (409, json!({ "outcome": "committed" })),
                Some(TxState::Prepared | TxState::Active | TxState::RollingBack) => {
                    match super::tx::recover_one(vm, id).await {
                        Ok(()) => (200, json!({ "outcome": "aborted" })),
                        Err(e) => (500, json!({ "error": e })),
                    }
                }
                _ => (200, json!({ "outcome": "aborted" })),
            }
        }
        _ => (
            404,
            json!({ "error": format!("no transaction action `{action}`") }),
        ),
    }
}

/// Logs a participant's commit and forgets its compensations.
fn after_commit(tx: &Tx) {
    let decision = json!({ "outcome": "commit" });
    if let Err(e) = tx.write(
        Some(Record {
            kind: RecordKind::Decision,
            n: None,
            data: &decision,
        }),
        Some(TxState::Committed),
    ) {
        tx.warn(&e);
    }
    tx.phase.set(Phase::Committed);
    tx.registered.borrow_mut().clear();
}
