//! `meshctl apply` and `meshctl validate`: read a file of documents, check
//! every one of them (reporting every problem, not the first), and for
//! `apply` write them all in one etcd transaction, or nothing.

use super::{Context, MeshctlError};
use mesh_config::parse::parse_documents;
use mesh_config::{validate_all, Document, Kind, Problem};
use std::io::Read;
use std::path::Path;

/// The documents of a file, all valid.
pub struct Checked {
    pub docs: Vec<Document>,
}

impl Checked {
    /// `2 services, 3 endpoints, 1 route`.
    pub fn summary(&self) -> String {
        Kind::ALL
            .iter()
            .filter_map(|&k| {
                let n = self.docs.iter().filter(|d| d.kind() == k).count();
                (n > 0).then(|| format!("{n} {}{}", k.noun(), if n == 1 { "" } else { "s" }))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads `path` (`-` is stdin).
pub fn read_input(path: &Path) -> Result<String, MeshctlError> {
    let shown = path.display().to_string();
    let mut text = String::new();
    let result = if shown == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| MeshctlError::Read {
        path: shown,
        reason: e.to_string(),
    })?;
    Ok(text)
}

/// Parses and validates every document of `text`. On failure the error
/// lists every problem of every document, one per line.
pub fn check(text: &str, source: &str) -> Result<Checked, MeshctlError> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut docs = Vec::new();
    for parsed in parse_documents(text) {
        match parsed {
            Ok(doc) => docs.push(doc),
            Err(p) => problems.push(p),
        }
    }
    if let Err(found) = validate_all(&docs) {
        problems.extend(found);
    }
    if !problems.is_empty() {
        let mut msg: Vec<String> = problems.iter().map(|p| format!("{source}: {p}")).collect();
        msg.push(format!(
            "{source}: {} problem{} found; nothing was written",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
        return Err(MeshctlError::Invalid(msg.join("\n")));
    }
    if docs.is_empty() {
        return Err(MeshctlError::Invalid(format!(
            "{source}: no documents found"
        )));
    }
    Ok(Checked { docs })
}

/// `meshctl validate -f FILE`.
pub fn validate_file(path: &Path) -> Result<(), MeshctlError> {
    let text = read_input(path)?;
    let source = path.display().to_string();
    let checked = check(&text, &source)?;
    println!(
        "{source}: {} document{} valid ({})",
        checked.docs.len(),
        if checked.docs.len() == 1 { "" } else { "s" },
        checked.summary()
    );
    Ok(())
}

/// `meshctl apply -f FILE`.
pub async fn apply_file(ctx: &Context, path: &Path) -> Result<(), MeshctlError> {
    let text = read_input(path)?;
    let source = path.display().to_string();
    let checked = check(&text, &source)?;
    let items: Vec<(String, String)> = checked
        .docs
        .iter()
        .map(|d| (ctx.keys.document(d), d.to_json()))
        .collect();
    let store = ctx.store().await?;
    let revision = store.put_all_atomic(&items).await?;
    for doc in &checked.docs {
        println!("{} applied", doc.label());
    }
    println!(
        "{} document{} applied at revision {revision} ({})",
        checked.docs.len(),
        if checked.docs.len() == 1 { "" } else { "s" },
        checked.summary()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_of_every_document() {
        let text = "kind: Service\nname: Bad_Name\n---\nkind: Service\nname: ok\n---\nkind: Route\nname: r\nspec: {bogus: 1}\n";
        let err = check(text, "f.yaml").err().expect("invalid");
        let msg = err.to_string();
        assert!(msg.contains("f.yaml: service Bad_Name: name:"), "{msg}");
        assert!(msg.contains("f.yaml: route r: spec.bogus:"), "{msg}");
        assert!(
            msg.ends_with("2 problems found; nothing was written"),
            "{msg}"
        );
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn summary_counts_kinds() {
        let text =
            "kind: Service\nname: a\n---\nkind: Service\nname: b\n---\nkind: Route\nname: r\n";
        let checked = check(text, "f").expect("valid");
        assert_eq!(checked.summary(), "2 services, 1 route");
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(check("# nothing\n", "f").is_err());
    }
}
