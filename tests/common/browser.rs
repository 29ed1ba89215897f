//! Headless Chromium for the tests of burnrate's HTML pages (the backtest report, the
//! daemon's web page): the DOM a real browser builds from a URL (`--dump-dom`), a
//! screenshot of it (`--screenshot`), and the screenshot's pixels, so a test can check
//! what is drawn rather than only that something was.
//!
//! Chromium is required: without it these tests fail (CI installs it with
//! scripts/install-deps.sh). `BURNRATE_CHROMIUM` names another binary. Every browser runs
//! in its own process group, killed whatever happens, with a fresh profile.

#![allow(unsafe_code, reason = "libc: kill the browser's process group")]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one browser run may take.
const DEADLINE: Duration = Duration::from_secs(60);

pub fn find_chromium() -> PathBuf {
    if let Ok(path) = std::env::var("BURNRATE_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "chromium is not installed: this test renders burnrate's HTML pages in a headless \
         browser. Install it (`apt-get install chromium`, or scripts/install-deps.sh) or set \
         BURNRATE_CHROMIUM to a Chromium/Chrome binary."
    );
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout. Panics with its
/// output if it fails or takes more than a minute (then it is killed).
fn run(url: &str, extra: &[String], window: (u32, u32)) -> String {
    let chromium = find_chromium();
    let profile = tempfile::tempdir().unwrap();
    let log = profile.path().join("chromium.log");
    let out = profile.path().join("stdout");
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-proxy-server",
        ])
        .arg(format!("--window-size={},{}", window.0, window.1))
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let pgid = child.id() as i32;
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever happened, no helper process of this browser outlives the test.
    // SAFETY: signals only the process group this test started.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
    let read = |p: &Path| {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(p) {
            let _ = f.read_to_string(&mut text);
        }
        text
    };
    match status {
        Some(s) if s.success() => read(&out),
        Some(s) => panic!(
            "chromium ({s}) failed on {url}. Its output:\n{}",
            read(&log)
        ),
        None => panic!(
            "chromium took more than {DEADLINE:?} on {url}; killed. Its output:\n{}",
            read(&log)
        ),
    }
}

/// The DOM Chromium builds from `url`, serialized.
pub fn dump_dom(url: &str) -> String {
    run(url, &["--dump-dom".to_string()], (1400, 1800))
}

/// Screenshots `url` into `png` at `width`×`height`.
pub fn screenshot(url: &str, png: &Path, width: u32, height: u32) {
    let _ = std::fs::remove_file(png);
    run(
        url,
        &[format!("--screenshot={}", png.display())],
        (width, height),
    );
    assert!(
        png.is_file(),
        "chromium wrote no screenshot {}",
        png.display()
    );
}

/// RGB pixels of a PNG, with its width and height.
pub fn decode(png_path: &Path) -> (Vec<[u8; 3]>, u32, u32) {
    let mut decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (pixels, info.width, info.height)
}

/// `#rrggbb` as RGB.
pub fn hex(colour: &str) -> [u8; 3] {
    let c = colour.trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&c[i..i + 2], 16).unwrap();
    [byte(0), byte(2), byte(4)]
}

/// Pixels within 6 of `colour` in every channel.
pub fn count_near(pixels: &[[u8; 3]], colour: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 6))
        .count()
}

/// The share of pixels that are not near-white (drawn on).
pub fn ink_share(pixels: &[[u8; 3]]) -> f64 {
    let ink = pixels.iter().filter(|p| p.iter().any(|c| *c < 240)).count();
    ink as f64 / pixels.len().max(1) as f64
}
