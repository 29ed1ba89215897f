//! Headless Chromium, for the tests that check what a person sees in an HTML page
//! (`backtest --report`, `report --format html`): a screenshot to count pixels in, or the
//! DOM after parsing to read text from.
//!
//! Chromium is required: without it these tests fail (CI installs it with
//! scripts/install-deps.sh). `BURNRATE_CHROMIUM` names another binary. Each run gets its
//! own profile directory and is killed, with every helper process it started (its process
//! group), after 60 s at the latest.

#![allow(unsafe_code, reason = "libc: kill the browser's process group")]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
        "chromium is not installed: this test renders an HTML page in a headless \
         browser. Install it (`apt-get install chromium`, or scripts/install-deps.sh) or set \
         BURNRATE_CHROMIUM to a Chromium/Chrome binary."
    );
}

/// Runs headless Chromium on the file `html` with `args` (e.g. `--screenshot=PNG`,
/// `--dump-dom`); returns its exit status, its stdout and its stderr. Panics when it
/// takes longer than a minute.
pub fn headless(html: &Path, args: &[String]) -> (ExitStatus, String, String) {
    let chromium = find_chromium();
    let profile = tempfile::tempdir().unwrap();
    let out_path = profile.path().join("stdout");
    let err_path = profile.path().join("stderr");
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
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(args)
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
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
        std::thread::sleep(Duration::from_millis(100));
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
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    let Some(status) = status else {
        panic!(
            "chromium took more than {DEADLINE:?} on {}; killed. Its output:\n{stderr}",
            html.display()
        );
    };
    (status, stdout, stderr)
}

/// Screenshots `html` into `png` in a window of `width` x `height` pixels.
pub fn screenshot(html: &Path, png: &Path, width: u32, height: u32) {
    let _ = std::fs::remove_file(png);
    let (status, _, stderr) = headless(
        html,
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png.display()),
        ],
    );
    assert!(
        png.is_file(),
        "chromium ({status}) wrote no screenshot {}. Its output:\n{stderr}",
        png.display()
    );
}

/// The DOM of `html` after Chromium parsed it, serialized (what `--dump-dom` prints).
pub fn dump_dom(html: &Path) -> String {
    let (status, stdout, stderr) = headless(html, &["--dump-dom".to_string()]);
    assert!(
        status.success() && stdout.contains("</html>"),
        "chromium ({status}) dumped no DOM of {}. Its output:\n{stderr}",
        html.display()
    );
    stdout
}
