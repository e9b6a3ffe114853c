//! LOLWUT: the server's version line, after a generated drawing for `VERSION 5`, a take on
//! Georg Nees's *Schotter* (1968): rows of squares falling into more disorder row by row,
//! drawn with Braille characters (2×4 dots each) as Redis draws it.
//!
//! Invariant: the output is bounded whatever the arguments (columns, squares per row and per
//! column are clamped as Redis clamps them), and the drawing never reads outside its canvas.

use crate::commands::parse_i64;
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;
use rand::Rng;

/// `LOLWUT [VERSION v [columns [squares-per-row [squares-per-column]]]]`, already known to
/// start with `args[0]` = LOLWUT.
pub fn lolwut(args: &[Bytes], version: &str) -> Result<Reply, CommandError> {
    let mut art = None;
    if args.len() > 1 && crate::commands::is(&args[1], "VERSION") {
        if let Some(v) = args.get(2) {
            // Only version 5's drawing is made here (Redis 6's is drawn from a game's
            // picture); the others, as in Redis for versions without art, print no drawing
            // and take no further arguments.
            if parse_i64(v).ok_or(CommandError::NotInteger)? == 5 {
                let mut nums = [66i64, 8, 12];
                for (slot, a) in nums.iter_mut().zip(args.iter().skip(3)) {
                    *slot = parse_i64(a).ok_or(CommandError::NotInteger)?;
                }
                let [cols, per_row, per_col] = nums;
                art = Some(schotter(
                    cols.clamp(1, 1000) as usize,
                    per_row.clamp(1, 200) as usize,
                    per_col.clamp(1, 200) as usize,
                ));
            }
        }
    }
    let text = match art {
        Some(a) => {
            format!("{a}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {version}\n")
        }
        None => format!("Redis ver. {version}\n"),
    };
    Ok(Reply::Verbatim("txt", Bytes::from(text)))
}

/// A dot canvas, `w` × `h` pixels.
struct Canvas {
    w: usize,
    h: usize,
    dots: Vec<bool>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64) {
        if (0..self.w as i64).contains(&x) && (0..self.h as i64).contains(&y) {
            self.dots[y as usize * self.w + x as usize] = true;
        }
    }

    /// A straight line by Bresenham's stepping.
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = ((x1 - x0).signum(), (y1 - y0).signum());
        let mut err = dx + dy;
        loop {
            self.set(x0, y0);
            if (x0, y0) == (x1, y1) {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    /// Braille text: each character covers 2 columns and 4 rows of dots.
    fn render(&self) -> String {
        // Bit of each dot in a Braille cell, by (column, row).
        const BIT: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let mut out = String::new();
        for cy in 0..self.h.div_ceil(4) {
            for cx in 0..self.w.div_ceil(2) {
                let mut bits = 0;
                for (dx, column) in BIT.iter().enumerate() {
                    for (dy, bit) in column.iter().enumerate() {
                        let (x, y) = (cx * 2 + dx, cy * 4 + dy);
                        if x < self.w && y < self.h && self.dots[y * self.w + x] {
                            bits |= bit;
                        }
                    }
                }
                out.push(char::from_u32(0x2800 + bits).unwrap_or(' '));
            }
            out.push('\n');
        }
        out
    }
}

/// `per_row` × `per_col` squares on a canvas `cols` characters wide; row `r` is turned and
/// shifted at random by up to `r / per_col` of the most disorder (a quarter turn, half a side).
fn schotter(cols: usize, per_row: usize, per_col: usize) -> String {
    let w = cols * 2;
    let pad = if w > 4 { 2 } else { 0 };
    let side = ((w - pad * 2) / per_row).max(1);
    let h = side * per_col + pad * 2;
    let mut canvas = Canvas {
        w,
        h,
        dots: vec![false; w * h],
    };
    let mut rng = rand::thread_rng();
    for r in 0..per_col {
        let disorder = r as f64 / per_col as f64;
        for c in 0..per_row {
            let half = side as f64 / 2.0;
            let cx = (pad + c * side) as f64 + half + rng.gen_range(-1.0..=1.0) * disorder * half;
            let cy = (pad + r * side) as f64 + half + rng.gen_range(-1.0..=1.0) * disorder * half;
            let turn = rng.gen_range(-1.0..=1.0) * disorder * std::f64::consts::FRAC_PI_4;
            let corner = |k: usize| {
                let a = turn + std::f64::consts::FRAC_PI_4 + k as f64 * std::f64::consts::FRAC_PI_2;
                let d = half * std::f64::consts::SQRT_2;
                (
                    (cx + d * a.cos()).round() as i64,
                    (cy + d * a.sin()).round() as i64,
                )
            };
            for k in 0..4 {
                canvas.line(corner(k), corner((k + 1) % 4));
            }
        }
    }
    canvas.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braille_cells_and_bounds() {
        let mut c = Canvas {
            w: 4,
            h: 4,
            dots: vec![false; 16],
        };
        c.line((0, 0), (0, 3));
        c.set(3, 3);
        c.set(9, 9); // outside: ignored
        assert_eq!(c.render(), "\u{2847}\u{2880}\n");
        // Every size stays within its canvas, the smallest included.
        for (cols, r, k) in [(1, 1, 1), (3, 200, 1), (66, 8, 12), (10, 1, 200)] {
            let art = schotter(cols, r, k);
            assert!(
                art.lines().all(|l| l.chars().count() == cols),
                "{cols} {r} {k}"
            );
        }
    }
}
