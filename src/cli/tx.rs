//! `flow tx list` and `flow tx recover` (§12.1), and where the transaction
//! log of a script is.

use super::{load_program, RunOptions};
use crate::runtime::tx::log::{TxLog, TxState};
use crate::runtime::tx::StoredCall;
use crate::runtime::{self, Outcome};
use crate::stdlib::tx::TxSettings;
use std::path::{Path, PathBuf};

/// The log settings of a run of `file`: `--tx-log PATH`, else
/// `.flow/transactions.db` next to the script; the script is identified
/// in the log by its canonical path.
pub(super) fn settings(file: &Path, tx_log: Option<PathBuf>) -> TxSettings {
    let script = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let log = tx_log.unwrap_or_else(|| {
        script
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(".flow")
            .join("transactions.db")
    });
    TxSettings {
        log: Some(log),
        script: script.to_string_lossy().into_owned(),
    }
}

/// `flow tx list [FILE] [--all] [--tx-log PATH]`.
pub(super) fn list(file: Option<&Path>, tx_log: Option<PathBuf>, all: bool) -> i32 {
    let (path, script) = match (file, tx_log) {
        (Some(f), log) => {
            let s = settings(f, log);
            (s.log.unwrap_or_default(), Some(s.script))
        }
        (None, Some(log)) => (log, None),
        (None, None) => {
            eprintln!("error: `flow tx list` needs a script or --tx-log PATH");
            return 2;
        }
    };
    let log = match TxLog::open_existing(&path) {
        Ok(Some(log)) => log,
        Ok(None) => {
            println!("no transactions ({} does not exist)", path.display());
            return 0;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let states: &[TxState] = if all {
        &[]
    } else {
        &[
            TxState::Active,
            TxState::RollingBack,
            TxState::Heuristic,
            TxState::Committing,
            TxState::Mixed,
        ]
    };
    let txs = match log.list(script.as_deref(), states) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if txs.is_empty() {
        println!("no {}transactions", if all { "" } else { "unfinished " });
        return 0;
    }
    for t in txs {
        println!(
            "{} {} attempt={} started={} compensations={}/{} calls={}{}",
            t.id,
            t.state.as_str(),
            t.attempt,
            crate::stdlib::log::timestamp_of(t.started_at),
            t.completed,
            t.registered,
            t.calls,
            if script.is_some() {
                String::new()
            } else {
                format!(" script={}", t.script)
            }
        );
        if t.state.is_unfinished() && crate::runtime::tx::is_alive(&t.owner) {
            let pid = t.owner.split(':').next().unwrap_or_default();
            println!("  still running in process {pid}");
        }
        if matches!(t.state, TxState::Committed | TxState::RolledBack) {
            continue;
        }
        match log.outstanding(&t.id) {
            Ok(out) => {
                for o in out {
                    match StoredCall::from_json(&o.data) {
                        Ok(c) => println!(
                            "  outstanding compensation {}: {} on {} (Idempotency-Key: {}:{})",
                            o.n,
                            c.describe(),
                            c.endpoint,
                            t.id,
                            o.n
                        ),
                        Err(e) => println!("  outstanding compensation {}: {e}", o.n),
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    0
}

/// `flow tx recover FILE`: initialises the program (for its endpoints) and
/// runs the outstanding compensations; exit code 1 when some still fail.
pub(super) fn recover(file: &Path, options: &RunOptions) -> i32 {
    let vm = match load_program(file, options, false) {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    vm.set_extension(settings(file, options.tx_log.clone()));
    if let Outcome::Failure(text) = runtime::run_init(vm.clone()) {
        eprint!("{text}");
        return 1;
    }
    let done = runtime::block_on_local(crate::stdlib::tx::recover(&vm, true));
    vm.flush();
    match done {
        Ok(Ok(list)) => {
            if list.is_empty() {
                println!("nothing to recover");
                return 0;
            }
            let mut code = 0;
            for r in &list {
                print!("{}", crate::stdlib::tx::describe_recovery(r));
                if r.compensations.iter().any(|c| c.2.is_some()) {
                    code = 1;
                }
            }
            code
        }
        Ok(Err(e)) | Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
