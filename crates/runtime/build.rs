//! Finds the commit the binaries are built from, for `mailing_build_info{commit}`:
//! `MAILING_BUILD_COMMIT` if the build was given one (an image build, where the sources come
//! without `.git`), else `git rev-parse --short HEAD` in a git checkout, else `unknown`.
//!
//! The script reruns only when that answer can change: the variable, or the checkout's HEAD
//! and the branch it points to, so a commit rebuilds this crate (and what links it), and
//! editing sources does not rerun git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MAILING_BUILD_COMMIT");
    let given = std::env::var("MAILING_BUILD_COMMIT")
        .ok()
        .map(|commit| commit.trim().to_owned())
        .filter(|commit| !commit.is_empty() && is_plain(commit));
    let commit = given
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MAILING_BUILD_COMMIT={commit}");
}

/// A label value that needs no escaping and stays short.
fn is_plain(commit: &str) -> bool {
    commit.len() <= 64
        && commit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn git(args: &[&str]) -> Option<String> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(manifest)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| is_plain(c))?;
    watch_head();
    Some(commit)
}

/// Asks cargo to rerun the script when HEAD moves: HEAD itself (a checkout of another branch
/// or commit) and the branch's ref (a commit on it), which lives in the common directory when
/// this is a linked worktree, or in `packed-refs` when it is not a loose file. Only files that
/// exist are named: cargo reruns on every build for a missing one.
fn watch_head() {
    let absolute = |path: String| -> PathBuf {
        let path = PathBuf::from(path);
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(manifest) if path.is_relative() => Path::new(&manifest).join(path),
            _ => path,
        }
    };
    let (Some(git_dir), Some(common_dir)) = (
        git(&["rev-parse", "--git-dir"]).map(absolute),
        git(&["rev-parse", "--git-common-dir"]).map(absolute),
    ) else {
        return;
    };
    let mut watched = vec![git_dir.join("HEAD")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = common_dir.join(&branch);
        watched.push(if loose.is_file() {
            loose
        } else {
            common_dir.join("packed-refs")
        });
    }
    for path in watched.into_iter().filter(|path| path.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
