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

/// The footprint across the second half of the run: the median of the
/// third quarter of samples and of the last quarter (medians of whole
/// quarters, so a burst of stalled connections or a slow stretch of a
/// shared machine is not taken for a leak). `None` for very short runs.
pub fn second_half(samples: &[Sample], value: fn(&Sample) -> u64) -> Option<(u64, u64)> {
    let n = samples.len();
    if n < 20 {
        return None;
    }
    let median = |slice: &[Sample]| {
        let mut values: Vec<u64> = slice.iter().map(value).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    Some((median(&samples[n / 2..3 * n / 4]), median(&samples[3 * n / 4..])))
}
