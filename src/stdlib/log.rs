//! `log`: logfmt lines on standard error.

use super::{arg, ready, str_arg};
use crate::vm::format::to_display_string;
use crate::vm::machine::{NativeFn, NativeResult, Vm};
use crate::vm::value::Value;
use std::rc::Rc;

pub(super) fn resolve(member: &str) -> Option<NativeFn> {
    Some(match member {
        "debug" => debug,
        "info" => info,
        "warn" => warn,
        "error" => error,
        _ => return None,
    })
}

/// Parses a `--log-level` name into the threshold used by [`Vm::log_level`].
pub fn level_from_name(name: &str) -> Option<u8> {
    Some(match name {
        "debug" => 0,
        "info" => 1,
        "warn" => 2,
        "error" => 3,
        _ => return None,
    })
}

fn debug(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    emit(vm, 0, "debug", args)
}
fn info(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    emit(vm, 1, "info", args)
}
fn warn(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    emit(vm, 2, "warn", args)
}
fn error(vm: &Rc<Vm>, args: &[Value]) -> NativeResult {
    emit(vm, 3, "error", args)
}

/// Quotes a logfmt value when it is empty or contains spaces, `=` or quotes.
fn logfmt_value(s: &str) -> String {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '=' || c == '"') {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

fn emit(vm: &Rc<Vm>, level: u8, name: &str, args: &[Value]) -> NativeResult {
    if level < vm.log_level.get() {
        return ready(Ok(Value::Nil));
    }
    let msg = match str_arg(args, 0) {
        Ok(m) => m,
        Err(p) => return ready(Err(p)),
    };
    let mut line = format!("time={} level={name} msg={:?}", timestamp(), msg);
    if let Value::Map(fields) = arg(args, 1) {
        for (k, v) in fields.borrow().iter() {
            let text = match v {
                Value::Str(s) => s.to_string(),
                other => to_display_string(other, &vm.program.types),
            };
            line.push_str(&format!(" {k}={}", logfmt_value(&text)));
        }
    }
    line.push('\n');
    vm.write_stderr(&line);
    ready(Ok(Value::Nil))
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp_of(now.as_millis().min(i64::MAX as u128) as i64)
}

/// RFC 3339 UTC timestamp with milliseconds of a Unix time in ms.
pub fn timestamp_of(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_454), (2026, 1, 1));
    }
}
