//! Where the CPU went during the timed phase, from Linux `/proc` (absent elsewhere): the whole
//! machine's busy time, the generator's own, and optionally the server process's. What is left
//! (machine − server − generator − database) is anything else running.

use std::time::Duration;

/// `/proc` reports CPU time in USER_HZ ticks, which the kernel ABI fixes at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;
/// `/proc/stat` and `/proc/<pid>/stat` are a few kilobytes; read no more than this.
const MAX_PROC_BYTES: u64 = 64 * 1024;

/// CPU counters at one instant (ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    machine_busy: u64,
    own: u64,
    server: Option<u64>,
    database: Option<u64>,
}

/// CPU seconds spent between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// All CPUs of the machine, busy (not idle/iowait).
    pub machine: f64,
    /// The load generator.
    pub generator: f64,
    /// The server process, when its pid was given.
    pub server: Option<f64>,
    /// Every process with the database's command name, when given.
    pub database: Option<f64>,
}

fn read_bounded(path: &str) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_PROC_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Busy ticks of all CPUs from the `cpu ` line of `/proc/stat` (user nice system idle iowait irq
/// softirq steal …): everything but idle and iowait.
pub fn parse_machine_busy(proc_stat: &str) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    Some(total.saturating_sub(fields[3]).saturating_sub(fields[4]))
}

/// utime + stime ticks from `/proc/<pid>/stat` (fields 14 and 15; the command name in
/// parentheses may contain spaces, so counting starts after the last `)`).
pub fn parse_process_ticks(pid_stat: &str) -> Option<u64> {
    let rest = &pid_stat[pid_stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")" field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU ticks of every process whose command name is `name`.
fn processes_named(name: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|entry| entry.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let path = e.path();
            let comm = read_bounded(&path.join("comm").to_string_lossy())?;
            if comm.trim_end() != name {
                return None;
            }
            parse_process_ticks(&read_bounded(&path.join("stat").to_string_lossy())?)
        })
        .sum()
}

impl Sample {
    /// Read the counters now; `None` when `/proc` is not available. `database` is a command
    /// name (`postgres`): every process of that name is summed.
    pub fn take(server_pid: Option<u32>, database: Option<&str>) -> Option<Sample> {
        let machine_busy = parse_machine_busy(&read_bounded("/proc/stat")?)?;
        let own = parse_process_ticks(&read_bounded("/proc/self/stat")?)?;
        let server = server_pid
            .and_then(|pid| read_bounded(&format!("/proc/{pid}/stat")))
            .and_then(|s| parse_process_ticks(&s));
        let database = database.map(processes_named);
        Some(Sample {
            machine_busy,
            own,
            server,
            database,
        })
    }

    /// CPU seconds from `self` to `later`.
    pub fn until(&self, later: &Sample) -> Usage {
        let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SECOND;
        Usage {
            machine: secs(self.machine_busy, later.machine_busy),
            generator: secs(self.own, later.own),
            server: match (self.server, later.server) {
                (Some(a), Some(b)) => Some(secs(a, b)),
                _ => None,
            },
            database: match (self.database, later.database) {
                (Some(a), Some(b)) => Some(secs(a, b)),
                _ => None,
            },
        }
    }
}

/// CPU milliseconds per login.
pub fn per_login_ms(cpu_seconds: f64, logins: usize) -> f64 {
    if logins == 0 {
        return 0.0;
    }
    (cpu_seconds * 1000.0 / logins as f64 * 100.0).round() / 100.0
}

/// How many of the machine's CPUs were busy on average over `wall`.
pub fn cores_busy(cpu_seconds: f64, wall: Duration) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    (cpu_seconds / wall.as_secs_f64() * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_busy_excludes_idle_and_iowait() {
        let stat = "cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 50 2 25 500 10 0 1 1 0 0\nintr 1 2\n";
        assert_eq!(parse_machine_busy(stat), Some(100 + 5 + 50 + 1 + 2 + 3));
        assert_eq!(parse_machine_busy("cpu0 1 2 3 4 5\n"), None);
        assert_eq!(parse_machine_busy("cpu  1 x 3 4 5\n"), None);
        assert_eq!(parse_machine_busy(""), None);
    }

    #[test]
    fn process_ticks_survive_spaces_and_parens_in_the_name() {
        let stat = "1234 (gatehouse (srv) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 \
                    250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_process_ticks(stat), Some(325));
        assert_eq!(parse_process_ticks("1234 (short) S 1 2"), None);
        assert_eq!(parse_process_ticks("no parens at all"), None);
    }

    #[test]
    fn own_process_is_found_by_name() {
        let own = || parse_process_ticks(&read_bounded("/proc/self/stat").unwrap()).unwrap();
        // Burn CPU until the kernel has charged this process at least one tick.
        let mut x = 0u64;
        while own() == 0 {
            x = (0..1_000_000u64).fold(x, |a, b| a.wrapping_mul(31).wrapping_add(b));
        }
        std::hint::black_box(x);
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        // Read our own ticks first: they only grow, so the later sum over processes with our
        // name must be at least this (reading them second raced with the sum).
        let mine = own();
        assert!(processes_named(comm.trim_end()) >= mine);
        assert_eq!(processes_named("no-such-process-name-x"), 0);
    }

    #[test]
    fn usage_between_samples() {
        let a = Sample {
            machine_busy: 1000,
            own: 10,
            server: Some(100),
            database: None,
        };
        let b = Sample {
            machine_busy: 1400,
            own: 30,
            server: Some(250),
            database: Some(5),
        };
        let u = a.until(&b);
        assert_eq!(u.machine, 4.0);
        assert_eq!(u.generator, 0.2);
        assert_eq!(u.server, Some(1.5));
        assert_eq!(u.database, None, "no baseline, no number");
        assert_eq!(per_login_ms(1.5, 1000), 1.5);
        assert_eq!(cores_busy(4.0, Duration::from_secs(2)), 2.0);
        assert_eq!(per_login_ms(1.0, 0), 0.0);
    }
}
