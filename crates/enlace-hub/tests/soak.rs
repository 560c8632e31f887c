//! The fault soak, short version (20 agents, ~25 s, one hub `SIGKILL` + restart, one AMI
//! disconnect, AMI link resets and stalls, a faulty network between agents and hub): what was
//! produced matches exactly what the hub recorded and what each agent's stream delivered.
//! `cargo xtask soak` runs the same test longer and with more agents (see `soak_harness`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod soak_harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn produced_recorded_and_streamed_match_under_faults() {
    let params = soak_harness::Params::from_env(20, 25);
    let outcome = soak_harness::run(params.clone()).await;
    assert!(
        outcome.mismatches.is_empty(),
        "{} mismatches (seed {}):\n{}\n{}",
        outcome.mismatches.len(),
        params.seed,
        outcome.summary,
        outcome.mismatches.join("\n")
    );
}
