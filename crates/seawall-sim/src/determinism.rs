//! The determinism guard: a simulated run repeats only if nothing inside it drew a random seed.

use std::fmt;
use std::future::Future;

use seawall_core::rng::entropy_seedings_on_this_thread;

/// A simulated run in which some layer seeded its random generator from entropy (for
/// example a retry layer built without `.seed(..)`), so the run will not repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unrepeatable {
    seedings: u64,
}

impl Unrepeatable {
    /// How many generators were seeded from entropy during the run.
    pub fn seedings(&self) -> u64 {
        self.seedings
    }
}

impl fmt::Display for Unrepeatable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} random generator(s) were seeded from entropy during a simulated run, so it \
             will not repeat: give every layer a seed",
            self.seedings
        )
    }
}

impl std::error::Error for Unrepeatable {}

fn runtime() -> tokio::runtime::Runtime {
    #[allow(clippy::expect_used)]
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("failed to build a tokio runtime")
}

/// Runs `future` to completion on a fresh current-thread runtime whose clock starts paused,
/// so that sleeps complete instantly, in order, and repeatably.
///
/// If a layer seeds a generator from entropy during the run (see
/// [`seawall_core::rng::Rng::from_entropy`]), the run will not repeat: this logs a `WARN`
/// event at the target `seawall::sim`. [`run_deterministic`] refuses such a run instead.
///
/// # Panics
///
/// If the runtime cannot be built (the OS refused the resources a runtime needs), or if
/// `future` panics.
pub fn run_paused<F: Future>(future: F) -> F::Output {
    let before = entropy_seedings_on_this_thread();
    let output = runtime().block_on(future);
    let seedings = entropy_seedings_on_this_thread().wrapping_sub(before);
    if seedings > 0 {
        tracing::warn!(target: "seawall::sim", "{}", Unrepeatable { seedings });
    }
    output
}

/// Like [`run_paused`], but refuses a run in which anything seeded a random generator from
/// entropy: the lab runs every scenario this way.
///
/// The check counts the seedings made on this thread while the run lasts; every task of a
/// current-thread runtime runs here, so layers built inside the run are all seen (build the
/// stack inside the future, not before it).
///
/// ```
/// use seawall_core::rng::Rng;
/// use seawall_sim::run_deterministic;
///
/// assert!(run_deterministic(async { Rng::from_seed(1).next_u64() }).is_ok());
/// let unseeded = run_deterministic(async { Rng::from_entropy().next_u64() });
/// assert_eq!(unseeded.unwrap_err().seedings(), 1);
/// ```
///
/// # Errors
///
/// [`Unrepeatable`] when a generator was seeded from entropy during the run.
///
/// # Panics
///
/// As [`run_paused`].
pub fn run_deterministic<F: Future>(future: F) -> Result<F::Output, Unrepeatable> {
    let before = entropy_seedings_on_this_thread();
    let output = runtime().block_on(future);
    match entropy_seedings_on_this_thread().wrapping_sub(before) {
        0 => Ok(output),
        seedings => Err(Unrepeatable { seedings }),
    }
}
