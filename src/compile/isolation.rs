//! Which module variables a program's services can reach (DECISIONS,
//! Services: one VM per core). A service may run on several VM instances
//! at once only when its resources cannot observe that each instance has
//! its own module variables: the code they can run (transitively) must
//! never assign a module variable and may read only `final` ones (`const`,
//! `final`, `configurable`, endpoints, listeners). The runtime then copies
//! the values of those variables into each instance, and refuses (keeps
//! one instance) when a value is not immutable.

use super::op::Op;
use super::program::CompiledProgram;

/// The result of [`service_globals`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// The services only read these `final` module variables (sorted).
    Isolated(Vec<u32>),
    /// Why the services must share one instance.
    Shared(String),
}

/// Walks every function the services' resources can run (direct calls,
/// lambdas and function references they create, and every record field
/// default, which binding a request body may run) and collects the module
/// variables it reads.
pub fn service_globals(program: &CompiledProgram) -> Isolation {
    let mut seen = vec![false; program.functions.len()];
    let mut stack: Vec<u32> = Vec::new();
    for s in &program.services {
        for r in &s.resources {
            if r.transactional {
                return Isolation::Shared(format!(
                    "resource {} {} is transactional",
                    r.method, r.path
                ));
            }
            stack.push(r.func.0);
        }
    }
    stack.extend(program.record_defaults.iter().flatten().flatten());
    let mut reads = Vec::new();
    while let Some(f) = stack.pop() {
        let Some(done) = seen.get_mut(f as usize) else {
            continue;
        };
        if std::mem::replace(done, true) {
            continue;
        }
        let proto = &program.functions[f as usize];
        for op in &proto.code {
            match *op {
                Op::CallFunc { func, .. } | Op::Closure { func, .. } => stack.push(func),
                Op::StoreGlobal { g, .. } => {
                    return Isolation::Shared(format!(
                        "{} assigns module variable {}",
                        proto.name,
                        global_name(program, g)
                    ))
                }
                Op::LoadGlobal { g, .. } => {
                    if program.globals.get(g as usize).is_some_and(|i| i.is_final) {
                        reads.push(g);
                    } else {
                        return Isolation::Shared(format!(
                            "{} reads module variable {}",
                            proto.name,
                            global_name(program, g)
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    reads.sort_unstable();
    reads.dedup();
    Isolation::Isolated(reads)
}

fn global_name(program: &CompiledProgram, g: u32) -> &str {
    program.globals.get(g as usize).map_or("?", |i| &i.name)
}
