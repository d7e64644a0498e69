//! The modules of each crate import one another in one direction only. Every `crate::…` and
//! `super::…` path in a crate's sources (comments left out) is an arrow from the file that
//! names it to the module it names; a circle is a set of modules that reach each other. A
//! child naming its parent (`super::`) is not an arrow: the parent declared it.
//!
//! Run `cargo test -p arrakis-tests --test import_graph -- --nocapture` to print the circles.
//! There are none, and a new one fails. The crates themselves are layered too: each depends
//! only on crates below it ([`LAYERS`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path in its crate: `src/a/b.rs` and `src/a/b/mod.rs` are `["a", "b"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The paths of a use tree starting at `text` (after `crate::` or `super::`): `a::{b, c::d}`
/// gives `a::b` and `a::c::d`.
fn use_tree(text: &[u8], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        while *at < text.len() && text[*at].is_ascii_whitespace() {
            *at += 1;
        }
        if *at < text.len() && text[*at] == b'{' {
            *at += 1;
            loop {
                let before = *at;
                use_tree(text, at, path.clone(), out);
                // A glob (`*`) or anything that is not a path: step over it.
                if *at == before {
                    *at += 1;
                }
                while *at < text.len() && (text[*at].is_ascii_whitespace() || text[*at] == b',') {
                    *at += 1;
                }
                if *at >= text.len() || text[*at] == b'}' {
                    *at += 1;
                    return;
                }
            }
        }
        let start = *at;
        while *at < text.len() && (text[*at].is_ascii_alphanumeric() || text[*at] == b'_') {
            *at += 1;
        }
        if start == *at {
            out.push(path);
            return;
        }
        path.push(String::from_utf8_lossy(&text[start..*at]).to_string());
        if text[*at..].starts_with(b"::") {
            *at += 2;
        } else {
            out.push(path);
            return;
        }
    }
}

/// The circles (strongly connected sets of two or more modules) among `edges`.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability by a depth-first search from each node: the graphs are small.
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|n| (n, reach(n))).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (n, from_n) in &reached {
        let mut circle: Vec<String> = from_n
            .iter()
            .filter(|m| reached.get(m).is_some_and(|r| r.contains(*n)))
            .cloned()
            .chain([(*n).clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if circle.len() > 1 {
            circle.sort();
            found.insert(circle);
        }
    }
    found.into_iter().collect()
}

/// The module graph of one crate, as files relative to the repository.
fn graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(krate).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| (module_of(&src, f), format!("{krate}/src/{}", f.strip_prefix(&src).expect("src").display())))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let name = &modules[&me];
        let text: String = std::fs::read_to_string(file)
            .expect("readable")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let bytes = text.as_bytes();
        let mut paths = Vec::new();
        for (keyword, base) in [("crate::", Vec::new()), ("super::", me[..me.len().saturating_sub(1)].to_vec())] {
            let mut from = 0;
            while let Some(i) = text[from..].find(keyword) {
                let start = from + i;
                from = start + keyword.len();
                if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                    continue;
                }
                let mut at = from;
                use_tree(bytes, &mut at, base.clone(), &mut paths);
            }
        }
        for path in paths {
            // The longest prefix of the path that is a module of this crate.
            let target = (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]).map(|t| (n, t)));
            let Some((n, target)) = target else { continue };
            // Naming oneself or an ancestor (which declared this module) is no arrow.
            if me.starts_with(&path[..n]) {
                continue;
            }
            edges.entry(name.clone()).or_default().insert(target.clone());
        }
        edges.entry(name.clone()).or_default();
    }
    edges
}

#[test]
fn no_module_imports_in_a_circle() {
    let mut all = Vec::new();
    for (krate, _) in LAYERS {
        all.extend(circles(&graph(krate)));
    }
    for circle in &all {
        println!("circle: {}", circle.join(" ↔ "));
    }
    assert!(all.is_empty(), "import circles (modules must import in one direction): {all:#?}");
}

/// Each crate's layer: a crate's `[dependencies]` may name only crates of a lower layer.
/// (`[dev-dependencies]` are for tests and may name any: `activities` tests against the sim.)
const LAYERS: &[(&str, u8)] =
    &[("schemas", 0), ("sim", 1), ("activities", 1), ("gateway", 1), ("workflows", 2), ("worker", 3), ("tests", 4)];

/// The `arrakis-*` crates named in the `[dependencies]` table of a Cargo.toml.
fn runtime_dependencies(manifest: &str) -> Vec<String> {
    let mut table = "";
    let mut out = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line;
        } else if table == "[dependencies]"
            && let Some(name) = line.strip_prefix("arrakis-")
        {
            out.push(name.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn no_crate_depends_on_a_crate_above_it() {
    let layer = |name: &str| LAYERS.iter().find(|(c, _)| *c == name).map(|(_, l)| *l);
    let mut upward = Vec::new();
    for (krate, mine) in LAYERS {
        let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).expect("Cargo.toml");
        for dep in runtime_dependencies(&manifest) {
            let theirs =
                layer(&dep).unwrap_or_else(|| panic!("{krate} depends on arrakis-{dep}, which LAYERS does not place"));
            if theirs >= *mine {
                upward.push(format!("{krate} (layer {mine}) → {dep} (layer {theirs})"));
            }
        }
    }
    assert!(upward.is_empty(), "dependencies that point up or sideways: {upward:#?}");
    assert_eq!(
        runtime_dependencies(
            "[dependencies]\narrakis-schemas = { path = \"../schemas\" }\n[dev-dependencies]\narrakis-sim = 1"
        ),
        ["schemas"]
    );
}

#[test]
fn the_checker_sees_a_circle_and_a_use_tree() {
    let mut paths = Vec::new();
    let text = b"{a, b::{c, *, d::e}}, f";
    use_tree(text, &mut 0, vec![], &mut paths);
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(joined, ["a", "b::c", "b", "b::d::e"], "a glob names its module");
    let edge = |a: &str, b: &str| (a.to_string(), BTreeSet::from([b.to_string()]));
    let graph: BTreeMap<String, BTreeSet<String>> = [edge("x", "y"), edge("y", "x"), edge("z", "x")].into();
    assert_eq!(circles(&graph), vec![vec!["x".to_string(), "y".to_string()]]);
}

/// Each crate's README is its top-level documentation (`#![doc = include_str!("../README.md")]`),
/// and its *Where things are* map names every source file, so a new module is placed on it.
#[test]
fn every_crate_is_documented_by_its_readme_and_maps_every_file() {
    let mut missing = Vec::new();
    for (krate, _) in LAYERS {
        let dir = root().join(krate);
        let readme = std::fs::read_to_string(dir.join("README.md")).expect("a README per crate");
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).expect("lib.rs");
        assert!(
            lib.starts_with("#![doc = include_str!(\"../README.md\")]"),
            "{krate}'s lib.rs takes its doc from README.md"
        );
        let mut files = Vec::new();
        sources(&dir.join("src"), &mut files);
        for file in files {
            let rel = file.strip_prefix(&dir).expect("in the crate").display().to_string();
            let skipped = rel == "src/lib.rs"
                || rel.contains("/bin/")
                || rel.ends_with("/tests.rs")
                || rel.ends_with("/properties.rs");
            if !skipped && !readme.contains(&format!("`{rel}`")) {
                missing.push(format!("{krate}/{rel}"));
            }
        }
    }
    assert!(missing.is_empty(), "files the crate READMEs' maps do not name: {missing:#?}");
}

/// The runs of six or more spaces inside a string literal on `line`: what a `\` continuation
/// leaves out, or a line break inside a literal without one, puts in an operator's message.
fn spaces_in_literals(line: &str) -> usize {
    let (mut inside, mut escaped, mut run, mut runs) = (false, false, 0, 0);
    for c in line.chars() {
        match c {
            '"' if !escaped => inside = !inside,
            ' ' if inside => {
                run += 1;
                if run == 6 {
                    runs += 1;
                }
            }
            _ => {}
        }
        if c != ' ' {
            run = 0;
        }
        escaped = c == '\\' && !escaped;
    }
    runs
}

#[test]
fn no_message_has_a_run_of_spaces_from_a_broken_line() {
    assert_eq!(spaces_in_literals(r#"text("a;              `b`")"#), 1);
    assert_eq!(spaces_in_literals(r#"text("a \"b\"", "c")       .d"#), 0);
    let mut found = Vec::new();
    for (krate, _) in LAYERS {
        let mut files = Vec::new();
        sources(&root().join(krate).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && !code.starts_with("r#") && spaces_in_literals(line) > 0 {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, code));
                }
            }
        }
    }
    assert!(found.is_empty(), "string literals with runs of spaces (a broken `\\` continuation?): {found:#?}");
}
