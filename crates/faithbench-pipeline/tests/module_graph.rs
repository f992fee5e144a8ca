//! The pipeline's modules form a layered graph: no module uses a module that (directly or
//! through others) uses it back. The graph is read from the `crate::<module>` references of the
//! sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        let mut text = String::new();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
            }
        } else {
            text = std::fs::read_to_string(&p).unwrap();
        }
        out.insert(name, text);
    }
    out
}

/// Modules named by `crate::NAME` in the code of `text` (including `use crate::{a, b}` groups;
/// comments, such as doc links, are not uses).
fn uses(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + 7..];
        let group = rest
            .strip_prefix('{')
            .map(|g| &g[..g.find('}').unwrap_or(g.len())]);
        let names: Vec<&str> = match group {
            Some(g) => g.split(',').map(|s| s.trim()).collect(),
            None => vec![rest],
        };
        for n in names {
            let end = n
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(n.len());
            if known.contains(&n[..end]) {
                out.insert(n[..end].to_string());
            }
        }
    }
    out
}

#[test]
fn module_graph_has_no_cycles() {
    let mods = modules();
    assert!(mods.len() >= 10, "{:?}", mods.keys());
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> = mods
        .iter()
        .map(|(m, t)| {
            let mut u = uses(t, &known);
            u.remove(m);
            (m.clone(), u)
        })
        .collect();
    // depth-first search with colours
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m).copied() {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == m).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.to_string(), 1);
        path.push(m.to_string());
        for n in &g[m] {
            if let Some(c) = visit(n, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if let Some(c) = visit(m, &graph, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", c.join(" → "));
        }
    }
    // the binary-facing layers sit on top
    assert!(graph["run"].contains("execute") && !graph["execute"].contains("run"));
    assert!(graph["config"].is_empty() || !graph["config"].contains("plan"));
}

#[test]
fn the_scanner_reads_groups_and_paths() {
    let known: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let u = uses("use crate::{a::X, b};\nlet y = crate::c::f();", &known);
    assert_eq!(u.len(), 3);
    assert!(uses("//! see [`crate::a`]\n", &known).is_empty());
}
