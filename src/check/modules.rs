//! Module loading: reads the root file and everything it imports (file
//! modules relative to the importing file, standard-library modules from the
//! embedded `stdlib/*.flow`), parses each once, detects import cycles and
//! orders the modules so that every module comes after the modules it
//! imports.

use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::{self, ImportTarget, ItemKind, Name};
use crate::syntax::parse_module;
use crate::syntax::span::{FileId, SourceMap, Span};
use rustc_hash::FxHashMap;
use std::path::{Component, Path, PathBuf};

/// The standard-library modules that exist, with their source text.
const STDLIB: &[(&str, &str)] = &[
    ("io", include_str!("../../stdlib/io.flow")),
    ("log", include_str!("../../stdlib/log.flow")),
    ("time", include_str!("../../stdlib/time.flow")),
    ("math", include_str!("../../stdlib/math.flow")),
    ("test", include_str!("../../stdlib/test.flow")),
    ("http", include_str!("../../stdlib/http.flow")),
    ("tx", include_str!("../../stdlib/tx.flow")),
];

/// Internal standard-library modules: loaded implicitly, never importable.
const INTERNAL: &[(&str, &str)] = &[("strand", include_str!("../../stdlib/strand.flow"))];

/// Standard-library modules of the specification that are not implemented yet.
const STDLIB_LATER: &[&str] = &[];

/// Whether a module's text may contain a `retry` or `timeout` statement
/// (a cheap over-approximation: then `time` is loaded implicitly).
fn may_use_resilience_statements(text: &str) -> bool {
    text.contains("retry") || text.contains("timeout")
}

/// The standard-library modules with their source text, in a fixed order.
pub(crate) fn stdlib_modules() -> impl Iterator<Item = (&'static str, &'static str)> {
    STDLIB.iter().copied()
}

/// Whether `name` is a standard-library module that can be imported.
pub(crate) fn is_stdlib_module(name: &str) -> bool {
    STDLIB.iter().any(|(n, _)| *n == name)
}

/// Whether `name` is a standard-library module of the specification that is
/// not available yet.
pub(crate) fn is_later_stdlib_module(name: &str) -> bool {
    STDLIB_LATER.contains(&name)
}

/// What kind of module a loaded module is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModKind {
    /// The file given to the checker.
    Root,
    /// A file module imported by path.
    File,
    /// A standard-library module.
    Stdlib,
}

/// One import of a module, resolved.
#[derive(Debug, Clone)]
pub(crate) struct ImportEdge {
    /// The name it is used by (`io`, or the alias of a file module).
    pub alias: Name,
    /// The position of the alias (or module name).
    pub span: Span,
    /// The imported module (index into [`Loaded::modules`]), or `None` if it
    /// could not be loaded (already reported).
    pub module: Option<usize>,
}

/// A parsed module.
#[derive(Debug)]
pub(crate) struct LoadedModule {
    /// Its file.
    pub file: FileId,
    /// Its syntax tree.
    pub ast: ast::Module,
    /// Root, file or stdlib.
    pub kind: ModKind,
    /// The prefix used for qualified names in messages and stack traces
    /// (`io`, the alias of a file module; empty for the root).
    pub prefix: Name,
    /// Its imports, in source order.
    pub imports: Vec<ImportEdge>,
}

/// All modules of a program, imported modules before their importers (the
/// root is last).
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The modules in dependency order.
    pub modules: Vec<LoadedModule>,
    /// Read and parse diagnostics.
    pub diags: Vec<Diagnostic>,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum ModKey {
    Root,
    Path(PathBuf),
    Std(&'static str),
    /// A module supplied by the embedding host.
    Host(String),
}

struct Loader<'s> {
    sources: &'s mut SourceMap,
    /// Modules supplied by the embedding host (name, source).
    extra: &'s [super::ExtraModule],
    diags: Vec<Diagnostic>,
    by_key: FxHashMap<ModKey, usize>,
    slots: Vec<Option<LoadedModule>>,
    stack: Vec<(ModKey, String)>,
    order: Vec<usize>,
}

/// Where the text of the root module comes from.
pub(crate) enum RootSource<'a> {
    /// Read this file.
    File(&'a Path),
    /// This text, with imports relative to the directory.
    Text {
        /// Display name.
        name: &'a str,
        /// The source.
        text: &'a str,
        /// Imports resolve relative to this directory.
        base_dir: &'a Path,
    },
}

/// Loads the root module and everything it imports.
pub(crate) fn load_program(root: RootSource<'_>, sources: &mut SourceMap) -> Loaded {
    load_program_with(root, sources, &[])
}

/// [`load_program`] with modules supplied by the embedding host: they are
/// imported by name like standard-library modules (and, like them, may
/// declare `@native` functions).
pub(crate) fn load_program_with(
    root: RootSource<'_>,
    sources: &mut SourceMap,
    extra: &[super::ExtraModule],
) -> Loaded {
    let mut l = Loader {
        sources,
        extra,
        diags: Vec::new(),
        by_key: FxHashMap::default(),
        slots: Vec::new(),
        stack: Vec::new(),
        order: Vec::new(),
    };
    match root {
        RootSource::File(path) => {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let key = match std::fs::canonicalize(path) {
                        Ok(p) => ModKey::Path(p),
                        Err(_) => ModKey::Root,
                    };
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    l.load(key, name, text, dir, ModKind::Root, "".into());
                }
                Err(e) => {
                    let file = l.sources.add(name.clone(), "");
                    l.diags.push(Diagnostic::new(
                        Code::Syntax,
                        Span::new(file, 0, 0),
                        format!("cannot read {name}: {e}"),
                    ));
                    return Loaded {
                        modules: Vec::new(),
                        diags: l.diags,
                    };
                }
            }
        }
        RootSource::Text {
            name,
            text,
            base_dir,
        } => {
            l.load(
                ModKey::Root,
                name.to_string(),
                text.to_string(),
                base_dir.to_path_buf(),
                ModKind::Root,
                "".into(),
            );
        }
    }
    // Renumber the modules in dependency (post-)order.
    let mut new_index = vec![usize::MAX; l.slots.len()];
    for (pos, &old) in l.order.iter().enumerate() {
        new_index[old] = pos;
    }
    let mut modules = Vec::with_capacity(l.order.len());
    for &old in &l.order {
        if let Some(mut m) = l.slots[old].take() {
            for imp in &mut m.imports {
                imp.module = imp
                    .module
                    .and_then(|i| new_index.get(i).copied())
                    .filter(|i| *i != usize::MAX);
            }
            modules.push(m);
        }
    }
    Loaded {
        modules,
        diags: l.diags,
    }
}

impl Loader<'_> {
    /// Parses one module and (recursively) its imports; returns its slot.
    fn load(
        &mut self,
        key: ModKey,
        name: String,
        text: String,
        dir: PathBuf,
        kind: ModKind,
        prefix: Name,
    ) -> usize {
        let file = self.sources.add(name.clone(), text.as_str());
        let (ast, parse_diags) = parse_module(&text, file);
        self.diags.extend(parse_diags);
        let slot = self.slots.len();
        self.slots.push(None);
        self.by_key.insert(key.clone(), slot);
        self.stack.push((key, name.clone()));
        let mut imports: Vec<ImportEdge> = Vec::new();
        for item in &ast.items {
            let ItemKind::Import(imp) = &item.kind else {
                continue;
            };
            if let Some(edge) = self.import(imp, item.span, &name, &dir) {
                if let Some(prev) = imports.iter().find(|e| e.alias == edge.alias) {
                    let prev_span = prev.span;
                    self.diags.push(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            edge.span,
                            format!("`{}` is imported twice", edge.alias),
                        )
                        .with_label(prev_span, "first imported here")
                        .with_help("remove one of the imports or give it another alias with `as`"),
                    );
                    continue;
                }
                imports.push(edge);
            }
        }
        if kind != ModKind::Stdlib && may_use_resilience_statements(&text) {
            self.load_implicit_time();
        }
        if kind != ModKind::Stdlib && text.contains("transaction") {
            // `transaction` statements are lowered to natives of `tx`
            // (`check::transaction`).
            self.load_unbound(STDLIB, "tx");
        }
        if kind != ModKind::Stdlib && super::concurrency::may_use_strands(&text) {
            self.load_internal("strand");
        }
        self.stack.pop();
        self.slots[slot] = Some(LoadedModule {
            file,
            ast,
            kind,
            prefix,
            imports,
        });
        self.order.push(slot);
        slot
    }

    /// Loads the `time` module without binding a name to it: the `retry`
    /// and `timeout` statements are lowered to calls of its natives
    /// (`check::resilience`).
    fn load_implicit_time(&mut self) {
        self.load_unbound(STDLIB, "time");
    }

    /// Loads an internal module (see [`INTERNAL`]) without binding a name
    /// to it: `start` and `wait` are lowered to calls of the `strand`
    /// natives (`check::concurrency`).
    fn load_internal(&mut self, name: &'static str) {
        self.load_unbound(INTERNAL, name);
    }

    /// Loads the module `name` of `table` once, without binding a name to it.
    fn load_unbound(&mut self, table: &[(&'static str, &'static str)], name: &'static str) {
        let key = ModKey::Std(name);
        if self.by_key.contains_key(&key) {
            return;
        }
        if let Some((sname, text)) = table.iter().find(|(n, _)| *n == name) {
            self.load(
                key,
                format!("<stdlib>/{sname}.flow"),
                text.to_string(),
                PathBuf::new(),
                ModKind::Stdlib,
                (*sname).into(),
            );
        }
    }

    fn import(
        &mut self,
        imp: &ast::Import,
        item_span: Span,
        importer: &str,
        dir: &Path,
    ) -> Option<ImportEdge> {
        match &imp.target {
            ImportTarget::Stdlib(id) => {
                let alias = imp.alias.as_ref().unwrap_or(id);
                let found = STDLIB.iter().find(|(n, _)| **n == *id.name);
                if found.is_none() {
                    if let Some(m) = self.extra.iter().find(|m| *m.name == *id.name) {
                        let key = ModKey::Host(m.name.clone());
                        let module = match self.by_key.get(&key) {
                            Some(&s) => s,
                            None => {
                                let (name, text) = (m.name.clone(), m.text.clone());
                                self.load(
                                    key,
                                    format!("<host>/{name}.flow"),
                                    text,
                                    PathBuf::new(),
                                    ModKind::Stdlib,
                                    name.as_str().into(),
                                )
                            }
                        };
                        return Some(ImportEdge {
                            alias: alias.name.clone(),
                            span: alias.span,
                            module: Some(module),
                        });
                    }
                }
                let Some((sname, text)) = found else {
                    let d = if is_later_stdlib_module(&id.name) {
                        Diagnostic::new(
                            Code::UnknownModule,
                            id.span,
                            format!(
                                "the standard library module `{}` is not available yet",
                                id.name
                            ),
                        )
                        .with_help("available modules: io, log, time, math, test")
                    } else {
                        Diagnostic::new(
                            Code::UnknownModule,
                            id.span,
                            format!("there is no standard library module `{}`", id.name),
                        )
                        .with_help(
                            "available modules: io, log, time, math, test; import a file module with `import \"./file.flow\" as name;`",
                        )
                    };
                    self.diags.push(d);
                    return Some(ImportEdge {
                        alias: alias.name.clone(),
                        span: alias.span,
                        module: None,
                    });
                };
                let key = ModKey::Std(sname);
                let module = match self.by_key.get(&key) {
                    Some(&s) => s,
                    None => self.load(
                        key,
                        format!("<stdlib>/{sname}.flow"),
                        text.to_string(),
                        PathBuf::new(),
                        ModKind::Stdlib,
                        (*sname).into(),
                    ),
                };
                Some(ImportEdge {
                    alias: alias.name.clone(),
                    span: alias.span,
                    module: Some(module),
                })
            }
            ImportTarget::File(path, span) => {
                let Some(alias) = &imp.alias else {
                    self.diags.push(
                        Diagnostic::new(Code::UnknownModule, *span, "a file import needs an alias")
                            .with_help(format!("write `import \"{path}\" as name;`")),
                    );
                    return None;
                };
                let joined = dir.join(path);
                let display = display_path(importer, path);
                let canon = match std::fs::canonicalize(&joined) {
                    Ok(c) => c,
                    Err(e) => {
                        self.diags.push(Diagnostic::new(
                            Code::UnknownModule,
                            *span,
                            format!("cannot read {display}: {e}"),
                        ));
                        return Some(ImportEdge {
                            alias: alias.name.clone(),
                            span: alias.span,
                            module: None,
                        });
                    }
                };
                let key = ModKey::Path(canon);
                if let Some(pos) = self.stack.iter().position(|(k, _)| *k == key) {
                    let mut chain: Vec<String> =
                        self.stack[pos..].iter().map(|(_, n)| n.clone()).collect();
                    chain.push(self.stack[pos].1.clone());
                    self.diags.push(
                        Diagnostic::new(
                            Code::ImportCycle,
                            item_span,
                            format!("import cycle: {}", chain.join(" → ")),
                        )
                        .with_primary("this import closes the cycle")
                        .with_help("modules cannot import each other; move the shared declarations into a module that both import"),
                    );
                    return Some(ImportEdge {
                        alias: alias.name.clone(),
                        span: alias.span,
                        module: None,
                    });
                }
                if let Some(&s) = self.by_key.get(&key) {
                    return Some(ImportEdge {
                        alias: alias.name.clone(),
                        span: alias.span,
                        module: Some(s),
                    });
                }
                match std::fs::read_to_string(&joined) {
                    Ok(text) => {
                        let sub_dir = joined.parent().map(Path::to_path_buf).unwrap_or_default();
                        let s = self.load(
                            key,
                            display,
                            text,
                            sub_dir,
                            ModKind::File,
                            alias.name.clone(),
                        );
                        Some(ImportEdge {
                            alias: alias.name.clone(),
                            span: alias.span,
                            module: Some(s),
                        })
                    }
                    Err(e) => {
                        self.diags.push(Diagnostic::new(
                            Code::UnknownModule,
                            *span,
                            format!("cannot read {display}: {e}"),
                        ));
                        Some(ImportEdge {
                            alias: alias.name.clone(),
                            span: alias.span,
                            module: None,
                        })
                    }
                }
            }
        }
    }
}

/// The display name of an imported file: the importer's directory joined
/// with the relative path, with `.` components and `dir/..` pairs removed.
fn display_path(importer: &str, rel: &str) -> String {
    let base = Path::new(importer).parent().unwrap_or(Path::new(""));
    let joined = base.join(rel);
    let mut parts: Vec<Component<'_>> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(parts.last(), Some(Component::Normal(_))) {
                    parts.pop();
                } else {
                    parts.push(c);
                }
            }
            _ => parts.push(c),
        }
    }
    let p: PathBuf = parts.iter().collect();
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_paths_are_normalised() {
        assert_eq!(
            display_path("tests/a.flow", "./lib/b.flow"),
            "tests/lib/b.flow"
        );
        assert_eq!(
            display_path("tests/lib/b.flow", "../c.flow"),
            "tests/c.flow"
        );
        assert_eq!(display_path("a.flow", "./b.flow"), "b.flow");
    }
}
