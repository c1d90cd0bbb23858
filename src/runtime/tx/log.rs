//! The durable transaction log (§12.1): one SQLite database in WAL mode
//! with `synchronous=FULL`, so a record is on disk when a write returns.
//!
//! Schema (version 1):
//!
//! - `tx(id, script, attempt, state, role, started_at, updated_at)`: one
//!   row per transaction that wrote anything. `state` is one of
//!   [`TxState`]; `role` is `local` (reserved for `coordinator` /
//!   `participant` of §12.2).
//! - `tx_record(tx, seq, kind, n, data, at)`: the append-only history of a
//!   transaction: `call` (a remote call about to be sent), `compensation`
//!   (registered; `n` its number, `data` the stored request), `decision`
//!   (`{"outcome": "commit"|"rollback", "reason": ...}`), `compensated` /
//!   `compensation-failed` (`n`, and the error). Two-phase commit adds
//!   kinds (`participant`, `prepared`, `vote`) and, if needed, a
//!   `tx_participant` table under a higher `user_version`, without
//!   changing these.
//!
//! Writes that belong together (a decision and the new state) are one
//! SQLite transaction.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The state of a logged transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Running (or the process died while it ran).
    Active,
    /// Committed: nothing is left to do.
    Committed,
    /// Rollback decided; compensations are running (or the process died
    /// while they ran).
    RollingBack,
    /// Every compensation completed.
    RolledBack,
    /// A two-phase-commit participant voted yes and waits for the outcome
    /// (§12.2; never rolled back by start-up recovery).
    Prepared,
    /// A coordinator decided commit and is telling its participants
    /// (§12.2; start-up recovery finishes it).
    Committing,
    /// Rolled back, but some compensations did not complete.
    Heuristic,
    /// A coordinator decided commit, but some participants answered with
    /// another outcome (§12.2 `mixed`). Nothing is left to retry: it stays
    /// listed for someone to look at, and recovery leaves it alone.
    Mixed,
}

impl TxState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TxState::Active => "active",
            TxState::Committed => "committed",
            TxState::RollingBack => "rolling-back",
            TxState::RolledBack => "rolled-back",
            TxState::Prepared => "prepared",
            TxState::Committing => "committing",
            TxState::Heuristic => "heuristic",
            TxState::Mixed => "mixed",
        }
    }

    fn from_name(s: &str) -> Option<TxState> {
        Some(match s {
            "active" => TxState::Active,
            "committed" => TxState::Committed,
            "rolling-back" => TxState::RollingBack,
            "rolled-back" => TxState::RolledBack,
            "prepared" => TxState::Prepared,
            "committing" => TxState::Committing,
            "heuristic" => TxState::Heuristic,
            "mixed" => TxState::Mixed,
            _ => return None,
        })
    }

    /// Whether the process died before the transaction finished (what
    /// `flow run` recovers by itself).
    pub fn is_unfinished(self) -> bool {
        matches!(self, TxState::Active | TxState::RollingBack)
    }
}

/// The kinds of history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A remote call inside the transaction, written before it is sent.
    Call,
    /// A compensation was registered.
    Compensation,
    /// The outcome was decided.
    Decision,
    /// A compensation completed.
    Compensated,
    /// A compensation failed after the endpoint's retries.
    CompensationFailed,
    /// (Coordinator) a participant joined: `{"url": BASE}`; the row's role
    /// becomes `coordinator`.
    Participant,
    /// (Participant) voted yes to prepare.
    Prepared,
}

impl RecordKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Call => "call",
            RecordKind::Compensation => "compensation",
            RecordKind::Decision => "decision",
            RecordKind::Compensated => "compensated",
            RecordKind::CompensationFailed => "compensation-failed",
            RecordKind::Participant => "participant",
            RecordKind::Prepared => "prepared",
        }
    }
}

/// The row of a transaction's first record.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// The script's identity.
    pub script: &'a str,
    /// The retry number.
    pub attempt: i64,
    /// The process running it.
    pub owner: &'a str,
    /// `local` or `participant` (a coordinator starts as `local`).
    pub role: &'a str,
}

/// One history record to append.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// What happened.
    pub kind: RecordKind,
    /// The compensation's number, for compensation records.
    pub n: Option<u32>,
    /// The record's data.
    pub data: &'a serde_json::Value,
}

/// A transaction as listed by `flow tx list`.
#[derive(Debug, Clone)]
pub struct TxSummary {
    /// Its id.
    pub id: String,
    /// The script that ran it.
    pub script: String,
    /// The retry number.
    pub attempt: i64,
    /// Its state.
    pub state: TxState,
    /// When it started (Unix ms).
    pub started_at: i64,
    /// The process that ran it.
    pub owner: String,
    /// Compensations registered.
    pub registered: u32,
    /// Compensations completed.
    pub completed: u32,
    /// Remote calls sent inside it.
    pub calls: u32,
}

/// A registered compensation that has not completed.
#[derive(Debug, Clone)]
pub struct Outstanding {
    /// Its number (1 for the first registered).
    pub n: u32,
    /// The stored request.
    pub data: serde_json::Value,
}

/// A failure of the log, with its path.
#[derive(Debug, Clone)]
pub struct LogError(pub String);

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An open transaction log.
pub struct TxLog {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tx (
    id TEXT PRIMARY KEY,
    script TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'local',
    owner TEXT NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tx_by_state ON tx(script, state);
CREATE TABLE IF NOT EXISTS tx_record (
    tx TEXT NOT NULL REFERENCES tx(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER,
    data TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (tx, seq)
);
PRAGMA user_version = 1;
";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl TxLog {
    /// Opens the log at `path`, creating it (and its folder) if needed.
    pub fn open(path: &Path) -> Result<TxLog, LogError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                LogError(format!(
                    "transaction log {}: cannot create {}: {e}",
                    path.display(),
                    dir.display()
                ))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| err(path, e))?;
        let log = TxLog {
            conn,
            path: path.to_path_buf(),
        };
        log.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| log.err(e))?;
        log.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| log.err(e))?;
        log.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| log.err(e))?;
        log.conn.execute_batch(SCHEMA).map_err(|e| log.err(e))?;
        Ok(log)
    }

    /// Opens the log at `path` if the file exists (never creates it).
    pub fn open_existing(path: &Path) -> Result<Option<TxLog>, LogError> {
        if !path.exists() {
            return Ok(None);
        }
        TxLog::open(path).map(Some)
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> LogError {
        err(&self.path, e)
    }

    /// Appends `record` to transaction `id` and, when `state` is given,
    /// sets its state, in one write. `start` creates the transaction's row
    /// first (with its first record).
    pub fn write(
        &mut self,
        id: &str,
        start: Option<Start<'_>>,
        record: Option<Record<'_>>,
        state: Option<TxState>,
    ) -> Result<(), LogError> {
        let path = self.path.clone();
        let e = |x| err(&path, x);
        let now = now_ms();
        let t = self.conn.transaction().map_err(e)?;
        if let Some(st) = start {
            t.prepare_cached(
                "INSERT OR IGNORE INTO tx (id, script, attempt, state, owner, started_at, updated_at, role) VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![id, st.script, st.attempt, st.owner, now, st.role]))
            .map_err(e)?;
        }
        if let Some(r) = record {
            t.prepare_cached(
                "INSERT INTO tx_record (tx, seq, kind, n, data, at) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tx_record WHERE tx = ?1), ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![id, r.kind.as_str(), r.n, r.data.to_string(), now]))
            .map_err(e)?;
            if r.kind == RecordKind::Participant {
                t.prepare_cached("UPDATE tx SET role = 'coordinator' WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id]))
                    .map_err(e)?;
            }
        }
        if let Some(s) = state {
            t.prepare_cached("UPDATE tx SET state = ?2, updated_at = ?3 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![id, s.as_str(), now]))
                .map_err(e)?;
        }
        t.commit().map_err(e)
    }

    /// The transactions of `script` (every script when `None`), oldest
    /// first; only those in `states` unless it is empty.
    pub fn list(
        &self,
        script: Option<&str>,
        states: &[TxState],
    ) -> Result<Vec<TxSummary>, LogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, script, attempt, state, started_at, owner,
                    (SELECT COUNT(*) FROM tx_record r WHERE r.tx = tx.id AND r.kind = 'compensation'),
                    (SELECT COUNT(DISTINCT n) FROM tx_record r WHERE r.tx = tx.id AND r.kind = 'compensated'),
                    (SELECT COUNT(*) FROM tx_record r WHERE r.tx = tx.id AND r.kind = 'call')
                 FROM tx WHERE (?1 IS NULL OR script = ?1) ORDER BY started_at, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![script], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, u32>(6)?,
                    r.get::<_, u32>(7)?,
                    r.get::<_, u32>(8)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, script, attempt, state, started_at, owner, registered, completed, calls) =
                row.map_err(|e| self.err(e))?;
            let Some(state) = TxState::from_name(&state) else {
                continue;
            };
            if !states.is_empty() && !states.contains(&state) {
                continue;
            }
            out.push(TxSummary {
                id,
                script,
                attempt,
                state,
                started_at,
                owner,
                registered,
                completed,
                calls,
            });
        }
        Ok(out)
    }

    /// The compensations of `id` registered but not completed, last
    /// registered first (the order they run in).
    pub fn outstanding(&self, id: &str) -> Result<Vec<Outstanding>, LogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT n, data FROM tx_record c WHERE c.tx = ?1 AND c.kind = 'compensation'
                   AND NOT EXISTS (SELECT 1 FROM tx_record d WHERE d.tx = c.tx AND d.kind = 'compensated' AND d.n = c.n)
                 ORDER BY n DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (n, data) = row.map_err(|e| self.err(e))?;
            let data = serde_json::from_str(&data).map_err(|e| {
                LogError(format!(
                    "transaction log {}: compensation {n} of {id} is not valid JSON: {e}",
                    self.path.display()
                ))
            })?;
            out.push(Outstanding { n, data });
        }
        Ok(out)
    }

    /// The data of `id`'s records of `kind`, oldest first.
    pub fn records(&self, id: &str, kind: RecordKind) -> Result<Vec<serde_json::Value>, LogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM tx_record WHERE tx = ?1 AND kind = ?2 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id, kind.as_str()], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.err(e))?;
            out.push(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
        }
        Ok(out)
    }

    /// The state of transaction `id`, if it is in the log.
    pub fn state(&self, id: &str) -> Result<Option<TxState>, LogError> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT state FROM tx WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(s.as_deref().and_then(TxState::from_name))
    }
}

fn err(path: &Path, e: rusqlite::Error) -> LogError {
    LogError(format!("transaction log {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/tmp-tx-log-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub/transactions.db")
    }

    #[test]
    fn outstanding_compensations_come_last_registered_first() {
        let path = scratch("outstanding");
        let mut log = TxLog::open(&path).expect("open");
        let c = |n: u32| json!({ "n": n });
        for n in 1..=3 {
            let data = c(n);
            let start = (n == 1).then_some(Start {
                script: "s.flow",
                attempt: 0,
                owner: "test",
                role: "local",
            });
            let rec = Record {
                kind: RecordKind::Compensation,
                n: Some(n),
                data: &data,
            };
            log.write("t1", start, Some(rec), None).expect("write");
        }
        let done = json!({});
        let rec = Record {
            kind: RecordKind::Compensated,
            n: Some(3),
            data: &done,
        };
        log.write("t1", None, Some(rec), Some(TxState::RollingBack))
            .expect("write");
        let out: Vec<u32> = log
            .outstanding("t1")
            .expect("read")
            .iter()
            .map(|o| o.n)
            .collect();
        assert_eq!(out, vec![2, 1]);
        assert_eq!(log.state("t1").expect("state"), Some(TxState::RollingBack));
        let listed = log.list(Some("s.flow"), &[]).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].registered, listed[0].completed), (3, 1));
        assert!(log.list(Some("other.flow"), &[]).expect("list").is_empty());
        drop(log);
        // Reopening sees the same records.
        let log = TxLog::open_existing(&path).expect("open").expect("exists");
        assert_eq!(log.outstanding("t1").expect("read").len(), 2);
    }

    #[test]
    fn a_missing_log_is_not_created_by_open_existing() {
        let path = scratch("missing");
        assert!(TxLog::open_existing(&path).expect("open").is_none());
        assert!(!path.exists());
    }
}
