//! The modules of the `pact` binary (src/*.rs) depend on each other without a cycle: shared types live in
//! modules of their own (`ui`, `args`, `defaults`), never in a subcommand's driver.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Module name → the `crate::NAME` modules it mentions (besides itself).
fn graph() -> BTreeMap<String, Vec<String>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let mut deps: Vec<String> = text
            .split("crate::")
            .skip(1)
            .flat_map(|rest| match rest.strip_prefix('{') {
                // `use crate::{a, b::C}`: every module of the group.
                Some(group) => group.split('}').next().unwrap_or("").split(',').map(ident).collect(),
                None => vec![ident(rest)],
            })
            .filter(|d: &String| !d.is_empty() && *d != name)
            .collect();
        deps.sort();
        deps.dedup();
        g.insert(name, deps);
    }
    g
}

#[test]
fn src_modules_form_no_cycle() {
    let g = graph();
    assert!(g.contains_key("cli") && g.contains_key("run_cmd"), "{g:?}");
    // Depth-first search with colours: 1 = on the current path, 2 = done.
    fn visit(n: &str, g: &BTreeMap<String, Vec<String>>, colour: &mut BTreeMap<String, u8>, path: &mut Vec<String>) {
        match colour.get(n) {
            Some(2) => return,
            Some(1) => panic!("import cycle: {} -> {n}", path.join(" -> ")),
            _ => {}
        }
        colour.insert(n.to_string(), 1);
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            visit(d, g, colour, path);
        }
        path.pop();
        colour.insert(n.to_string(), 2);
    }
    let mut colour = BTreeMap::new();
    for n in g.keys() {
        visit(n, &g, &mut colour, &mut Vec::new());
    }
}
