//! `tests/RECOVERY.md` stays honest: every row names at least one test, and every test
//! it names exists as a `#[test] fn` in the file named.

use std::path::Path;

#[test]
fn the_recovery_catalogue_names_only_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("tests/RECOVERY.md")).unwrap();
    let mut rows = 0u32;
    let mut problems = Vec::new();
    for line in table.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| n | what | strict | salvage | tests |": 7 cells, empty at both ends.
        let Some(n) = cells.get(1).and_then(|c| c.parse::<u32>().ok()) else {
            continue;
        };
        rows += 1;
        if cells.len() != 7 {
            problems.push(format!("row {n}: {} cells (a stray '|'?)", cells.len() - 2));
            continue;
        }
        let tests: Vec<&str> = cells[5].split('`').skip(1).step_by(2).collect();
        if tests.is_empty() {
            problems.push(format!("row {n} names no test"));
        }
        for test in tests {
            let Some((file, name)) = test.rsplit_once("::") else {
                problems.push(format!("row {n}: {test:?} is not file::function"));
                continue;
            };
            let Ok(source) = std::fs::read_to_string(root.join(file)) else {
                problems.push(format!("row {n}: no file {file}"));
                continue;
            };
            let Some(at) = source.find(&format!("fn {name}(")) else {
                problems.push(format!("row {n}: no fn {name} in {file}"));
                continue;
            };
            let before = &source[..at];
            let attr = before.rfind("#[test]");
            let fn_before = before.rfind("\nfn ").max(before.rfind("    fn "));
            if attr.is_none() || attr < fn_before {
                problems.push(format!("row {n}: {file}::{name} is not a #[test]"));
            }
        }
    }
    assert!(rows >= 20, "only {rows} rows");
    assert!(problems.is_empty(), "{problems:#?}");
}
