//! Where the origin's threads run. Two rules, both measured on the 2-core machine (see
//! ARCHITECTURE.md, "Load shedding"):
//!
//! - The argon2 threads stay off the first CPU the process may use ([`leave_first`]), so that
//!   core's caches and run queue belong to the request path alone.
//! - Each async-runtime worker is pinned to a CPU of its own ([`WorkerPinning`]). Unpinned, a
//!   sign-in flood squeezes the whole request path onto the one core the hashing leaves: a core
//!   running an idle-class hash never goes idle, so it never pulls waiting threads over, and
//!   the kernel's wake-ups follow the socket's waker onto the other core. A worker pinned to the
//!   hashing core preempts the hash at once instead, and the request path keeps both cores.
//!
//! Pinning happens only when the process may use every CPU it counts as available, so that an
//! origin given part of a larger machine (a CPU quota, where every container sees the same CPU
//! numbers) does not pile its workers onto the host's first cores. `ORIGIN_PIN_WORKERS=0` turns
//! the worker pinning off.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The CPUs the process may run on (its main thread's set), lowest first; empty where that
/// cannot be known. A thread's own set may be narrower: a thread starts with its creator's.
pub fn allowed() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        affinity(nix::unistd::Pid::this())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// The CPUs thread (or process) `pid` may run on; `0` is the calling thread.
#[cfg(target_os = "linux")]
fn affinity(pid: nix::unistd::Pid) -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    sched_getaffinity(pid).map_or_else(
        |_| Vec::new(),
        |set| {
            (0..CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .collect()
        },
    )
}

/// Restricts the calling thread to `cpus` (which must not be empty).
fn restrict_to(cpus: &[usize]) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        use nix::sched::{CpuSet, sched_setaffinity};
        use nix::unistd::Pid;
        let mut set = CpuSet::new();
        for &cpu in cpus {
            set.set(cpu).map_err(|error| error.to_string())?;
        }
        sched_setaffinity(Pid::from_raw(0), &set).map_err(|error| error.to_string())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpus;
        Ok(())
    }
}

/// Puts the calling thread in the idle scheduling class (elsewhere than Linux, the lowest
/// priority the platform offers): it runs on the cycles every ordinary thread leaves.
pub fn idle_class() -> Result<(), thread_priority::Error> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            // SCHED_IDLE takes static priority 0, which `Min` maps to for this policy.
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    }
}

/// Runs `work` on a thread of its own in the idle class ([`idle_class`]) and waits for it:
/// background work (the scheduled snapshot) that must take neither the request path's cycles
/// nor precedence over sign-ins, whose hashing is in the same class. On the blocking pool, at
/// ordinary priority, a scheduled snapshot would take nearly all of its CPU from the hashing
/// (an idle-class thread gets about 0.3 % of a CPU against an ordinary one), and sign-ins would
/// queue, then get 503, for as long as the snapshot and its integrity check ran.
pub async fn in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Err(error) = idle_class() {
                tracing::warn!(
                    ?error,
                    "could not put a background thread in the idle class"
                );
            }
            let _ = done.send(work());
        })?;
    result
        .await
        .map_err(|_| std::io::Error::other("a background thread ended without an answer"))
}

/// Keeps the calling thread off the first CPU the process may run on, when it may run on more
/// than one.
pub fn leave_first() -> Result<(), String> {
    match &allowed()[..] {
        [_, rest @ ..] if !rest.is_empty() => restrict_to(rest),
        _ => Ok(()),
    }
}

/// Pins each runtime worker thread to its own CPU, the first time it parks (only workers park,
/// and every worker parks as soon as it starts, before there is work). A thread starts with the
/// CPU set of the thread that created it, and the runtime's blocking threads (the database
/// readers) are created from workers: each runtime thread is given the whole set back when it
/// starts ([`Self::unpin_current`]).
pub struct WorkerPinning {
    cpus: Vec<usize>,
    next: AtomicUsize,
}

/// `ORIGIN_PIN_WORKERS`: unset or `1` pins, `0` does not.
fn pinning_wanted(value: Option<&str>) -> anyhow::Result<bool> {
    match value.map(str::trim) {
        None | Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) => anyhow::bail!("ORIGIN_PIN_WORKERS must be 0 or 1, not {other:?}"),
    }
}

thread_local! {
    static PINNED: Cell<bool> = const { Cell::new(false) };
}

impl WorkerPinning {
    /// Pinning for a runtime of one worker per CPU, when this process may use all of the CPUs
    /// it counts as available (`available`) and there are at least two; `None` otherwise.
    pub fn plan(allowed: Vec<usize>, available: usize) -> Option<WorkerPinning> {
        (allowed.len() >= 2 && allowed.len() == available).then(|| WorkerPinning {
            cpus: allowed,
            next: AtomicUsize::new(0),
        })
    }

    /// The plan for this process, unless `ORIGIN_PIN_WORKERS` is `0`. Read before the runtime
    /// (and so before `Config`) exists; any value other than `0` or `1` is an error.
    pub fn for_this_process() -> anyhow::Result<Option<WorkerPinning>> {
        let wanted = std::env::var("ORIGIN_PIN_WORKERS").ok();
        if !pinning_wanted(wanted.as_deref())? {
            return Ok(None);
        }
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(WorkerPinning::plan(allowed(), available))
    }

    /// How many workers the runtime should have: one per CPU.
    pub fn workers(&self) -> usize {
        self.cpus.len()
    }

    /// Gives the calling thread every CPU of the plan again.
    pub fn unpin_current(&self) {
        if let Err(error) = restrict_to(&self.cpus) {
            tracing::warn!(%error, "could not unpin a runtime thread");
        }
    }

    /// Pins the calling worker to the next CPU, once per thread. A worker beyond the plan (there
    /// should be none) stays where it is.
    pub fn pin_current(&self) {
        if PINNED.replace(true) {
            return;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(&cpu) = self.cpus.get(index)
            && let Err(error) = restrict_to(&[cpu])
        {
            tracing::warn!(%error, cpu, "could not pin a runtime worker");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn this_thread() -> Vec<usize> {
        affinity(nix::unistd::Pid::from_raw(0))
    }

    fn on_a_new_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(work).join().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_work_runs_in_the_idle_class_and_leaves_the_caller_alone() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let (policy, name) = in_background("snapshot", || {
            (
                thread_schedule_policy().unwrap(),
                std::thread::current().name().map(str::to_owned),
            )
        })
        .await
        .unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        assert_eq!(name.as_deref(), Some("snapshot"));
        assert_eq!(
            thread_schedule_policy().unwrap(),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
        );
    }

    #[test]
    fn leaving_the_first_cpu_moves_only_the_calling_thread() {
        let before = allowed();
        let after = on_a_new_thread(|| {
            leave_first().unwrap();
            this_thread()
        });
        if before.len() > 1 {
            assert_eq!(after, before[1..]);
        } else {
            assert_eq!(after, before);
        }
        assert_eq!(this_thread(), before);
    }

    #[test]
    fn the_switch_is_0_or_1_and_nothing_else() {
        assert!(pinning_wanted(None).unwrap());
        assert!(pinning_wanted(Some("1")).unwrap());
        assert!(!pinning_wanted(Some(" 0 ")).unwrap());
        for wrong in ["", "off", "false", "2"] {
            let error = pinning_wanted(Some(wrong)).unwrap_err().to_string();
            assert!(error.contains("ORIGIN_PIN_WORKERS"), "{error}");
        }
    }

    #[test]
    fn pinning_is_planned_only_for_a_process_that_has_all_its_cpus() {
        assert!(WorkerPinning::plan(vec![0], 1).is_none());
        // A quota of two CPUs out of four visible ones: leave the kernel to place the workers.
        assert!(WorkerPinning::plan(vec![0, 1, 2, 3], 2).is_none());
        let plan = WorkerPinning::plan(vec![2, 5], 2).unwrap();
        assert_eq!(plan.workers(), 2);
    }

    #[test]
    fn each_worker_gets_its_own_cpu_once() {
        let cpus = allowed();
        let Some(plan) = WorkerPinning::plan(cpus.clone(), cpus.len()) else {
            // One CPU: nothing to pin, and `plan` said so.
            assert!(cpus.len() < 2);
            return;
        };
        let plan = std::sync::Arc::new(plan);
        let mut seen = Vec::new();
        for _ in 0..cpus.len() {
            let plan = plan.clone();
            seen.push(on_a_new_thread(move || {
                plan.pin_current();
                let first = this_thread();
                // A second park does not move the thread again.
                plan.pin_current();
                assert_eq!(this_thread(), first);
                // A thread it creates starts pinned there too, until it takes the whole set.
                let child = std::thread::scope(|scope| {
                    scope
                        .spawn(|| {
                            let inherited = this_thread();
                            plan.unpin_current();
                            (inherited, this_thread())
                        })
                        .join()
                        .unwrap()
                });
                assert_eq!(child, (first.clone(), allowed()));
                first
            }));
        }
        let expected: Vec<Vec<usize>> = cpus.iter().map(|&cpu| vec![cpu]).collect();
        assert_eq!(seen, expected);
        // Past the plan, a thread stays where it was.
        let beyond = {
            let plan = plan.clone();
            on_a_new_thread(move || {
                plan.pin_current();
                this_thread()
            })
        };
        assert_eq!(beyond, cpus);
    }
}
