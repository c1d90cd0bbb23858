//! Reading the `port=N` line a test service prints when it starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout};

/// Takes `child`'s stdout, reads its first line and parses `port=N` from it;
/// panics (failing the test) when the line is anything else. Returns the
/// port and the reader, for tests that read more of the output.
pub fn read_port_line(child: &mut Child) -> (u16, BufReader<ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the port line");
    let port = line
        .trim()
        .strip_prefix("port=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected port=N, got {line:?}"));
    (port, stdout)
}
