//! The repository's documents stand alone: every relative link of the README and of the
//! documents under `docs/` and the crates leads to a file of the repository, as does every
//! repository path they name in backticks; and every make target a person runs says what it
//! does in `make help`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Markdown documents of the repository: the README, `docs/*.md` and each crate's.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut documents = vec![root.join("README.md")];
    let mut add_dir = |dir: PathBuf| {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "md") {
                documents.push(path);
            }
        }
    };
    add_dir(root.join("docs"));
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        add_dir(krate.path());
        for sub in ["browser", "fuzz"] {
            add_dir(krate.path().join(sub));
        }
    }
    documents.sort();
    documents
}

/// The targets of the Markdown links `[text](target)` in `text`, outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = vec![];
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for piece in line.split("](").skip(1) {
            if let Some(end) = piece.find(')') {
                targets.push(piece[..end].to_owned());
            }
        }
    }
    targets
}

/// Spans in backticks that name a path under one of the repository's top-level folders, such
/// as `docs/probe-api.yaml` or `crates/api/fuzz/README.md` (patterns and placeholders left out).
fn named_paths(text: &str) -> Vec<String> {
    const FOLDERS: &[&str] = &[
        "crates/",
        "docs/",
        "deploy/",
        "fixtures/",
        "migrations/",
        ".ci/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| FOLDERS.iter().any(|folder| span.starts_with(folder)))
        .filter(|span| !span.contains(|c: char| c.is_whitespace() || "*{}<>…$".contains(c)))
        .map(|span| span.trim_end_matches([':', ',', '.']).to_owned())
        .collect()
}

/// Whether `path` is a file or folder inside the repository (not merely beside it).
fn in_repository(root: &Path, path: &Path) -> bool {
    match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    }
}

#[test]
fn every_relative_link_and_named_path_exists() {
    let root = root();
    let mut missing = vec![];
    let documents = documents();
    assert!(documents.len() > 5, "found {documents:?}");
    for document in documents {
        let text = std::fs::read_to_string(&document).unwrap();
        let shown = document.strip_prefix(&root).unwrap_or(&document).display();
        for target in link_targets(&text) {
            let target = target.split('#').next().unwrap_or_default();
            let external = target.contains("://") || target.starts_with("mailto:");
            if target.is_empty() || external {
                continue;
            }
            let base = if target.starts_with('/') {
                root.clone()
            } else {
                document.parent().unwrap().to_owned()
            };
            if !in_repository(&root, &base.join(target.trim_start_matches('/'))) {
                missing.push(format!("{shown}: link to {target}"));
            }
        }
        for path in named_paths(&text) {
            if !in_repository(&root, &root.join(&path)) {
                missing.push(format!("{shown}: `{path}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents point at files the repository does not have:\n{}",
        missing.join("\n")
    );
}

/// `make help` prints the first line of each target's `## name: …` comment; a target without
/// one would be missing from it.
#[test]
fn every_make_target_has_a_help_line() {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let phony: Vec<&str> = makefile
        .lines()
        .find_map(|line| line.strip_prefix(".PHONY:"))
        .expect("a .PHONY line")
        .split_whitespace()
        .collect();
    assert!(
        phony.contains(&"help") && phony.contains(&"run"),
        "{phony:?}"
    );
    let lines: Vec<&str> = makefile.lines().collect();
    for target in phony {
        let at = lines
            .iter()
            .position(|line| line.starts_with(&format!("{target}:")))
            .unwrap_or_else(|| panic!("no rule for .PHONY target {target}"));
        let comment = lines[..at]
            .iter()
            .rev()
            .take_while(|line| line.starts_with("## "))
            .last();
        assert!(
            comment.is_some_and(|line| line.starts_with(&format!("## {target}: "))),
            "the rule of `{target}` has no `## {target}: what it does` comment above it"
        );
    }
    assert!(
        makefile.contains(".DEFAULT_GOAL := help"),
        "plain `make` prints the help"
    );
}
