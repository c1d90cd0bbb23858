//! Configurables (§5.4): finding each configurable's value before the
//! module initialiser runs.
//!
//! Values are looked up in this order: `-C name=value` on the command line
//! (the last one wins when a name is given twice), the environment variable
//! `FLOW_CONFIG_name`, the top-level key `name` of the TOML file given by
//! `--config` (else `Config.toml` in the current directory, if it exists),
//! then the declared default. Configurables of imported modules are looked
//! up by their plain name too.
//!
//! Protocol with the initialiser (see [`crate::check::tir::Configurable`]):
//! [`apply`] stores the supplied values in the configurables' globals; the
//! initialiser assigns a default only to a global that still holds `()`.
//!
//! Text (command line, environment, TOML strings) is parsed by the declared
//! type: `int` and `float` as numbers, `boolean` as `true`/`false`,
//! `string` as is, `duration` as a duration literal (`250ms`, `1.5s`), and
//! `string[]`/`int[]` as comma-separated items (trimmed; an empty text is an
//! empty array). In the TOML file a value of the matching TOML type is taken
//! directly (an integer also for a `float`; an array for `string[]`/`int[]`).

use crate::check::tir::{ConfigKind, Configurable};
use crate::syntax::lexer::parse_duration;
use crate::vm::machine::Vm;
use crate::vm::value::Value;
use std::path::{Path, PathBuf};

/// The file read when no `--config` is given (in the current directory).
pub const DEFAULT_FILE: &str = "Config.toml";

/// Where configurable values come from, besides the environment.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `-C name=value` assignments, in command-line order.
    pub assignments: Vec<(String, String)>,
    /// `--config FILE`; `None` means `Config.toml` in the current directory
    /// when that file exists.
    pub file: Option<PathBuf>,
}

/// Why configurables could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A mistake on the command line (exit code 2): a malformed or unknown
    /// `-C`, a `--config` file that cannot be read.
    Usage(String),
    /// A missing required value or a value that does not parse (exit code 1).
    Invalid(String),
}

impl ConfigError {
    /// The process exit code (§1.2).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Usage(_) => 2,
            ConfigError::Invalid(_) => 1,
        }
    }

    /// The message, without the `error: ` prefix.
    pub fn message(&self) -> &str {
        match self {
            ConfigError::Usage(m) | ConfigError::Invalid(m) => m,
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}", self.message())
    }
}

/// A resolved value, independent of any VM instance.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `boolean`.
    Boolean(bool),
    /// A `string`.
    String(String),
    /// A `duration`, in nanoseconds.
    Duration(i64),
    /// A `string[]`.
    StringArray(Vec<String>),
    /// An `int[]`.
    IntArray(Vec<i64>),
}

impl ConfigValue {
    /// The value as a Flow value.
    pub fn to_value(&self) -> Value {
        match self {
            ConfigValue::Int(v) => Value::Int(*v),
            ConfigValue::Float(v) => Value::Float(*v),
            ConfigValue::Boolean(v) => Value::Bool(*v),
            ConfigValue::String(s) => Value::str(s.as_str()),
            ConfigValue::Duration(v) => Value::Duration(*v),
            ConfigValue::StringArray(xs) => {
                Value::array(xs.iter().map(|s| Value::str(s.as_str())).collect())
            }
            ConfigValue::IntArray(xs) => Value::array(xs.iter().map(|v| Value::Int(*v)).collect()),
        }
    }
}

/// Splits a `-C` argument `name=value` (the value may contain `=`).
pub fn parse_assignment(arg: &str) -> Result<(String, String), ConfigError> {
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(ConfigError::Usage(format!(
            "`-C {arg}` must have the form -C name=value"
        ))),
    }
}

/// Fails on a `-C` name that is not the name of any of `known`.
pub fn check_names<'a>(
    known: impl IntoIterator<Item = &'a str>,
    sources: &ConfigSources,
) -> Result<(), ConfigError> {
    let known: Vec<&str> = known.into_iter().collect();
    for (name, _) in &sources.assignments {
        if !known.contains(&name.as_str()) {
            let help = if known.is_empty() {
                "the program declares no configurables".to_string()
            } else {
                let mut names = known.clone();
                names.sort_unstable();
                names.dedup();
                format!("the program's configurables are: {}", names.join(", "))
            };
            return Err(ConfigError::Usage(format!(
                "unknown configurable `{name}` in -C {name}=...; {help}"
            )));
        }
    }
    Ok(())
}

/// Finds the values of the configurables that are supplied; a configurable
/// left out of the result takes its default. `env` looks up an environment
/// variable (`std::env::var(..).ok()` for the process environment).
pub fn resolve(
    configurables: &[Configurable],
    sources: &ConfigSources,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(usize, ConfigValue)>, ConfigError> {
    let mut file = FileSource::new(sources.file.as_deref());
    if sources.file.is_some() {
        file.table()?;
    }
    let mut out = Vec::new();
    for c in configurables {
        let name = &*c.name;
        let from_cli = sources
            .assignments
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v);
        let value = if let Some(text) = from_cli {
            Some(parse_text(c, text, "-C")?)
        } else if let Some(text) = env(&env_var(name)) {
            Some(parse_text(c, &text, &env_var(name))?)
        } else {
            let shown = file.shown();
            match file.table()?.and_then(|t| t.get(name)) {
                Some(v) => Some(from_toml(c, v, &shown)?),
                None => None,
            }
        };
        match value {
            Some(v) => out.push((c.global.0 as usize, v)),
            None if c.required => {
                return Err(ConfigError::Invalid(format!(
                    "configurable `{name}` is required: pass -C {name}=..., set {}, or add {name} to {}",
                    env_var(name),
                    file.shown()
                )))
            }
            None => {}
        }
    }
    Ok(out)
}

/// Stores resolved values in a VM instance's globals (before its
/// initialiser runs).
pub fn apply(vm: &Vm, values: &[(usize, ConfigValue)]) {
    let mut globals = vm.globals.borrow_mut();
    for (g, v) in values {
        if let Some(slot) = globals.get_mut(*g) {
            *slot = v.to_value();
        }
    }
}

/// Resolves the program's configurables from `sources` and the process
/// environment and stores them in `vm`.
pub fn configure(vm: &Vm, sources: &ConfigSources) -> Result<(), ConfigError> {
    let values = resolve(&vm.program.configurables, sources, &|k| {
        std::env::var(k).ok()
    })?;
    apply(vm, &values);
    Ok(())
}

/// The environment variable for a configurable.
fn env_var(name: &str) -> String {
    format!("FLOW_CONFIG_{name}")
}

/// The TOML file, read at most once and only when needed.
struct FileSource<'a> {
    explicit: Option<&'a Path>,
    loaded: Option<Option<toml::Table>>,
}

impl<'a> FileSource<'a> {
    fn new(explicit: Option<&'a Path>) -> Self {
        FileSource {
            explicit,
            loaded: None,
        }
    }

    /// The file's name for messages.
    fn shown(&self) -> String {
        match self.explicit {
            Some(p) => p.display().to_string(),
            None => DEFAULT_FILE.to_string(),
        }
    }

    /// The file's top-level table; `None` when the default file is absent.
    fn table(&mut self) -> Result<Option<&toml::Table>, ConfigError> {
        if self.loaded.is_none() {
            let loaded = self.load()?;
            self.loaded = Some(loaded);
        }
        Ok(self.loaded.as_ref().and_then(Option::as_ref))
    }

    fn load(&self) -> Result<Option<toml::Table>, ConfigError> {
        let path = self.explicit.unwrap_or(Path::new(DEFAULT_FILE));
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if self.explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) if self.explicit.is_some() => {
                return Err(ConfigError::Usage(format!(
                    "cannot read the configuration file {}: {e}",
                    self.shown()
                )))
            }
            Err(e) => {
                return Err(ConfigError::Invalid(format!(
                    "cannot read the configuration file {}: {e}",
                    self.shown()
                )))
            }
        };
        text.parse::<toml::Table>().map(Some).map_err(|e| {
            let why = e.to_string();
            ConfigError::Invalid(format!(
                "the configuration file {} is not valid TOML: {}",
                self.shown(),
                why.trim_end()
            ))
        })
    }
}

/// The error for a value that does not parse.
fn bad_value(c: &Configurable, shown: &str, from: &str, why: Option<String>) -> ConfigError {
    let mut msg = format!(
        "configurable `{}`: cannot parse {shown} (from {from}) as {}",
        c.name,
        c.kind.name()
    );
    if let Some(why) = why {
        msg.push_str(": ");
        msg.push_str(&why);
    }
    ConfigError::Invalid(msg)
}

/// Parses text (command line, environment, TOML string) by the declared type.
fn parse_text(c: &Configurable, text: &str, from: &str) -> Result<ConfigValue, ConfigError> {
    let quoted = format!("{text:?}");
    let scalar = |kind: ConfigKind, item: &str| -> Option<ConfigValue> {
        let t = item.trim();
        match kind {
            ConfigKind::Int | ConfigKind::IntArray => t.parse().ok().map(ConfigValue::Int),
            ConfigKind::Float => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(ConfigValue::Float),
            ConfigKind::Boolean => match t {
                "true" => Some(ConfigValue::Boolean(true)),
                "false" => Some(ConfigValue::Boolean(false)),
                _ => None,
            },
            ConfigKind::String | ConfigKind::StringArray => {
                Some(ConfigValue::String(item.to_string()))
            }
            ConfigKind::Duration => parse_duration(t).map(ConfigValue::Duration),
        }
    };
    match c.kind {
        ConfigKind::StringArray => Ok(ConfigValue::StringArray(
            split_items(text).map(|s| s.trim().to_string()).collect(),
        )),
        ConfigKind::IntArray => {
            let mut xs = Vec::new();
            for item in split_items(text) {
                match scalar(ConfigKind::Int, item) {
                    Some(ConfigValue::Int(v)) => xs.push(v),
                    _ => {
                        let why = format!("{:?} is not an int", item.trim());
                        return Err(bad_value(c, &quoted, from, Some(why)));
                    }
                }
            }
            Ok(ConfigValue::IntArray(xs))
        }
        kind => scalar(kind, text).ok_or_else(|| bad_value(c, &quoted, from, None)),
    }
}

/// The comma-separated items of an array text; none for an empty text.
fn split_items(text: &str) -> impl Iterator<Item = &str> {
    let empty = text.trim().is_empty();
    text.split(',').filter(move |_| !empty)
}

/// Converts a TOML value by the declared type.
fn from_toml(c: &Configurable, v: &toml::Value, file: &str) -> Result<ConfigValue, ConfigError> {
    use toml::Value as T;
    let bad = || bad_value(c, &describe_toml(v), file, None);
    match (c.kind, v) {
        (_, T::String(s)) => parse_text(c, s, file),
        (ConfigKind::Int, T::Integer(i)) => Ok(ConfigValue::Int(*i)),
        (ConfigKind::Float, T::Integer(i)) => Ok(ConfigValue::Float(*i as f64)),
        (ConfigKind::Float, T::Float(f)) if f.is_finite() => Ok(ConfigValue::Float(*f)),
        (ConfigKind::Boolean, T::Boolean(b)) => Ok(ConfigValue::Boolean(*b)),
        (ConfigKind::StringArray, T::Array(items)) => {
            let mut xs = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    T::String(s) => xs.push(s.clone()),
                    other => {
                        let why = format!("{} is not a string", describe_toml(other));
                        return Err(bad_value(c, "an array", file, Some(why)));
                    }
                }
            }
            Ok(ConfigValue::StringArray(xs))
        }
        (ConfigKind::IntArray, T::Array(items)) => {
            let mut xs = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    T::Integer(i) => xs.push(*i),
                    T::String(s) if s.trim().parse::<i64>().is_ok() => {
                        xs.extend(s.trim().parse::<i64>().ok());
                    }
                    other => {
                        let why = format!("{} is not an int", describe_toml(other));
                        return Err(bad_value(c, "an array", file, Some(why)));
                    }
                }
            }
            Ok(ConfigValue::IntArray(xs))
        }
        _ => Err(bad()),
    }
}

/// A short rendering of a TOML value for messages.
fn describe_toml(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tir::GlobalId;

    fn cfg(name: &str, kind: ConfigKind, required: bool) -> Configurable {
        Configurable {
            name: name.into(),
            global: GlobalId(0),
            kind,
            required,
        }
    }

    fn text(kind: ConfigKind, t: &str) -> Result<ConfigValue, ConfigError> {
        parse_text(&cfg("x", kind, false), t, "-C")
    }

    #[test]
    fn text_is_parsed_by_type() {
        use ConfigKind as K;
        assert_eq!(text(K::Int, " 42 "), Ok(ConfigValue::Int(42)));
        assert_eq!(text(K::Int, "-7"), Ok(ConfigValue::Int(-7)));
        assert_eq!(text(K::Float, "2.5"), Ok(ConfigValue::Float(2.5)));
        assert_eq!(text(K::Float, "3"), Ok(ConfigValue::Float(3.0)));
        assert_eq!(text(K::Boolean, "true"), Ok(ConfigValue::Boolean(true)));
        assert_eq!(
            text(K::String, " a,b "),
            Ok(ConfigValue::String(" a,b ".into()))
        );
        assert_eq!(
            text(K::Duration, "250ms"),
            Ok(ConfigValue::Duration(250_000_000))
        );
        assert_eq!(
            text(K::StringArray, "a, b,c"),
            Ok(ConfigValue::StringArray(vec![
                "a".into(),
                "b".into(),
                "c".into()
            ]))
        );
        assert_eq!(
            text(K::StringArray, ""),
            Ok(ConfigValue::StringArray(vec![]))
        );
        assert_eq!(
            text(K::IntArray, "1, 2,3"),
            Ok(ConfigValue::IntArray(vec![1, 2, 3]))
        );
        for (kind, bad) in [
            (K::Int, "abc"),
            (K::Int, "1.5"),
            (K::Int, "99999999999999999999"),
            (K::Float, "x"),
            (K::Float, "inf"),
            (K::Boolean, "yes"),
            (K::Duration, "5"),
            (K::Duration, "-1s"),
            (K::IntArray, "1,,2"),
        ] {
            assert!(
                matches!(text(kind, bad), Err(ConfigError::Invalid(_))),
                "{kind:?} {bad}"
            );
        }
    }

    #[test]
    fn messages_name_the_configurable_and_the_source() {
        let c = cfg("port", ConfigKind::Int, false);
        let e = parse_text(&c, "abc", "-C").unwrap_err();
        assert_eq!(
            e.message(),
            "configurable `port`: cannot parse \"abc\" (from -C) as int"
        );
        let sources = ConfigSources {
            assignments: vec![],
            file: Some(PathBuf::from("/nonexistent/flow-config-test-dir/none.toml")),
        };
        let e = resolve(&[c], &sources, &|_| None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let dir = std::env::temp_dir().join(format!("flow-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("c.toml");
        std::fs::write(&file, "other = 1\n").expect("write");
        let key = cfg("apiKey", ConfigKind::String, true);
        let sources = ConfigSources {
            assignments: vec![],
            file: Some(file.clone()),
        };
        let e = resolve(&[key], &sources, &|_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "error: configurable `apiKey` is required: pass -C apiKey=..., set FLOW_CONFIG_apiKey, or add apiKey to {}",
                file.display()
            )
        );
        assert_eq!(e.exit_code(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn toml_values_are_converted() {
        use ConfigKind as K;
        let table: toml::Table =
            "i = 3\nf = 2\ns = \"x\"\nd = \"1.5s\"\nsa = [\"a\", \"b\"]\nia = [1, 2]\nbad = [1, \"a\"]\nb = true\nistr = \"5\"\n"
                .parse()
                .expect("valid TOML");
        let get = |k: &str, kind| from_toml(&cfg(k, kind, false), &table[k], "Config.toml");
        assert_eq!(get("i", K::Int), Ok(ConfigValue::Int(3)));
        assert_eq!(get("f", K::Float), Ok(ConfigValue::Float(2.0)));
        assert_eq!(get("s", K::String), Ok(ConfigValue::String("x".into())));
        assert_eq!(
            get("d", K::Duration),
            Ok(ConfigValue::Duration(1_500_000_000))
        );
        assert_eq!(get("b", K::Boolean), Ok(ConfigValue::Boolean(true)));
        assert_eq!(get("istr", K::Int), Ok(ConfigValue::Int(5)));
        assert_eq!(
            get("sa", K::StringArray),
            Ok(ConfigValue::StringArray(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            get("ia", K::IntArray),
            Ok(ConfigValue::IntArray(vec![1, 2]))
        );
        assert!(get("i", K::String).is_err());
        assert!(get("bad", K::IntArray).is_err());
        assert!(get("b", K::Int).is_err());
    }

    /// Output written by a VM instance (shared with the test).
    #[derive(Clone, Default)]
    struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Checks, compiles and runs `text`, applying `values` by name first.
    fn run(text: &str, values: &[(&str, ConfigValue)]) -> (String, crate::runtime::Outcome) {
        use crate::vm::machine::{HostIo, Limits};
        use std::sync::Arc;
        let mut sources = crate::syntax::SourceMap::new();
        let checked = crate::check::check_source("t.flow", text, Path::new("."), &mut sources);
        let program = checked.program.expect("the program checks");
        let program = crate::compile::compile(program, Arc::new(sources));
        let resolved: Vec<(usize, ConfigValue)> = values
            .iter()
            .filter_map(|(n, v)| {
                let c = program.configurables.iter().find(|c| &*c.name == *n)?;
                Some((c.global.0 as usize, v.clone()))
            })
            .collect();
        let out = Sink::default();
        let io = HostIo {
            stdout: Box::new(out.clone()),
            stderr: Box::new(Sink::default()),
        };
        let vm = crate::runtime::instantiate(
            Arc::new(program),
            &crate::stdlib::resolve,
            io,
            Limits::default(),
        )
        .expect("instantiate");
        apply(&vm, &resolved);
        let outcome = crate::runtime::run_main(vm, Vec::new());
        let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
        (text, outcome)
    }

    #[test]
    fn the_initialiser_keeps_supplied_values_and_fills_defaults() {
        let program = "import io;
configurable int a = 1;
configurable int b = a + 1;
final int c = b * 10;
configurable string k = ?;
public function main() { io:println(`${a} ${b} ${c} ${k}`); }
";
        let (out, outcome) = run(program, &[("k", ConfigValue::String("x".into()))]);
        assert_eq!(out, "1 2 20 x\n", "{outcome:?}");
        let (out, _) = run(
            program,
            &[
                ("b", ConfigValue::Int(5)),
                ("k", ConfigValue::String("y".into())),
            ],
        );
        assert_eq!(out, "1 5 50 y\n");
        // A host that does not resolve a required configurable gets a
        // failure before main instead of an ill-typed `()`.
        let (out, outcome) = run(program, &[]);
        assert_eq!(out, "");
        match outcome {
            crate::runtime::Outcome::Failure(text) => assert!(
                text.starts_with("error: configurable `k` is required"),
                "{text}"
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn assignments_and_names() {
        assert_eq!(
            parse_assignment("url=http://x/?a=b"),
            Ok(("url".into(), "http://x/?a=b".into()))
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=v").is_err());
        let sources = ConfigSources {
            assignments: vec![("port".into(), "1".into())],
            file: None,
        };
        assert!(check_names(["port"], &sources).is_ok());
        assert_eq!(
            check_names(["host"], &sources).map_err(|e| e.exit_code()),
            Err(2)
        );
    }
}
