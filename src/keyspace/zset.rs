//! Sorted set value. Placeholder representation; the sorted-set family owns this file.

use super::str::Str;
use std::collections::{BTreeSet, HashMap};

/// A score with a total order (NaN never stored).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

#[derive(Clone, Default, Debug)]
pub struct ZSet {
    pub scores: HashMap<Str, f64>,
    pub order: BTreeSet<(Score, Str)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}
