//! The clock under the fake applications ([`super::exporter`], [`super::route_exporter`]): a
//! background thread that calls a closure every tick with the seconds since the last call,
//! so counters advance in real time by `rate × elapsed` whatever the scheduler does. Stopped
//! (and joined) on drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Calls `advance(elapsed_seconds)` every `every` until dropped.
    pub fn start(every: Duration, mut advance: impl FnMut(f64) + Send + 'static) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(every);
                    let now = Instant::now();
                    advance(now.duration_since(last).as_secs_f64());
                    last = now;
                }
            })
        };
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
