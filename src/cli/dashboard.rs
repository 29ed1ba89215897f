//! `burnrate dashboard`: prints (or writes) the Grafana dashboard of the specs.

use super::DashboardArgs;
use super::common::{load_specs, write_atomic};
use crate::error::{Error, Result, exit};
use crate::rules::Buckets;
use std::io::Write;

pub(crate) fn run(args: DashboardArgs) -> Result<i32> {
    let mut buckets = Buckets::default();
    for b in &args.buckets {
        buckets.add(b).map_err(Error::Usage)?;
    }
    let (specs, _) = load_specs(&args.specs)?;
    let dashboard =
        crate::dashboard::dashboard(&specs, args.source, &buckets, args.title.as_deref());
    let mut text = serde_json::to_string_pretty(&dashboard).expect("the dashboard serializes");
    text.push('\n');
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::Internal(format!("cannot write the dashboard: {e}")))?;
        }
    }
    Ok(exit::OK)
}
