//! The one waiting loop of the test kit: tests and fixtures poll a condition (a daemon's
//! decision, a webhook's POSTs, Alertmanager's alerts) until it holds or time runs out.

use std::time::{Duration, Instant};

/// Calls `check` every `every` until it returns true or `within` passes; returns whether it
/// did. `check` runs at least once, and once more after the deadline has passed.
pub fn poll_until(within: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}
