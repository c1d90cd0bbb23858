//! A VM instance: one loaded program on one thread, with its globals,
//! materialised constants, bound natives and host I/O.

use super::value::{Panic, Str, Value, VmResult};
use crate::compile::program::{CompiledProgram, Const};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// A suspended native operation (a sleep, later a remote call).
pub type NativeFuture = Pin<Box<dyn Future<Output = VmResult<Value>>>>;

/// What a native function returns.
pub enum NativeResult {
    /// Finished with a value or a panic.
    Ready(VmResult<Value>),
    /// Must wait: the strand suspends until the future completes.
    Suspend(NativeFuture),
}

/// A native function: receives the VM and its arguments.
pub type NativeFn = fn(&Rc<Vm>, &[Value]) -> NativeResult;

/// Resolves a native's qualified name (`io:println`) to its implementation.
pub type NativeResolver = dyn Fn(&str) -> Option<NativeFn>;

/// A native function supplied by the embedding host: a closure.
pub type HostFn = Rc<dyn Fn(&Rc<Vm>, &[Value]) -> NativeResult>;

/// A bound native: a standard-library function or a host closure.
#[derive(Clone)]
pub enum Native {
    /// A standard-library native.
    Builtin(NativeFn),
    /// A host function (embedding API, §15.1).
    Host(HostFn),
}

impl Native {
    /// Calls the native.
    #[inline]
    pub fn call(&self, vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
        match self {
            Native::Builtin(f) => f(vm, args),
            Native::Host(f) => f(vm, args),
        }
    }
}

/// Limits applied to every strand of the instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum number of nested Flow calls.
    pub max_depth: usize,
    /// Maximum number of calls and loop iterations per strand (`None`: no limit).
    pub max_operations: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200_000,
            max_operations: None,
        }
    }
}

/// Where `io` writes.
pub struct HostIo {
    /// Standard output (buffered).
    pub stdout: Box<dyn Write>,
    /// Standard error.
    pub stderr: Box<dyn Write>,
}

impl HostIo {
    /// The process's stdout (buffered) and stderr.
    pub fn process() -> HostIo {
        HostIo {
            stdout: Box::new(std::io::BufWriter::with_capacity(
                1 << 16,
                std::io::stdout(),
            )),
            stderr: Box::new(std::io::stderr()),
        }
    }
}

/// A loaded program instance.
pub struct Vm {
    /// The compiled program.
    pub program: Arc<CompiledProgram>,
    /// Constants as values.
    pub consts: Vec<Value>,
    /// Module-level variables.
    pub globals: RefCell<Vec<Value>>,
    /// Bound natives, by the program's native index.
    pub natives: Vec<Native>,
    /// Host I/O, written only through [`Vm::write_stdout`] and
    /// [`Vm::write_stderr`] (so [`Vm::flush`] knows when there is something
    /// to flush).
    io: RefCell<HostIo>,
    /// Limits.
    pub limits: Limits,
    /// When the instance started (for `time:monotonic`).
    pub started: Instant,
    /// Log level threshold (0 debug, 1 info, 2 warn, 3 error).
    pub log_level: Cell<u8>,
    /// Whether anything was written since the last flush (so a strand
    /// suspending at every remote call does not lock the process's stdout
    /// and stderr each time for nothing).
    unflushed: Cell<bool>,
    /// Per-instance state of standard-library modules and the host (e.g. the
    /// `http` module's trace settings), one value per Rust type.
    extensions: RefCell<Vec<Rc<dyn Any>>>,
}

impl Vm {
    /// Loads a program, binding its natives; fails naming an unknown native.
    pub fn new(
        program: Arc<CompiledProgram>,
        resolve: &NativeResolver,
        io: HostIo,
        limits: Limits,
    ) -> Result<Rc<Vm>, String> {
        Vm::with_natives(
            program,
            &|name| resolve(name).map(Native::Builtin),
            io,
            limits,
        )
    }

    /// [`Vm::new`] with a resolver that may bind host closures.
    pub fn with_natives(
        program: Arc<CompiledProgram>,
        resolve: &dyn Fn(&str) -> Option<Native>,
        io: HostIo,
        limits: Limits,
    ) -> Result<Rc<Vm>, String> {
        program.verify()?;
        let consts = program
            .consts
            .iter()
            .map(|c| match c {
                Const::Int(v) => Value::Int(*v),
                Const::Float(v) => Value::Float(*v),
                Const::Duration(v) => Value::Duration(*v),
                Const::Str(s) => Value::Str(Str::from(&**s)),
                Const::Keys(_) => Value::Nil,
            })
            .collect();
        let mut natives = Vec::with_capacity(program.natives.len());
        for n in &program.natives {
            match resolve(&n.name) {
                Some(f) => natives.push(f),
                None => return Err(format!("no implementation for native function {}", n.name)),
            }
        }
        let globals = RefCell::new(vec![Value::Nil; program.globals.len()]);
        Ok(Rc::new(Vm {
            program,
            consts,
            globals,
            natives,
            io: RefCell::new(io),
            limits,
            started: Instant::now(),
            log_level: Cell::new(1),
            unflushed: Cell::new(false),
            extensions: RefCell::new(Vec::new()),
        }))
    }

    /// Stores `value` as this instance's state of type `T` (replacing any).
    pub fn set_extension<T: Any>(&self, value: T) {
        let mut ext = self.extensions.borrow_mut();
        ext.retain(|e| !e.is::<T>());
        ext.push(Rc::new(value));
    }

    /// This instance's state of type `T`, if set.
    pub fn extension<T: Any>(&self) -> Option<Rc<T>> {
        let ext = self.extensions.borrow();
        ext.iter().find_map(|e| e.clone().downcast::<T>().ok())
    }

    /// The keys of a key-list constant.
    pub fn keys(&self, k: u32) -> &[Arc<str>] {
        match self.program.consts.get(k as usize) {
            Some(Const::Keys(keys)) => keys,
            _ => &[],
        }
    }

    /// Writes text to stdout.
    pub fn write_stdout(&self, s: &str) -> VmResult<()> {
        self.unflushed.set(true);
        let mut io = self.io.borrow_mut();
        io.stdout
            .write_all(s.as_bytes())
            .map_err(|e| Panic::msg(format!("cannot write to standard output: {e}")))
    }

    /// Writes text to stderr (flushing stdout first to keep the order).
    pub fn write_stderr(&self, s: &str) {
        self.unflushed.set(true);
        let mut io = self.io.borrow_mut();
        let _ = io.stdout.flush();
        let _ = io.stderr.write_all(s.as_bytes());
    }

    /// Flushes what was written since the last flush, if anything.
    pub fn flush(&self) {
        if !self.unflushed.replace(false) {
            return;
        }
        let mut io = self.io.borrow_mut();
        let _ = io.stdout.flush();
        let _ = io.stderr.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer recording what reached it and how often it was flushed.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut r) = self.0.lock() {
                r.0.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            if let Ok(mut r) = self.0.lock() {
                r.1 += 1;
            }
            Ok(())
        }
    }

    impl Recorder {
        fn seen(&self) -> (String, usize) {
            let r = self.0.lock().map(|r| r.clone()).unwrap_or_default();
            (String::from_utf8_lossy(&r.0).into_owned(), r.1)
        }
    }

    fn vm_writing_to(out: &Recorder, err: &Recorder) -> Rc<Vm> {
        let mut sources = crate::syntax::span::SourceMap::new();
        let checked = crate::check::check_source(
            "main.flow",
            "public function main() {}",
            std::path::Path::new("."),
            &mut sources,
        );
        let program = checked.program.expect("an empty main checks");
        let compiled = crate::compile::compile(program, Arc::new(sources));
        let io = HostIo {
            stdout: Box::new(std::io::BufWriter::new(out.clone())),
            stderr: Box::new(err.clone()),
        };
        Vm::new(Arc::new(compiled), &|_| None, io, Limits::default()).expect("a VM")
    }

    #[test]
    fn flush_flushes_only_after_output() {
        let (out, err) = (Recorder::default(), Recorder::default());
        let vm = vm_writing_to(&out, &err);
        vm.flush();
        assert_eq!(out.seen(), (String::new(), 0), "nothing written, no flush");
        vm.write_stdout("a").expect("write");
        assert_eq!(out.seen().0, "", "still buffered");
        vm.flush();
        assert_eq!(out.seen(), ("a".to_string(), 1));
        vm.flush();
        assert_eq!(out.seen().1, 1, "flushed once per write burst");
        // Writing to stderr flushes stdout first (order), and counts as
        // output to flush (an embedder's stderr may be buffered).
        vm.write_stderr("e");
        assert_eq!(out.seen().1, 2);
        vm.flush();
        assert_eq!(err.seen(), ("e".to_string(), 2));
        vm.flush();
        assert_eq!((out.seen().1, err.seen().1), (3, 2));
    }
}
