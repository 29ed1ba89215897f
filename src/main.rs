//! The `burnrate` binary: a thin shell over the library's CLI.

#![forbid(unsafe_code)]

fn main() {
    std::process::exit(burnrate::cli::run(std::env::args_os()));
}
