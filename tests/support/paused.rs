//! Runs a Flow program's `main` in-process on the current (paused-clock)
//! tokio runtime, capturing what it prints and how much virtual time it took.
#![allow(dead_code)]

use flow::check::check_source;
use flow::compile::compile;
use flow::syntax::SourceMap;
use flow::vm::drive;
use flow::vm::interp::Strand;
use flow::vm::machine::{HostIo, Limits, Vm};
use flow::vm::value::Value;
use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One millisecond.
pub const MS: Duration = Duration::from_millis(1);

/// Standard output captured in memory.
#[derive(Clone, Default)]
pub struct Captured(pub Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `main` of `source` in a `LocalSet` on the current (paused-clock)
/// runtime; returns what it printed, whether `main` returned normally, and
/// the virtual time `main` took.
pub async fn run(source: &str) -> (String, bool, Duration) {
    let mut sources = SourceMap::new();
    let checked = check_source("main.flow", source, Path::new("."), &mut sources);
    let Some(program) = checked.program else {
        panic!("check failed: {:#?}", checked.diagnostics);
    };
    let compiled = Arc::new(compile(program, Arc::new(sources)));
    let out = Captured::default();
    let io = HostIo {
        stdout: Box::new(out.clone()),
        stderr: Box::new(std::io::sink()),
    };
    let vm = Vm::new(
        compiled.clone(),
        &flow::stdlib::resolve,
        io,
        Limits::default(),
    )
    .expect("instantiate");
    let local = tokio::task::LocalSet::new();
    let (ok, elapsed) = local
        .run_until(async {
            drive(Strand::new(vm.clone(), compiled.init, Vec::new()))
                .await
                .expect("initialiser");
            let main = compiled.main.expect("main");
            let start = Instant::now();
            let result = drive(Strand::new(vm.clone(), main, Vec::new())).await;
            (matches!(result, Ok(Value::Nil)), start.elapsed())
        })
        .await;
    // Like `runtime::run_main`: strands still running are dropped.
    drop(local);
    vm.flush();
    let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
    (text, ok, elapsed)
}
