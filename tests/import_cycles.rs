//! No module of any crate imports, directly or through others, a module that imports it back:
//! each crate's files form layers, so a file can be read knowing only the files below it. The
//! one cycle allowed by design is the engine's `tape.rs` with `ops/`: every op's forward and
//! backward rules sit together in `ops/`, and the tape dispatches the backward pass to them.
//!
//! The graph is read from the source text: every `use` tree and every `crate::…`, `super::…`
//! and `self::…` path, resolved to the file of the module it names (following a `mod.rs`'s
//! `pub use` re-exports to the file that defines the item). `cargo test --test import_cycles --
//! --nocapture` prints the graph's cycles, allowed ones included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates' source roots, from the workspace root: every member of the workspace
/// (`Cargo.toml`'s `members`) with a `src` folder, so a new crate is read without being listed.
fn crate_roots(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace's Cargo.toml");
    let line = manifest.lines().find(|l| l.trim_start().starts_with("members")).expect("a members line");
    let members: Vec<PathBuf> =
        line.split('"').skip(1).step_by(2).map(|member| root.join(member).join("src")).filter(|d| d.is_dir()).collect();
    assert!(members.len() >= 6, "the workspace's members with sources: {members:?}");
    members
}

/// Cycles allowed by design: every file of such a cycle matches one of these.
const ALLOWED: [&[&str]; 1] = [&["crates/engine/src/tape.rs", "crates/engine/src/ops/"]];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `run/session.rs` → ["run", "session"], `run/mod.rs` → ["run"],
/// `lib.rs` and `main.rs` → [].
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).expect("under its root");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without comments and string literals (so that paths in doc comments and
/// messages do not count).
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let bytes: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += if bytes[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && bytes.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The paths a `use` tree names, braces expanded: `a::{b, c::{d, e}}` → a::b, a::c::d, a::c::e.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim().trim_end_matches("::*");
        return vec![path.to_string()];
    };
    let prefix = tree[..open].trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| if p == "self" { prefix.trim_end_matches("::").to_string() } else { format!("{prefix}{p}") })
        .collect()
}

/// A crate's modules, by path, with their file and their `pub use` re-exports (name → the
/// module path it comes from).
struct Crate {
    files: BTreeMap<Vec<String>, PathBuf>,
    reexports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

/// `path` (segments after `crate`, `super` or `self`, made absolute) as the module that
/// defines what it names, following re-exports.
fn resolve(krate: &Crate, path: &[String]) -> Option<Vec<String>> {
    let mut module: Vec<String> = Vec::new();
    for (index, segment) in path.iter().enumerate() {
        let mut longer = module.clone();
        longer.push(segment.clone());
        if krate.files.contains_key(&longer) {
            module = longer;
            continue;
        }
        if let Some(target) = krate.reexports.get(&module).and_then(|r| r.get(segment)) {
            return resolve(krate, &[target.clone(), path[index..].to_vec()].concat()).or(Some(module));
        }
        break;
    }
    Some(module)
}

/// Absolute module paths of every path `code` names, in the module `here`.
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut trees = Vec::new();
    for statement in code.split(';') {
        if let Some(at) = statement.find("use ") {
            let before = statement[..at].trim_end();
            if before.is_empty()
                || before.ends_with("pub")
                || before.ends_with(')')
                || before.ends_with('}')
                || before.ends_with(']')
            {
                trees.extend(expand(&statement[at + 4..]));
            }
        }
    }
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("crate::") || w.starts_with("super::") || w.starts_with("self::"))
        // A path ending in `::` opens a `use` tree, read above.
        .filter(|w| !w.ends_with("::"))
        .collect();
    trees.extend(words.iter().map(|w| w.to_string()));
    // `super` is the parent module: of `a/b.rs` (module a::b) and of `a/b/mod.rs` alike, `a`.
    let parent = |levels: usize| -> Vec<String> { here[..here.len().saturating_sub(levels)].to_vec() };
    trees
        .into_iter()
        .filter_map(|tree| {
            let segments: Vec<String> =
                tree.split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            let (base, rest): (Vec<String>, &[String]) = match segments.first().map(String::as_str) {
                Some("crate") => (Vec::new(), &segments[1..]),
                Some("self") => (here.to_vec(), &segments[1..]),
                Some("super") => {
                    let ups = segments.iter().take_while(|s| *s == "super").count();
                    (parent(ups), &segments[ups..])
                }
                _ => return None,
            };
            Some([base, rest.to_vec()].concat())
        })
        .collect()
}

/// Whether `path`, named in `module`, is one of its own `pub use` re-exports of a child.
fn reexported_child(krate: &Crate, module: &[String], path: &[String]) -> bool {
    let Some((name, from)) = path.split_last() else { return false };
    krate
        .reexports
        .get(module)
        .and_then(|r| r.get(name))
        .is_some_and(|target| target.as_slice() == from && target.len() > module.len() && target.starts_with(module))
}

/// (file → file → the names the first takes from the second) of one crate.
type Graph = BTreeMap<PathBuf, BTreeMap<PathBuf, BTreeSet<String>>>;

fn crate_graph(root: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut krate = Crate { files: BTreeMap::new(), reexports: BTreeMap::new() };
    let mut codes = Vec::new();
    for file in &files {
        let module = module_of(root, file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        krate.files.insert(module.clone(), file.clone());
        codes.push((module, file.clone(), code));
    }
    for (module, _, code) in &codes {
        let mut reexports = BTreeMap::new();
        for statement in code.split(';') {
            let Some(at) = statement.find("pub use ") else { continue };
            for path in expand(&statement[at + 8..]) {
                let segments: Vec<String> = path.split("::").map(|s| s.trim().to_string()).collect();
                if segments.len() >= 2 && !matches!(segments[0].as_str(), "crate" | "super" | "self") {
                    let mut from = module.clone();
                    from.extend(segments[..segments.len() - 1].iter().cloned());
                    let name = segments[segments.len() - 1].clone();
                    reexports.insert(name, from);
                }
            }
        }
        krate.reexports.insert(module.clone(), reexports);
    }
    let mut graph = Graph::new();
    for (module, file, code) in &codes {
        let mut edges: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
        // (A `mod.rs`'s `pub use` of its children is the module's face, not a dependency: a
        // name imported through it resolves to the child that defines it.)
        let named = named_paths(code, module).into_iter().filter(|path| !reexported_child(&krate, module, path));
        for path in named {
            let Some(target) = resolve(&krate, &path) else { continue };
            let Some(target_file) = krate.files.get(&target) else { continue };
            if target_file == file {
                continue;
            }
            let name = path.last().cloned().unwrap_or_default();
            edges.entry(target_file.clone()).or_default().insert(name);
        }
        graph.insert(file.clone(), edges);
    }
    graph
}

/// The graph's strongly connected components of more than one file (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a PathBuf) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for target in state.graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            if !state.graph.contains_key(target) {
                continue;
            }
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.clone());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

#[test]
fn no_crate_has_an_import_cycle_but_the_tape_and_its_ops() {
    let root = workspace();
    let shown = |path: &Path| path.strip_prefix(&root).unwrap_or(path).display().to_string();
    let mut report = Vec::new();
    let mut forbidden = Vec::new();
    for dir in crate_roots(&root) {
        let graph = crate_graph(&dir);
        for component in cycles(&graph) {
            let names: Vec<String> = component.iter().map(|f| shown(f)).collect();
            let allowed = ALLOWED.iter().any(|allowed| names.iter().all(|n| allowed.iter().any(|a| n.starts_with(a))));
            let mut lines =
                vec![format!("{} cycle: {}", if allowed { "allowed" } else { "FORBIDDEN" }, names.join(", "))];
            for file in &component {
                for (target, taken) in graph.get(file).into_iter().flatten() {
                    if component.contains(target) {
                        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
                        lines.push(format!("  {} -> {}: {}", shown(file), shown(target), taken.join(", ")));
                    }
                }
            }
            if !allowed {
                forbidden.push(lines.join("\n"));
            }
            report.push(lines.join("\n"));
        }
    }
    println!("{}", if report.is_empty() { "no cycles".to_string() } else { report.join("\n") });
    assert!(forbidden.is_empty(), "modules that import each other:\n{}", forbidden.join("\n"));
}

#[test]
fn the_reader_finds_a_cycle_it_is_shown() {
    let dir = std::env::temp_dir().join(format!("rnnplay-cycles-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod run;\nmod bench;\n").unwrap();
    std::fs::write(dir.join("bench.rs"), "use crate::run::Session; // crate::nothing\n").unwrap();
    std::fs::write(dir.join("run/mod.rs"), "mod session;\npub use session::{Session, Report};\n").unwrap();
    std::fs::write(dir.join("run/session.rs"), "use super::super::bench::{self, Clock};\nlet s = \"crate::x\";\n")
        .unwrap();
    let graph = crate_graph(&dir);
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{graph:?}");
    let names: Vec<String> = found[0].iter().map(|f| f.strip_prefix(&dir).unwrap().display().to_string()).collect();
    assert_eq!(names, ["bench.rs", "run/session.rs"], "{graph:?}");
    std::fs::remove_dir_all(&dir).ok();
}
