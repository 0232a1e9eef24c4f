//! How far `audit export` is, on stderr, so that stdout (or the `-o` file) holds the export and
//! nothing else. On a terminal: a progress bar over the number of records the export will write,
//! which the facade counts before the first one. Anywhere else (a log file, a pipe, CI, the
//! tests): the plain running count it always printed, `exported N records`, at most once per
//! page, because a bar's redraws would only be noise there.

use gatehouse::ExportProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;

/// Plain mode writes a count at most once per this many records (one page of the export).
const PLAIN_EVERY: u64 = 1000;

/// The bar: a wide bar, the count against the total, and the time left.
const BAR_TEMPLATE: &str = "{wide_bar} {pos}/{len} records ({eta} left)";

/// Progress of one export; see the module documentation.
pub enum ExportMeter<W: Write> {
    /// A bar drawn by indicatif (on stderr, or hidden in tests).
    Bar(ProgressBar),
    /// Running-count lines on `out`; `shown` is the count last written.
    Plain {
        /// Where the lines go.
        out: W,
        /// The count last written.
        shown: u64,
    },
}

impl ExportMeter<std::io::Stderr> {
    /// A bar when `bar` (stderr is a terminal and the export does not go to that same terminal,
    /// where the bar would be redrawn over the records), plain lines on stderr otherwise.
    pub fn on_stderr(bar: bool) -> Self {
        if bar {
            ExportMeter::bar(ProgressDrawTarget::stderr())
        } else {
            ExportMeter::Plain {
                out: std::io::stderr(),
                shown: 0,
            }
        }
    }
}

impl<W: Write> ExportMeter<W> {
    /// A bar on `target`; its length is set from the first report.
    pub fn bar(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(None, target);
        // The template is a constant that parses; the default style is a fine fallback anyway.
        bar.set_style(
            ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        ExportMeter::Bar(bar)
    }

    /// Take one report of the facade's export.
    pub fn update(&mut self, p: ExportProgress) {
        match self {
            ExportMeter::Bar(bar) => {
                if bar.length() != Some(p.total) {
                    bar.set_length(p.total);
                }
                bar.set_position(p.written);
            }
            ExportMeter::Plain { out, shown } => {
                let due = p.written >= shown.saturating_add(PLAIN_EVERY) || p.written == p.total;
                if p.written > *shown && due {
                    // Progress is a courtesy: a closed stderr must not fail the export.
                    let _ = write!(out, "\rexported {} records", p.written);
                    *shown = p.written;
                }
            }
        }
    }

    /// The export finished with `total` records: remove the bar, and end with the count line
    /// (both modes, so a terminal keeps a record of what was written).
    pub fn finish(self, total: u64) {
        match self {
            ExportMeter::Bar(bar) => {
                bar.finish_and_clear();
                eprintln!("exported {total} records");
            }
            ExportMeter::Plain { mut out, .. } => {
                let _ = writeln!(out, "\rexported {total} records");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(written: u64, total: u64) -> ExportProgress {
        ExportProgress { written, total }
    }

    #[test]
    fn the_bar_runs_over_the_total_counted_up_front() {
        let mut meter: ExportMeter<Vec<u8>> = ExportMeter::bar(ProgressDrawTarget::hidden());
        meter.update(at(0, 2500));
        let ExportMeter::Bar(bar) = &meter else {
            panic!("not a bar")
        };
        assert_eq!((bar.length(), bar.position()), (Some(2500), 0));
        meter.update(at(1700, 2500));
        let ExportMeter::Bar(bar) = &meter else {
            panic!("not a bar")
        };
        assert_eq!(bar.position(), 1700);
        let bar = bar.clone();
        meter.finish(2500);
        assert!(bar.is_finished());
    }

    #[test]
    fn plain_lines_show_the_running_count_once_per_page_and_at_the_end() {
        let mut meter = ExportMeter::Plain {
            out: Vec::new(),
            shown: 0,
        };
        for n in 0..=2500 {
            meter.update(at(n, 2500));
        }
        let ExportMeter::Plain { out, .. } = &meter else {
            panic!("not plain")
        };
        assert_eq!(
            String::from_utf8_lossy(out),
            "\rexported 1000 records\rexported 2000 records\rexported 2500 records"
        );
        let mut empty = ExportMeter::Plain {
            out: Vec::new(),
            shown: 0,
        };
        empty.update(at(0, 0));
        let ExportMeter::Plain { out, .. } = &empty else {
            panic!("not plain")
        };
        assert!(out.is_empty(), "nothing to report before the first record");
    }
}
