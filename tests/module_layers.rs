//! Keeps the engine's layering true (HOUSE.md, "Layers"): every module of `src/` imports
//! only from the layers below it, so no two top-level modules import each other, even
//! through a third.
//!
//! How: each `src/**/*.rs` file is read as Rust tokens (comments, strings and character
//! literals removed, so doc links and messages do not count), items under `#[cfg(test)]`
//! are cut out (with the files of `#[cfg(test)] mod x;`), and every `crate::` path, in a
//! `use` tree or inline, and every `super::` path that leaves its top-level module, is
//! resolved to the top-level module it names. A name re-exported at the crate root
//! (`crate::Error`) resolves through the `pub use` lines of `lib.rs`. The test then
//! asserts that the module graph has no cycle and that each edge goes down the layer
//! order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of HOUSE.md, lowest first. A module may import modules of lower layers
/// only (so not its neighbours in the same layer: `wal` never imports `segment`). HOUSE.md
/// puts types and error in one layer; types names the error type, so error comes first.
/// `analytics` is pure and sits beside the stack: it uses the value types and is used by
/// `query`; `batch` (the write batch) is a value type beside `types`.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["types"],
    &["batch", "analytics", "selector_text"],
    &["storage"],
    &["options", "points", "format"],
    &["wal", "head", "segment", "index"],
    &["version"],
    &["compaction", "query"],
    &["db"],
    // Test tooling (compiled only for the fuzz targets and the engine's own tests) and
    // the collector (its own crate once the workspace split lands) sit on top.
    &["testing", "fuzz_entry", "collector"],
];

/// Modules held to less than their layer allows: the storage layer and the pure analytics
/// know nothing of the engine but the error and value types.
const ONLY: &[(&str, &[&str])] = &[
    ("storage", &["error", "types"]),
    ("analytics", &["error", "types"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
}

/// Rust source as identifiers and punctuation, without comments, string, byte-string,
/// raw-string or character literals, and numbers (none of which can hold a path).
fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let n = b.len();
    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < n && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < n {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&b, i + 1);
        } else if (c == 'r' || c == 'b')
            && raw_string_start(&b, i).is_some()
            && !prev_is_ident(&b, i)
        {
            let (hashes, body) = raw_string_start(&b, i).unwrap_or((0, i));
            i = body;
            loop {
                if i >= n {
                    break;
                }
                if b[i] == '"' && (1..=hashes).all(|k| b.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == 'b' && next == Some('"') && !prev_is_ident(&b, i) {
            i = skip_string(&b, i + 2);
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}', b'x' is handled as b + this), or
            // a lifetime / label ('a), which is skipped like an identifier.
            if next == Some('\\') {
                i += 2;
                while i < n && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < n && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < n && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < n && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                // `1..n` is a range, not part of the number.
                if b[i] == '.' && b.get(i + 1) == Some(&'.') {
                    break;
                }
                i += 1;
            }
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// `r"`, `r#"`, `br"`, `br#"`: the number of hashes and where the body starts.
fn raw_string_start(b: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b.get(j) == Some(&'b') {
        j += 1;
    }
    if b.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

fn skip_string(b: &[char], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn is_ident(t: Option<&Tok>, s: &str) -> bool {
    matches!(t, Some(Tok::Ident(x)) if x == s)
}

fn is_punct(t: Option<&Tok>, c: char) -> bool {
    t == Some(&Tok::Punct(c))
}

/// Removes every item carrying `#[cfg(test)]` (the attribute, any further attributes,
/// and the item up to its closing `;` or `}`), and returns the names of the out-of-line
/// modules so removed (`#[cfg(test)] mod tests;`).
fn strip_test_items(toks: &[Tok]) -> (Vec<Tok>, Vec<String>) {
    let mut out = Vec::with_capacity(toks.len());
    let mut test_files = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let cfg_test = is_punct(toks.get(i), '#')
            && is_punct(toks.get(i + 1), '[')
            && is_ident(toks.get(i + 2), "cfg")
            && is_punct(toks.get(i + 3), '(')
            && is_ident(toks.get(i + 4), "test")
            && is_punct(toks.get(i + 5), ')')
            && is_punct(toks.get(i + 6), ']');
        if !cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        i += 7;
        // Further attributes of the same item.
        while is_punct(toks.get(i), '#') && is_punct(toks.get(i + 1), '[') {
            i = skip_group(toks, i + 1);
        }
        // The item: up to a `;` outside any group, or the end of its first `{}` group.
        if is_ident(toks.get(i), "mod") || is_ident(toks.get(i + 1), "mod") {
            let at = if is_ident(toks.get(i), "mod") {
                i
            } else {
                i + 1
            };
            if let (Some(Tok::Ident(name)), true) =
                (toks.get(at + 1), is_punct(toks.get(at + 2), ';'))
            {
                test_files.push(name.clone());
            }
        }
        while i < toks.len() {
            match &toks[i] {
                Tok::Punct(';') => {
                    i += 1;
                    break;
                }
                Tok::Punct('{') => {
                    i = skip_group(toks, i);
                    break;
                }
                Tok::Punct('(') | Tok::Punct('[') => i = skip_group(toks, i),
                _ => i += 1,
            }
        }
    }
    (out, test_files)
}

/// From an opening bracket to just past its match.
fn skip_group(toks: &[Tok], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < toks.len() {
        match toks[i] {
            Tok::Punct('{') | Tok::Punct('(') | Tok::Punct('[') => depth += 1,
            Tok::Punct('}') | Tok::Punct(')') | Tok::Punct(']') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// The first segments of every path starting at `crate::` or `super::`, as module paths
/// relative to the crate root: `use crate::{a::b, c}` gives `[a, b]` and `[c]`, and
/// `super::x` in module `m::n` gives `[m, x]`.
fn paths(toks: &[Tok], module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let Tok::Ident(first) = &toks[i] else {
            i += 1;
            continue;
        };
        // Part of a longer path (`a::crate` cannot occur; `self::super` is rare).
        if i >= 2 && is_punct(toks.get(i - 1), ':') && is_punct(toks.get(i - 2), ':') {
            i += 1;
            continue;
        }
        let base: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "super" => {
                let mut base = module.to_vec();
                let mut j = i;
                loop {
                    base.pop();
                    let more = is_punct(toks.get(j + 1), ':')
                        && is_punct(toks.get(j + 2), ':')
                        && is_ident(toks.get(j + 3), "super");
                    if !more {
                        break;
                    }
                    j += 3;
                }
                i = j;
                base
            }
            _ => {
                i += 1;
                continue;
            }
        };
        // `pub(crate)`, `pub(super)`, `in crate`: visibility, not a path.
        if !(is_punct(toks.get(i + 1), ':') && is_punct(toks.get(i + 2), ':')) {
            i += 1;
            continue;
        }
        i = use_tree(toks, i + 3, base, &mut found);
    }
    found
}

/// Reads the rest of a path or `use` tree from `i`, pushing each complete path (as far
/// as its module segments go) onto `found`; returns where it stopped.
fn use_tree(
    toks: &[Tok],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match toks.get(i) {
            Some(Tok::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                if is_punct(toks.get(i), ':') && is_punct(toks.get(i + 1), ':') {
                    i += 2;
                    continue;
                }
                found.push(prefix);
                return i;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        None => return i,
                        _ => {
                            let before = i;
                            i = use_tree(toks, i, prefix.clone(), found);
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                found.push(prefix);
                return i + 1;
            }
            _ => {
                if !prefix.is_empty() {
                    found.push(prefix);
                }
                return i;
            }
        }
    }
}

/// Names `lib.rs` re-exports at the crate root, with the top-level module each comes
/// from (`pub use db::{Db, ...}` maps `Db` to `db`).
fn root_reexports(lib: &[Tok]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < lib.len() {
        if is_ident(lib.get(i), "use") && !is_punct(lib.get(i + 1), ':') {
            if let Some(Tok::Ident(module)) = lib.get(i + 1) {
                let module = if module == "crate" {
                    match lib.get(i + 4) {
                        Some(Tok::Ident(m)) => m.clone(),
                        _ => String::new(),
                    }
                } else {
                    module.clone()
                };
                let mut found = Vec::new();
                let end = use_tree(lib, i + 1, Vec::new(), &mut found);
                for path in found {
                    if let Some(last) = path.last() {
                        map.insert(last.clone(), module.clone());
                    }
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
    map
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Which top-level module uses which, and one example use per edge (file: path).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_graph(src: &Path) -> Graph {
    let lib = tokens(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let (lib, _) = strip_test_items(&lib);
    let reexports = root_reexports(&lib);
    let top_modules: BTreeSet<String> = {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        files
            .iter()
            .filter_map(|f| module_of(src, f).first().cloned())
            .filter(|m| m != "lib")
            .collect()
    };

    let mut files = Vec::new();
    rust_files(src, &mut files);
    // Files only compiled for tests: `#[cfg(test)] mod x;` in their parent.
    let mut test_only: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut parsed = Vec::new();
    for file in &files {
        let module = module_of(src, file);
        let (toks, test_mods) = strip_test_items(&tokens(&std::fs::read_to_string(file).unwrap()));
        let parent = if module == ["lib"] {
            Vec::new()
        } else {
            module.clone()
        };
        for m in test_mods {
            let mut child = parent.clone();
            child.push(m);
            test_only.insert(child);
        }
        parsed.push((file.clone(), module, toks));
    }

    let mut graph = Graph::new();
    for (file, module, toks) in parsed {
        if module == ["lib"] {
            continue;
        }
        if test_only.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        let from = module[0].clone();
        for path in paths(&toks, &module) {
            let Some(first) = path.first() else { continue };
            let to = if top_modules.contains(first) {
                first.clone()
            } else if let Some(m) = reexports.get(first) {
                m.clone()
            } else {
                // A macro or item defined in lib.rs itself (none today).
                continue;
            };
            if to != from {
                let rel = file.strip_prefix(src.parent().unwrap()).unwrap();
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{}: crate::{}", rel.display(), path.join("::")));
            }
        }
    }
    graph
}

/// Every cycle's members, found as strongly connected components of more than one module.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(|e| e.keys()))
        .collect();
    let reaches = |from: &String, to: &String| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to && seen.contains(n) {
                return true;
            }
            for next in graph.get(n).into_iter().flat_map(|e| e.keys()) {
                if next == to {
                    return true;
                }
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        false
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for &a in &nodes {
        if done.contains(a) {
            continue;
        }
        let component: Vec<String> = nodes
            .iter()
            .filter(|&&b| b == a || (reaches(a, b) && reaches(b, a)))
            .map(|b| (*b).clone())
            .collect();
        for m in &component {
            done.insert(m.clone());
        }
        if component.len() > 1 {
            out.push(component);
        }
    }
    out
}

/// The engine's `src/`, or another tree's (`MODULE_LAYERS_SRC=/elsewhere/src`), to see
/// what the check says of an older commit.
fn src_dir() -> PathBuf {
    match std::env::var_os("MODULE_LAYERS_SRC") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    }
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = module_graph(&src_dir());
    // The graph, for `cargo test --test module_layers -- --nocapture`.
    for (from, edges) in &graph {
        let to: Vec<&str> = edges.keys().map(String::as_str).collect();
        eprintln!("{from} -> {}", to.join(", "));
    }
    let found = cycles(&graph);
    let mut msg = String::new();
    for cycle in &found {
        msg += &format!("cycle between {cycle:?}:\n");
        for from in cycle {
            for (to, example) in &graph[from] {
                if cycle.contains(to) {
                    msg += &format!("  {from} -> {to}   ({example})\n");
                }
            }
        }
    }
    assert!(found.is_empty(), "{msg}");
}

#[test]
fn every_import_goes_down_the_layers() {
    let graph = module_graph(&src_dir());
    let mut wrong = std::collections::BTreeSet::new();
    for (from, edges) in &graph {
        let Some(from_layer) = layer_of(from) else {
            wrong.insert(format!(
                "{from} is in no layer of HOUSE.md: add it to LAYERS"
            ));
            continue;
        };
        for (to, example) in edges {
            let allowed = ONLY
                .iter()
                .find(|(m, _)| m == from)
                .is_none_or(|(_, only)| only.contains(&to.as_str()));
            match layer_of(to) {
                Some(to_layer) if to_layer < from_layer && allowed => {}
                Some(_) => {
                    wrong.insert(format!("{from} -> {to}   ({example})"));
                }
                None => {
                    wrong.insert(format!("{to} is in no layer of HOUSE.md: add it to LAYERS"));
                }
            }
        }
    }
    let wrong: Vec<String> = wrong.into_iter().collect();
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

/// The scanner itself: paths in comments, strings and test modules do not count; use
/// trees, inline paths and `super::` out of a top-level module do.
#[test]
fn the_scanner_reads_paths_as_the_compiler_does() {
    let src = r##"
        //! See [`crate::db::Db`].
        use crate::{error::Error, types::{SeriesId, TimeRange}};
        use super::sibling::Thing;
        pub(crate) fn f() -> crate::wal::Wal { let _ = "crate::query"; let _ = r#"crate::x"#; g::<'a>('{'); crate::head::Head::new() }
        /* crate::segment */
        #[cfg(test)]
        mod tests { use crate::compaction::Plan; fn t() { crate::index::x(); } }
        #[cfg(test)]
        mod more;
        fn h() { crate::storage::fault::FaultFs::new(); }
    "##;
    let (toks, test_files) = strip_test_items(&tokens(src));
    assert_eq!(test_files, vec!["more".to_string()]);
    let module = vec!["query".to_string(), "exec".to_string()];
    let mut firsts: Vec<String> = paths(&toks, &module)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    firsts.sort();
    assert_eq!(
        firsts,
        [
            "error::Error",
            "head::Head::new",
            "query::sibling::Thing",
            "storage::fault::FaultFs::new",
            "types::SeriesId",
            "types::TimeRange",
            "wal::Wal",
        ]
    );
}
