//! Configurables (§5.4) end to end: runs the `flow` binary in a scratch
//! directory (under `target/tmp-config-tests/`) with `-C`, `FLOW_CONFIG_*`,
//! `Config.toml` and `--config`.

#[path = "support/scratch.rs"]
mod scratch;
use scratch::scratch_dir;
use std::path::PathBuf;
use std::process::Command;

/// A scratch directory holding `main.flow` (and whatever a test adds).
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str, program: &str) -> Scratch {
        let s = Scratch {
            dir: scratch_dir("config-tests", name),
        };
        s.write("main.flow", program);
        s
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).expect("write a scratch file");
    }

    /// Runs `flow ARGS...` in the directory with the given extra environment
    /// (every inherited `FLOW_CONFIG_*` variable is removed).
    fn flow(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flow"));
        cmd.args(args).current_dir(&self.dir);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FLOW_CONFIG_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the flow binary");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `flow run main.flow` with extra options before the file.
    fn run(&self, opts: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["run"];
        args.extend_from_slice(opts);
        args.push("main.flow");
        self.flow(&args, env)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        assert!(self.stderr.is_empty(), "unexpected stderr: {self:?}");
        &self.stdout
    }

    /// Fails unless the run stopped with `code`, printed nothing on stdout,
    /// and its stderr contains every one of `parts`.
    fn failed(&self, code: i32, parts: &[&str]) {
        assert_eq!(self.code, code, "exit code: {self:?}");
        assert!(self.stdout.is_empty(), "main must not run: {self:?}");
        for p in parts {
            assert!(self.stderr.contains(p), "stderr lacks {p:?}: {self:?}");
        }
    }
}

const ALL_TYPES: &str = r#"import io;

configurable int port = 8080;
configurable float ratio = 0.5;
configurable boolean verbose = false;
configurable string name = "flow";
configurable duration delay = 250ms;
configurable string[] hosts = ["a", "b"];
configurable int[] codes = [502, 503];

public function main() {
    io:println(`port=${port + 1}`);
    io:println(`ratio=${ratio * 2.0}`);
    io:println(`verbose=${!verbose}`);
    io:println(`name=${name.length()}:${name}`);
    io:println(`delay=${delay.milliseconds()}ms ${delay}`);
    io:println(`hosts=${hosts.length()} ${hosts}`);
    io:println(`codes=${codes.reduce((a, b) => a + b, 0)} ${codes}`);
}
"#;

#[test]
fn defaults_are_used_without_any_source() {
    let s = Scratch::new("defaults", ALL_TYPES);
    assert_eq!(
        s.run(&[], &[]).ok(),
        "port=8081\nratio=1.0\nverbose=true\nname=4:flow\ndelay=250ms 250ms\n\
         hosts=2 [\"a\",\"b\"]\ncodes=1005 [502,503]\n"
    );
}

#[test]
fn every_type_is_parsed_from_the_command_line() {
    let s = Scratch::new("cli-types", ALL_TYPES);
    let out = s.run(
        &[
            "-C",
            "port=9090",
            "-C",
            "ratio=1.25",
            "-C",
            "verbose=true",
            "-C",
            "name=a b=c, d",
            "-C",
            "delay=1.5s",
            "-C",
            "hosts=x, y ,z",
            "-C",
            "codes=1,2, 3",
        ],
        &[],
    );
    assert_eq!(
        out.ok(),
        "port=9091\nratio=2.5\nverbose=false\nname=8:a b=c, d\ndelay=1500ms 1.5s\n\
         hosts=3 [\"x\",\"y\",\"z\"]\ncodes=6 [1,2,3]\n"
    );
}

#[test]
fn every_type_is_parsed_from_the_environment() {
    let s = Scratch::new("env-types", ALL_TYPES);
    let out = s.run(
        &[],
        &[
            ("FLOW_CONFIG_port", "1"),
            ("FLOW_CONFIG_ratio", "3"),
            ("FLOW_CONFIG_verbose", "true"),
            ("FLOW_CONFIG_name", ""),
            ("FLOW_CONFIG_delay", "2m"),
            ("FLOW_CONFIG_hosts", ""),
            ("FLOW_CONFIG_codes", "-4"),
        ],
    );
    assert_eq!(
        out.ok(),
        "port=2\nratio=6.0\nverbose=false\nname=0:\ndelay=120000ms 2m\n\
         hosts=0 []\ncodes=-4 [-4]\n"
    );
}

#[test]
fn every_type_is_read_from_config_toml() {
    let s = Scratch::new("toml-types", ALL_TYPES);
    s.write(
        "Config.toml",
        r#"# top-level keys; unknown keys are ignored
port = 7
ratio = 4            # an integer is accepted for a float
verbose = true
name = "from the file"
delay = "100ms"
hosts = ["h1", "h2"]
codes = [1, 2, 3, 4]
unrelated = { x = 1 }
"#,
    );
    assert_eq!(
        s.run(&[], &[]).ok(),
        "port=8\nratio=8.0\nverbose=false\nname=13:from the file\ndelay=100ms 100ms\n\
         hosts=2 [\"h1\",\"h2\"]\ncodes=10 [1,2,3,4]\n"
    );
    // Strings that parse are accepted too.
    s.write(
        "Config.toml",
        "port = \"70\"\nverbose = \"true\"\nhosts = \"p, q\"\ncodes = \"5,6\"\n",
    );
    let out = s.run(&[], &[]);
    let text = out.ok();
    assert!(text.starts_with("port=71\n"), "{text}");
    assert!(text.contains("verbose=false\n"), "{text}");
    assert!(text.contains("hosts=2 [\"p\",\"q\"]\n"), "{text}");
    assert!(text.contains("codes=11 [5,6]\n"), "{text}");
}

#[test]
fn command_line_beats_environment_beats_file_beats_default() {
    let s = Scratch::new(
        "precedence",
        r#"import io;
configurable string a = "default";
configurable string b = "default";
configurable string c = "default";
configurable string d = "default";
public function main() {
    io:println(`${a} ${b} ${c} ${d}`);
}
"#,
    );
    s.write("Config.toml", "a = \"file\"\nb = \"file\"\nc = \"file\"\n");
    let env = [("FLOW_CONFIG_a", "env"), ("FLOW_CONFIG_b", "env")];
    assert_eq!(s.run(&["-C", "a=cli"], &env).ok(), "cli env file default\n");
    // The last `-C` for a name wins.
    assert_eq!(
        s.run(&["-C", "a=one", "-C", "a=two"], &[]).ok(),
        "two file file default\n"
    );
}

#[test]
fn config_option_replaces_config_toml() {
    let s = Scratch::new(
        "config-option",
        r#"import io;
configurable int port = 1;
configurable string host = "localhost";
public function main() {
    io:println(`${host}:${port}`);
}
"#,
    );
    s.write("Config.toml", "port = 2\nhost = \"from-default-file\"\n");
    s.write("other.toml", "port = 3\n");
    assert_eq!(s.run(&[], &[]).ok(), "from-default-file:2\n");
    assert_eq!(
        s.run(&["--config", "other.toml"], &[]).ok(),
        "localhost:3\n"
    );
    // A --config file that does not exist is a command-line mistake.
    s.run(&["--config", "missing.toml"], &[]).failed(
        2,
        &["error: cannot read the configuration file missing.toml"],
    );
    // Invalid TOML stops the program before main.
    s.write("other.toml", "port = \n");
    s.run(&["--config", "other.toml"], &[]).failed(
        1,
        &["error: the configuration file other.toml is not valid TOML"],
    );
}

const REQUIRED: &str = r#"import io;
configurable string apiKey = ?;
configurable int port = 8080;
public function main() {
    io:println("main ran");
    io:println(`${apiKey} ${port}`);
}
"#;

#[test]
fn a_missing_required_value_stops_before_main() {
    let s = Scratch::new("required", REQUIRED);
    s.run(&[], &[]).failed(
        1,
        &["error: configurable `apiKey` is required: pass -C apiKey=..., set FLOW_CONFIG_apiKey, or add apiKey to Config.toml"],
    );
    s.run(&["--config", "x.toml"], &[]).failed(2, &["x.toml"]);
    s.write("x.toml", "port = 1\n");
    s.run(&["--config", "x.toml"], &[]).failed(
        1,
        &["configurable `apiKey` is required", "add apiKey to x.toml"],
    );
    assert_eq!(
        s.run(&[], &[("FLOW_CONFIG_apiKey", "k")]).ok(),
        "main ran\nk 8080\n"
    );
}

#[test]
fn a_value_that_does_not_parse_stops_before_main() {
    let s = Scratch::new("unparsable", REQUIRED);
    s.run(&["-C", "apiKey=k", "-C", "port=abc"], &[]).failed(
        1,
        &["error: configurable `port`: cannot parse \"abc\" (from -C) as int"],
    );
    s.run(&["-C", "apiKey=k"], &[("FLOW_CONFIG_port", "8080x")])
        .failed(
            1,
            &["error: configurable `port`: cannot parse \"8080x\" (from FLOW_CONFIG_port) as int"],
        );
    s.write("Config.toml", "apiKey = \"k\"\nport = true\n");
    s.run(&[], &[]).failed(
        1,
        &["error: configurable `port`: cannot parse true (from Config.toml) as int"],
    );
    let d = Scratch::new(
        "unparsable-kinds",
        r#"import io;
configurable duration t = 1s;
configurable int[] ids = [];
configurable boolean b = false;
public function main() {
    io:println(`${t} ${ids} ${b}`);
}
"#,
    );
    d.run(&["-C", "t=5"], &[]).failed(
        1,
        &["configurable `t`: cannot parse \"5\" (from -C) as duration"],
    );
    d.run(&["-C", "ids=1,x"], &[]).failed(
        1,
        &["configurable `ids`: cannot parse \"1,x\" (from -C) as int[]: \"x\" is not an int"],
    );
    d.run(&["-C", "b=yes"], &[]).failed(
        1,
        &["configurable `b`: cannot parse \"yes\" (from -C) as boolean"],
    );
}

#[test]
fn a_configurable_of_another_type_does_not_compile() {
    let s = Scratch::new(
        "wrong-type",
        r#"configurable map<string> headers = {};
configurable float ratio = "high";
public function main() { }
"#,
    );
    let r = s.run(&[], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("flow::type-mismatch"), "{r:?}");
    assert!(
        r.stderr
            .contains("a configurable cannot have type `map<string>`"),
        "{r:?}"
    );
    assert!(r.stderr.contains("string[]"), "help lists the types: {r:?}");
    assert!(r.stderr.contains("main.flow:1:14"), "{r:?}");
    assert!(r.stderr.contains("main.flow:2:28"), "{r:?}");
}

#[test]
fn an_unknown_or_malformed_command_line_value_is_a_usage_error() {
    let s = Scratch::new("unknown", REQUIRED);
    s.run(&["-C", "apiKey=k", "-C", "prot=1"], &[])
        .failed(2, &["error: unknown configurable `prot`", "apiKey, port"]);
    s.run(&["-C", "apiKey"], &[])
        .failed(2, &["`-C apiKey` must have the form -C name=value"]);
}

#[test]
fn configurables_reach_test_blocks() {
    let s = Scratch::new(
        "tests",
        r#"import test;
configurable int port = 1;
configurable string key = ?;
test "configured" {
    test:assertEquals(port, 42);
    test:assertEquals(key, "k");
}
"#,
    );
    let r = s.flow(
        &["test", "-C", "port=42", "main.flow"],
        &[("FLOW_CONFIG_key", "k")],
    );
    assert_eq!(r.ok(), "ok   configured\n1 passed, 0 failed\n");
    let r = s.flow(&["test", "-C", "port=42", "main.flow"], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("configurable `key` is required"), "{r:?}");
    let r = s.flow(&["test", "-C", "nope=1", "main.flow"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn configurables_of_imported_modules_use_their_plain_name() {
    let s = Scratch::new(
        "modules",
        r#"import io;
import "./lib.flow" as lib;
configurable int port = 1;
public function main() {
    io:println(`${port} ${lib:url} ${lib:describe()}`);
}
"#,
    );
    s.write(
        "lib.flow",
        r#"public configurable string url = "http://default";
configurable int retries = 3;
public function describe() returns string {
    return `${url} x${retries}`;
}
"#,
    );
    assert_eq!(
        s.run(&["-C", "url=http://x", "-C", "retries=5"], &[]).ok(),
        "1 http://x http://x x5\n"
    );
}
