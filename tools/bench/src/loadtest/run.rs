//! Everything one run measured, and how: what the targets are judged on and the report is written
//! from. Its own module so that both depend on it and not on each other.

use std::time::Duration;

use resetgate::calibrate::Capacity;
use resetgate::hashing::params::HashParams;

use super::gateway::{Series, Settings};
use super::phase::{PhaseResult, Plan};

/// Everything one run measured, and how.
pub struct Run {
    pub capacity: Capacity,
    /// C measured again after the last series, the same way.
    pub capacity_after: Capacity,
    /// Share of the CPU other processes used just before that second measurement.
    pub busy_after: f64,
    pub params: HashParams,
    /// How long C was measured for.
    pub calibration: Duration,
    pub plan: Plan,
    pub settings: Settings,
    pub series: Vec<Series>,
    /// Machine-wide CPU use just before the run.
    pub background_cpu: f64,
    pub command: String,
    pub phases: Vec<PhaseResult>,
}

impl Run {
    /// RSS growth of a phase over the pool's fixed hashing memory W x m_cost.
    #[must_use]
    pub fn rss_ratio(&self, p: &PhaseResult) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
        let growth = p.usage.rss_growth_kib() as f64;
        #[allow(clippy::cast_precision_loss, reason = "a worker count")]
        let w = self.capacity.workers as f64;
        growth / (w * f64::from(self.params.m_kib))
    }

    /// The series that have results, in run order.
    pub fn measured(&self) -> impl Iterator<Item = &Series> {
        self.series
            .iter()
            .filter(|s| self.phases.iter().any(|p| p.series == s.label))
    }

    /// The phases of the series labelled `label`.
    pub fn phases_of<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a PhaseResult> {
        self.phases.iter().filter(move |p| p.series == label)
    }
}
