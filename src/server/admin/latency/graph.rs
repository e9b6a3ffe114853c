//! LATENCY GRAPH: an event's samples as Redis 7.0 draws them, a header line, a rule of 80
//! dashes, then a filled four-row sparkline (`_`, `o`, `#`, and `|` below a taller column), one
//! column per sample oldest first, each labelled vertically with how long ago it was (`12s`,
//! `3m`, `5h`, `2d`), wrapped every 80 samples.
//!
//! Invariant: the drawing depends only on the samples and `now`, so the same samples give the
//! same bytes as the reference server (the tests compare them).

use super::monitor::{Sample, Series};

/// Columns per band of the graph.
const COLUMNS: usize = 80;
/// Text rows per column height.
const ROWS: usize = 4;
/// The fill characters of one row, lowest first.
const FILL: &[u8; 3] = b"_o#";

pub fn graph(event: &str, series: &Series, now_secs: u64) -> String {
    let samples: Vec<Sample> = series.samples().collect();
    let low = samples.iter().map(|s| s.ms).min().unwrap_or(0);
    let high = samples.iter().map(|s| s.ms).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n",
        series.max
    );
    out.push_str(&"-".repeat(COLUMNS));
    out.push('\n');
    let labels: Vec<Vec<u8>> = samples
        .iter()
        .map(|s| ago(now_secs as i64 - s.unix_secs as i64).into_bytes())
        .collect();
    let values: Vec<u64> = samples.iter().map(|s| s.ms).collect();
    for start in (0..values.len()).step_by(COLUMNS) {
        if start > 0 {
            out.push('\n');
        }
        let end = (start + COLUMNS).min(values.len());
        band(
            &mut out,
            &values[start..end],
            &labels[start..end],
            (low, high),
        );
    }
    out
}

/// How long ago, in the largest unit that keeps it at least 1.
fn ago(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Draws one band of columns: `ROWS` rows of sparkline scaled between the whole graph's
/// `low` and `high`, an empty row, then the labels one character per row.
fn band(out: &mut String, values: &[u64], labels: &[Vec<u8>], (low, high): (u64, u64)) {
    let span = match high - low {
        0 => 1.0,
        d => d as f64,
    };
    let steps = (FILL.len() * ROWS) as i64;
    // Each column's height in steps, 0 ..= steps - 1. The scaled value is truncated to an
    // integer before the division, as the reference computes it.
    let heights: Vec<i64> = values
        .iter()
        .map(|&v| {
            let scaled = ((v - low) as f64 * steps as f64) as i64;
            ((scaled as f64 / span) as i64).clamp(0, steps - 1)
        })
        .collect();
    let mut line = vec![b' '; values.len()];
    for row in 0..ROWS {
        line.fill(b' ');
        // Steps below this row's lowest character.
        let below = ((ROWS - row - 1) * FILL.len()) as i64;
        for (c, &h) in line.iter_mut().zip(&heights) {
            let i = h - below;
            if (0..FILL.len() as i64).contains(&i) {
                *c = FILL[i as usize];
            } else if i >= FILL.len() as i64 {
                *c = b'|';
            }
        }
        push_line(out, &line);
    }
    if values.is_empty() {
        return;
    }
    // A blank row between the graph and the labels.
    line.fill(b' ');
    push_line(out, &line);
    for at in 0.. {
        line.fill(b' ');
        let mut any = false;
        for (c, label) in line.iter_mut().zip(labels) {
            if let Some(&ch) = label.get(at) {
                *c = ch;
                any = true;
            }
        }
        if !any {
            break;
        }
        push_line(out, &line);
    }
}

fn push_line(out: &mut String, line: &[u8]) {
    out.push_str(&String::from_utf8_lossy(line));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes read from redis-server 7.0.15 after DEBUG SLEEP 0.02, then 0.03 a second later.
    #[test]
    fn two_samples_as_redis_draws_them() {
        let mut s = series(&[(1000, 20)]);
        assert_eq!(
            graph("command", &s, 1000),
            format!(
                "command - high 20 ms, low 20 ms (all time high 20 ms)\n{}\n \n \n \n_\n \n0\ns\n",
                "-".repeat(80)
            )
        );
        s = series(&[(1000, 20), (1001, 30)]);
        assert_eq!(
            graph("command", &s, 1001),
            format!(
                "command - high 30 ms, low 20 ms (all time high 30 ms)\n{}\n #\n |\n |\n_|\n  \n10\nss\n",
                "-".repeat(80)
            )
        );
    }

    #[test]
    fn labels_and_bands() {
        assert_eq!(ago(59), "59s");
        assert_eq!(ago(60), "1m");
        assert_eq!(ago(7200), "2h");
        assert_eq!(ago(2 * 86400), "2d");
        let points: Vec<(u64, u64)> = (0..100).map(|i| (1000 + i, i + 1)).collect();
        let g = graph("e", &series(&points), 1099);
        // Two bands: 80 columns, then 20, separated by an empty line.
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[2].len(), 80);
        assert!(lines.contains(&""));
        assert_eq!(lines.last().map(|l| l.len()), Some(20));
    }

    fn series(points: &[(u64, u64)]) -> Series {
        Series::from_points(points)
    }
}
