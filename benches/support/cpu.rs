//! CPU time of this process's threads, split into the bench server's and
//! the load generator's, so a comparison can tell whose cost moved.

use super::SERVER_THREAD;

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time so far of this process's threads, in clock ticks: the bench
/// server's ([`SERVER_THREAD`]) and all the others. Linux only; zero
/// elsewhere.
pub fn cpu_ticks() -> (u64, u64) {
    let (mut server, mut others) = (0, 0);
    let server_comm = format!("({SERVER_THREAD}");
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: utime and stime are the 12th and 13th
        // fields after the parenthesis.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .map(|both| {
                both.iter()
                    .filter_map(|field| field.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        if head.ends_with(&server_comm) {
            server += ticks;
        } else {
            others += ticks;
        }
    }
    (server, others)
}

/// The process's resident memory, MiB (zero where `/proc` is not there).
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
