//! The resource examples users copy must stay valid: every ```yaml block of
//! README.md and every file in examples/ parses and validates.

use mesh_config::parse::parse_documents;
use mesh_config::validate_all;
use std::path::Path;

fn check(text: &str, what: &str) -> usize {
    let docs: Vec<_> = parse_documents(text)
        .into_iter()
        .map(|d| d.unwrap_or_else(|p| panic!("{what}: {p}")))
        .collect();
    if let Err(problems) = validate_all(&docs) {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("{what}:\n{}", lines.join("\n"));
    }
    docs.len()
}

#[test]
fn readme_yaml_blocks_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md readable");
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed code block");
        check(
            &body[..end],
            &format!("README.md yaml block {}", blocks + 1),
        );
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks > 0, "README.md has no yaml block");
}

#[test]
fn examples_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ readable") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "json") {
            let text = std::fs::read_to_string(&path).expect("example readable");
            assert!(check(&text, &path.display().to_string()) > 0);
            files += 1;
        }
    }
    assert!(files > 0);
}
