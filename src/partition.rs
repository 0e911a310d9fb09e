//! `--partition slice:M/N`: one deterministic share of a run's work, as cargo-nextest deals
//! tests out to CI machines.

use std::fmt;
use std::str::FromStr;

/// Share `index` (1-based) of `count`: the units at positions p with p mod count = index − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    /// Whether the unit at `position` (0-based, in the run's canonical order) is in this share.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Partition, String> {
        let invalid = || format!("`{text}` is not a partition: write `slice:M/N` with 1 <= M <= N");
        let share = text.strip_prefix("slice:").ok_or_else(invalid)?;
        let (index, count) = share.split_once('/').ok_or_else(invalid)?;
        let index: u32 = index.trim().parse().map_err(|_| invalid())?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        if index == 0 || count == 0 || index > count {
            return Err(invalid());
        }
        Ok(Partition { index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slice:{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_deal_positions_out_in_turn() {
        let second: Partition = "slice:2/3".parse().unwrap();
        let taken: Vec<usize> = (0..8).filter(|&p| second.contains(p)).collect();
        assert_eq!(taken, [1, 4, 7]);
        assert_eq!(second.to_string(), "slice:2/3");
    }

    #[test]
    fn every_position_is_in_exactly_one_share() {
        for count in 1..=5 {
            for position in 0..17 {
                let holders = (1..=count)
                    .filter(|&index| Partition { index, count }.contains(position))
                    .count();
                assert_eq!(holders, 1, "position {position} of {count} shares");
            }
        }
    }

    #[test]
    fn malformed_partitions_are_rejected() {
        for text in ["slice:0/2", "slice:3/2", "2/3", "slice:a/b", "slice:1/0"] {
            assert!(text.parse::<Partition>().is_err(), "{text}");
        }
    }
}
