//! The progress bar every long operator command draws, one style for all.

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result};

/// A bar of `steps` steps drawn with `template` (indicatif's syntax, e.g.
/// `{bar:40} {pos}/{len} days  {msg}`).
pub fn bar(steps: usize, template: &str) -> Result<ProgressBar> {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(ProgressStyle::with_template(template).map_err(Error::internal)?);
    Ok(bar)
}
