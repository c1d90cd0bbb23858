//! `flow repl` (§14): an interactive session on a terminal (rustyline), or
//! a scripted one reading standard input when it is not a terminal.

mod editor;
mod input;
mod session;

use crate::vm::machine::HostIo;
use editor::{ContinueLine, FlowHelper, Names};
use input::{classify, needs_more, strip_continuations, Input};
use rustyline::ExternalPrinter;
pub use session::{Reply, Session, Settings};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

const HELP: &str = "\
Enter declarations (import, type, const, function, endpoint, configurable),
statements or expressions. An expression's value is shown with its type.
Incomplete input continues on the next line; an empty line submits it.

  :help            this text
  :type EXPR       the static type of an expression (not run)
  :load FILE       loads a file's declarations and variables
  :endpoints       each endpoint with its breaker state and statistics
  :reset           forgets everything entered so far
  :quit            leaves (so does Ctrl-D); Ctrl-C cancels a running input";

/// What to do after an input.
enum Next {
    Continue,
    Quit,
}

/// Runs the REPL; returns the exit code.
pub fn main(settings: Settings) -> i32 {
    if std::io::stdin().is_terminal() {
        interactive(settings)
    } else {
        match new_session(settings) {
            Ok(session) => piped(session),
            Err(code) => code,
        }
    }
}

/// A session in the current directory.
fn new_session(settings: Settings) -> Result<Session, i32> {
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Session::new(base_dir, settings).map_err(|e| {
        eprintln!("error: {e}");
        1
    })
}

/// Resolves when the user presses Ctrl-C (never, if signals are unavailable).
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Handles one complete input; prints its reply. Returns whether the
/// session goes on and whether the input failed.
fn handle(session: &mut Session, text: &str) -> (Next, bool) {
    let reply = match classify(text) {
        Input::Command(name, arg) => match name.as_str() {
            "help" | "h" | "?" => Reply::Text(HELP.to_string()),
            "type" | "t" => session.type_of(&arg),
            "load" | "l" if !arg.is_empty() => session.load(Path::new(&arg), ctrl_c()),
            "endpoints" => endpoints(session),
            "reset" => {
                session.reset();
                Reply::Silent
            }
            "quit" | "q" | "exit" => return (Next::Quit, false),
            _ => Reply::Problem(format!(
                "error: unknown command `:{name}{}` (try :help)",
                if arg.is_empty() {
                    "".into()
                } else {
                    format!(" {arg}")
                }
            )),
        },
        _ => session.eval(text, ctrl_c()),
    };
    let failed = matches!(reply, Reply::Problem(_));
    match reply {
        Reply::Silent => {}
        Reply::Text(t) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{t}");
            let _ = out.flush();
        }
        Reply::Problem(p) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", p.trim_end());
        }
    }
    (Next::Continue, failed)
}

/// `:endpoints`: every endpoint of the session with its state and statistics.
fn endpoints(session: &Session) -> Reply {
    let Some(vm) = session.vm() else {
        return Reply::Text("no endpoints".into());
    };
    let text = crate::stdlib::describe_endpoints(vm);
    if text.trim().is_empty() {
        Reply::Text("no endpoints".into())
    } else {
        Reply::Text(text.trim_end().to_string())
    }
}

/// Reads inputs from a non-terminal standard input: no prompts; each
/// complete input is evaluated as soon as it is read. Exits 1 when some
/// input failed.
fn piped(mut session: Session) -> i32 {
    let stdin = std::io::stdin();
    let mut buffer = String::new();
    let mut any_failed = false;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if needs_more(&buffer) {
            continue;
        }
        let text = std::mem::take(&mut buffer);
        let (next, failed) = handle(&mut session, &text);
        any_failed |= failed;
        if let Next::Quit = next {
            return i32::from(any_failed);
        }
    }
    if !buffer.trim().is_empty() {
        let (_, failed) = handle(&mut session, &buffer);
        any_failed |= failed;
    }
    i32::from(any_failed)
}

/// Where history is kept: `$FLOW_HISTORY`, else `~/.flow_history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOW_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".flow_history"))
}

/// What the editor thread read.
enum Read {
    /// A complete input.
    Line(String),
    /// Ctrl-D, or the terminal went away (with an error to show, if any).
    End(Option<String>),
}

/// Writes a REPL instance's `io` output through rustyline's external
/// printer, a line at a time, so output of strands running while the prompt
/// is shown does not corrupt the line being edited.
struct PrinterOut {
    printer: Arc<Mutex<Box<dyn ExternalPrinter + Send>>>,
    pending: Vec<u8>,
}

impl PrinterOut {
    fn emit(&mut self, upto: usize) {
        let text: Vec<u8> = self.pending.drain(..upto).collect();
        let mut printer = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = printer.print(String::from_utf8_lossy(&text).into_owned());
    }
}

impl Write for PrinterOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last_newline) = self.pending.iter().rposition(|b| *b == b'\n') {
            self.emit(last_newline + 1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.emit(n);
        }
        Ok(())
    }
}

/// The terminal session: a thread runs the line editor while this one runs
/// the session's runtime, so strands started by earlier inputs keep running
/// while the prompt is shown (their output goes through rustyline's
/// external printer).
fn interactive(settings: Settings) -> i32 {
    use rustyline::history::DefaultHistory;
    use rustyline::{Editor, EventHandler, KeyCode, KeyEvent, Modifiers};
    let names = Arc::new(Mutex::new(Names {
        session: Vec::new(),
        modules: crate::check::stdlib_module_names()
            .into_iter()
            .map(|m| (m.to_string(), crate::check::stdlib_members(m)))
            .collect(),
    }));
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)
        .map(|b| b.build());
    let mut editor: Editor<FlowHelper, DefaultHistory> = match config.and_then(Editor::with_config)
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(FlowHelper::new(names.clone())));
    for key in [
        KeyEvent(KeyCode::Enter, Modifiers::NONE),
        KeyEvent::ctrl('J'),
    ] {
        editor.bind_sequence(key, EventHandler::Conditional(Box::new(ContinueLine)));
    }
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let mut settings = settings;
    if let Ok(printer) = editor.create_external_printer() {
        let printer: Arc<Mutex<Box<dyn ExternalPrinter + Send>>> =
            Arc::new(Mutex::new(Box::new(printer)));
        settings.io = Some(Rc::new(move || HostIo {
            stdout: Box::new(PrinterOut {
                printer: printer.clone(),
                pending: Vec::new(),
            }),
            stderr: Box::new(std::io::stderr()),
        }));
    }
    let mut session = match new_session(settings) {
        Ok(s) => s,
        Err(code) => return code,
    };
    println!(
        "Flow {} — :help for help, Ctrl-D to leave",
        env!("CARGO_PKG_VERSION")
    );
    let (lines, mut inputs) = tokio::sync::mpsc::unbounded_channel::<Read>();
    // The editor waits for this before showing the next prompt.
    let (done, next_prompt) = std::sync::mpsc::channel::<()>();
    let editor_thread = std::thread::spawn(move || loop {
        let read = match editor.readline("flow> ") {
            Ok(line) => {
                if strip_continuations(&line).trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                if let Some(h) = &history {
                    let _ = editor.save_history(h);
                }
                Read::Line(line)
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => Read::End(None),
            Err(e) => Read::End(Some(e.to_string())),
        };
        let end = matches!(read, Read::End(_));
        if lines.send(read).is_err() || end || next_prompt.recv().is_err() {
            break;
        }
    });
    let mut code = 0;
    while let Some(read) = session.idle(inputs.recv()) {
        match read {
            Read::Line(line) => {
                let (next, _) = handle(&mut session, &strip_continuations(&line));
                names.lock().unwrap_or_else(|e| e.into_inner()).session = session.names();
                if let Next::Quit = next {
                    break;
                }
                if done.send(()).is_err() {
                    break;
                }
            }
            Read::End(error) => {
                if let Some(e) = error {
                    eprintln!("error: {e}");
                    code = 1;
                }
                break;
            }
        }
    }
    drop(done);
    drop(inputs);
    if editor_thread.join().is_err() {
        code = 1;
    }
    code
}
