//! The geohash behind GEO commands: a point is a cell of 26 bits per axis over longitude
//! [-180, 180] and latitude [-85.05112878, 85.05112878], the two axes' bits interleaved into
//! 52 (latitude in the even bits), and a GEO member's sorted-set score is that integer. Also
//! the distance on Redis's sphere and the nine cells a radius or box search scans.
//!
//! Invariant: every computation is done in f64 with Redis's formulas and order of operations
//! (and the platform's libm, as Redis uses it), so scores, decoded coordinates, distances and
//! the cells scanned (hence the order of unsorted search results) are Redis's bit for bit.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per axis of a member's cell.
pub const STEP_MAX: u8 = 26;
const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Earth's circumference in Web Mercator metres: the widest a cell can be.
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(d: f64) -> f64 {
    d * D_R
}

fn rad_deg(r: f64) -> f64 {
    r / D_R
}

#[derive(Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The ranges member scores are encoded over.
pub const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A cell: `2 * step` interleaved bits.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    /// A neighbor a search skips (Redis zeroes the useless ones).
    const NONE: Cell = Cell { bits: 0, step: 0 };

    fn is_none(self) -> bool {
        self == Cell::NONE
    }

    /// The cell's first 52-bit score; the next cell's is the end of its score range.
    pub fn score_range(self) -> (u64, u64) {
        let shift = 52 - 2 * self.step as u32;
        (self.bits << shift, (self.bits + 1) << shift)
    }
}

/// A cell's extent.
#[derive(Clone, Copy)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

/// Spreads the 32 bits of `v` over the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The even bits of `v`, packed.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Whether a longitude/latitude pair can be stored (Web Mercator's limits).
pub fn valid(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The cell of `step` bits per axis holding the point, over the given ranges.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !valid(lon, lat) || lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Cell {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    })
}

/// The 52-bit score of a point (`None` outside the storable range).
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, STEP_MAX).map(|c| c.bits)
}

/// The extent of a cell encoded over the given ranges.
pub fn decode(lon_r: Range, lat_r: Range, cell: Cell) -> Area {
    let ilat = squash(cell.bits);
    let ilon = squash(cell.bits >> 1);
    let div = (1u64 << cell.step) as f64;
    let (lat_scale, lon_scale) = (lat_r.max - lat_r.min, lon_r.max - lon_r.min);
    Area {
        lat: Range {
            min: lat_r.min + (ilat as f64 / div) * lat_scale,
            max: lat_r.min + (ilat.wrapping_add(1) as f64 / div) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilon as f64 / div) * lon_scale,
            max: lon_r.min + (ilon.wrapping_add(1) as f64 / div) * lon_scale,
        },
    }
}

/// A member's score as Redis reads a geohash from it: the C cast of a double to a 64-bit
/// unsigned integer as compiled for x86-64 (a score GEOADD did not write, such as -3 or
/// `inf`, still gives Redis's bits: a negative value wraps, `-inf` is 2^63 and `inf` 0, where
/// Rust's cast would saturate).
pub fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // `cvttsd2si`: truncation, or i64::MIN for NaN and values out of range.
    let cvt = |x: f64| -> i64 {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    };
    if score < TWO_63 {
        cvt(score) as u64
    } else {
        (cvt(score - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The point a member's score stands for: its cell's centre, clamped to the valid range.
pub fn position(score: u64) -> (f64, f64) {
    let area = decode(
        LONG_RANGE,
        LAT_RANGE,
        Cell {
            bits: score,
            step: STEP_MAX,
        },
    );
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash of a member's point (re-encoded over latitude
/// [-90, 90]; the 11th character stands for bits Redis does not have, so it is always '0').
pub fn geohash_string(score: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = position(score);
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(LONG_RANGE, std_lat, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    (0..11)
        .map(|i| {
            let idx = if i == 10 {
                0
            } else {
                (bits >> (52 - (i + 1) * 5)) & 0x1f
            };
            ALPHABET[idx as usize] as char
        })
        .collect()
}

/// Metres along the latitude only.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance in metres (haversine on Redis's sphere).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (deg_rad(lon1), deg_rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same meridian: only the latitude differs (Redis's shortcut, kept for its rounding).
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What a search covers, in `unit`s (`to_m` metres each), around `(lon, lat)`.
#[derive(Clone, Copy)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub to_m: f64,
    pub kind: ShapeKind,
}

#[derive(Clone, Copy)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// The distance from the centre to a point inside the shape, `None` outside.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.to_m).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (w, h) = (width * self.to_m, height * self.to_m);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` around the shape.
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.kind {
            ShapeKind::Radius(r) => (self.to_m * r, self.to_m * r),
            ShapeKind::Box { width, height } => {
                (self.to_m * (height / 2.0), self.to_m * (width / 2.0))
            }
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        // Towards the pole the wider side is the top one in the north, the bottom one in the
        // south.
        let delta = if self.lat < 0.0 { bottom } else { top };
        [
            self.lon - delta,
            self.lat - lat_delta,
            self.lon + delta,
            self.lat + lat_delta,
        ]
    }

    /// The search radius in metres: the circle's, or the box's half diagonal.
    fn reach_m(&self) -> f64 {
        let r = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.to_m
    }
}

/// Cell size (bits per axis) for a search of `range_m` metres at latitude `lat`.
fn steps_for(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Include the range in most cases, and widen towards the poles.
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// One axis move of a cell: `odd` moves longitude (east/west), else latitude.
fn moved(cell: Cell, odd: bool, forward: bool) -> Cell {
    let width = 64 - 2 * cell.step as u32;
    let (mine, other) = if odd {
        (0xAAAA_AAAA_AAAA_AAAAu64, 0x5555_5555_5555_5555u64)
    } else {
        (0x5555_5555_5555_5555u64, 0xAAAA_AAAA_AAAA_AAAAu64)
    };
    let mut m = cell.bits & mine;
    let keep = cell.bits & other;
    // The other axis's bits, set, make the add/subtract carry across them.
    let filler = other.checked_shr(width).unwrap_or(0);
    if forward {
        m = m.wrapping_add(filler.wrapping_add(1));
    } else {
        m |= filler;
        m = m.wrapping_sub(filler.wrapping_add(1));
    }
    m &= mine.checked_shr(width).unwrap_or(0);
    Cell {
        bits: m | keep,
        step: cell.step,
    }
}

/// The cells a search scans, in Redis's order: the centre's, then north, south, east, west,
/// north-east, north-west, south-east, south-west (`Cell::NONE` for the skipped ones).
pub fn search_cells(shape: &Shape) -> [Cell; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounds();
    let mut steps = steps_for(shape.reach_m(), shape.lat);
    let around = |steps: u8| {
        let c = encode(LONG_RANGE, LAT_RANGE, shape.lon, shape.lat, steps).unwrap_or(Cell {
            bits: 0,
            step: steps,
        });
        let e = moved(c, true, true);
        let w = moved(c, true, false);
        let n = moved(c, false, true);
        let s = moved(c, false, false);
        let ne = moved(moved(c, true, true), false, true);
        let nw = moved(moved(c, true, false), false, true);
        let se = moved(moved(c, true, true), false, false);
        let sw = moved(moved(c, true, false), false, false);
        [c, n, s, e, w, ne, nw, se, sw]
    };
    let mut cells = around(steps);
    let area = |c: Cell| decode(LONG_RANGE, LAT_RANGE, c);
    // Near the edge of the covered area a neighbour can be too close to cover the whole
    // search: use cells twice as large.
    let too_small = area(cells[1]).lat.max < max_lat
        || area(cells[2]).lat.min > min_lat
        || area(cells[3]).lon.max < max_lon
        || area(cells[4]).lon.min > min_lon;
    if steps > 1 && too_small {
        steps -= 1;
        cells = around(steps);
    }
    // Drop the neighbours the search cannot reach.
    if steps >= 2 {
        let centre = area(cells[0]);
        let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = Cell::NONE);
        if centre.lat.min < min_lat {
            drop([2, 8, 7]);
        }
        if centre.lat.max > max_lat {
            drop([1, 5, 6]);
        }
        if centre.lon.min < min_lon {
            drop([4, 8, 6]);
        }
        if centre.lon.max > max_lon {
            drop([3, 7, 5]);
        }
    }
    cells
}

/// The cells of `search_cells` Redis actually scans, in order: none of the skipped ones, and
/// none equal to the neighbour scanned just before it (huge radii make neighbours coincide;
/// as in Redis, a neighbour is not compared with the centre's cell).
pub fn cells_to_scan(cells: &[Cell; 9]) -> Vec<Cell> {
    let mut out = Vec::with_capacity(9);
    let mut last = 0;
    for (i, &c) in cells.iter().enumerate() {
        if c.is_none() || (last != 0 && cells[last] == c) {
            continue;
        }
        out.push(c);
        last = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_positions_are_redis_s() {
        // From redis-server 7.0: GEOADD Sicily 13.361389 38.115556 Palermo, then ZSCORE and
        // GEOPOS, GEOHASH, GEODIST.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = position(3479099956230698);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(geohash_string(3479099956230698), "sqc8b49rny0");
        let (lon2, lat2) = position(score_of(15.087269, 37.502669).unwrap());
        assert_eq!(
            format!("{:.4}", distance(lon, lat, lon2, lat2)),
            "166274.1516"
        );
        assert_eq!(score_of(181.0, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn scores_convert_as_c_casts_them_on_x86_64() {
        assert_eq!(score_bits(3479099956230698.0), 3479099956230698);
        assert_eq!(score_bits(-3.0), (-3i64) as u64);
        assert_eq!(score_bits(1e19), 10_000_000_000_000_000_000);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
    }

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(squash(spread(v) << 1 >> 1), v);
        }
    }
}
