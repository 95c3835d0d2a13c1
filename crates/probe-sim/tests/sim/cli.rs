//! The binary's jobs besides serving: minting tokens, and refusing bad settings at start.

use probe_sim::DEV_JWT_SECRET;
use probe_sim::token::{Rejection, Verifier};
use std::process::{Command, Output};

fn probe_sim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_probe-sim"));
    // The tests decide the environment the binary sees.
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("PROBE_SIM_")) {
        command.env_remove(key);
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("probe-sim runs")
}

fn minted(output: Output) -> String {
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).expect("utf-8");
    format!("Bearer {}", token.trim())
}

#[test]
fn token_signs_with_the_given_secret() {
    let header = minted(probe_sim(
        &["token", "--secret", "cli-secret", "--ttl-seconds", "60"],
        &[],
    ));
    assert_eq!(
        Verifier::new(b"cli-secret").check_header(Some(header.as_bytes())),
        Ok(())
    );
    assert_eq!(
        Verifier::new(b"other").check_header(Some(header.as_bytes())),
        Err(Rejection::Invalid)
    );
}

#[test]
fn token_defaults_to_the_configured_secret() {
    let header = minted(probe_sim(
        &["token"],
        &[("PROBE_SIM_JWT_SECRET", "from-env")],
    ));
    assert_eq!(
        Verifier::new(b"from-env").check_header(Some(header.as_bytes())),
        Ok(())
    );
    let header = minted(probe_sim(&["token"], &[]));
    assert_eq!(
        Verifier::new(DEV_JWT_SECRET.as_bytes()).check_header(Some(header.as_bytes())),
        Ok(())
    );
}

#[test]
fn token_can_be_minted_expired() {
    let header = minted(probe_sim(
        &["token", "--secret", "s", "--ttl-seconds", "-10"],
        &[],
    ));
    assert_eq!(
        Verifier::new(b"s").check_header(Some(header.as_bytes())),
        Err(Rejection::Expired)
    );
}

#[test]
fn bad_settings_stop_the_start_with_a_reason() {
    let output = probe_sim(&["--addr", "127.0.0.1:0", "--error-500-share", "2"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error_500_share"), "{stderr}");

    let output = probe_sim(&[], &[("PROBE_SIM_LATENCY_MS", "9..1")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PROBE_SIM_LATENCY_MS"), "{stderr}");
}
