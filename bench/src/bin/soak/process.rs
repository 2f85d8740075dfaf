//! The process's footprint, read from /proc: what a leak would move.

/// One sample of the footprint.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rss_kib: u64,
    pub fds: u64,
}

/// Resident set size in KiB (`VmRSS`), 0 where /proc is missing.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors, 0 where /proc is missing.
fn fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count() as u64)
        .unwrap_or(0)
}

pub fn sample() -> Sample {
    Sample {
        rss_kib: rss_kib(),
        fds: fds(),
    }
}

/// Growth across the second half of the run: the median of the last tenth
/// of samples against the median of the tenth just after the middle
/// (medians, so one burst of stalled connections is not taken for a leak).
pub fn growth(samples: &[Sample], value: fn(&Sample) -> u64) -> Option<f64> {
    let n = samples.len();
    if n < 20 {
        return None;
    }
    let median = |slice: &[Sample]| {
        let mut values: Vec<u64> = slice.iter().map(value).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    let tenth = n / 10;
    let middle = median(&samples[n / 2..n / 2 + tenth]);
    let end = median(&samples[n - tenth..]);
    (middle > 0).then(|| end as f64 / middle as f64 - 1.0)
}
