//! argon2id password hashing off the async runtime, bounded: `workers` dedicated threads
//! hash, at most `queue` requests wait, and past that a sign-in gets 503 with `Retry-After`.
//! The hashing threads run in the idle scheduling class, so a flood of sign-ins takes the
//! cycles the request path leaves over instead of competing with it on equal terms, and stay
//! off the first CPU the process may use (when it may use more than one), so one core's caches
//! and run queue are the request path's alone ([`crate::cpus`]). When the request path needs
//! every cycle, sign-ins queue and then get 503 with `Retry-After`.
//!
//! The idle class gets about 0.3 % of a CPU against any ordinary thread, so ordinary CPU load
//! that does not end (another process on the machine, or the request path saturated for a long
//! time) would hold a sign-in for tens of seconds. A rescuer at ordinary priority therefore
//! watches the hashing threads: a job that has been running for [`STARVED_AFTER`] (a hash takes
//! ~15 ms of CPU) is run again by the rescuer, the first of the two to finish answers, and the
//! rescuer serves the queue too for as long as a hashing thread stays starved. A sign-in flood
//! on an otherwise idle machine never starves the hashing, so it changes nothing there.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, Sender};
use shared::Problem;
use tokio::sync::{Semaphore, oneshot};

use crate::error::{Error, Result};

/// A running job this long is starving: the rescuer runs it too.
pub const STARVED_AFTER: Duration = Duration::from_millis(250);
/// How often the rescuer looks at the hashing threads.
const RESCUE_CHECK: Duration = Duration::from_millis(50);

/// A hashing job. It may run twice (a hashing thread and the rescuer); the first run to finish
/// answers, and a run that starts after an answer does nothing.
struct Job {
    run: Box<dyn Fn() + Send + Sync>,
    /// Set once the rescuer has taken the job: it is run at most twice.
    rescued: AtomicBool,
}

/// A hashing thread's current job, and since when it runs it.
type Running = Mutex<Option<(Instant, Arc<Job>)>>;

/// What the hashing threads and the rescuer share. Submitting a job takes no lock (a channel):
/// a runtime thread never waits for an idle-class thread that holds one and is starved, and
/// the rescuer only ever tries the hashing threads' locks.
struct Shared {
    /// Per hashing thread: the job it is running, and since when.
    running: Vec<Running>,
    /// Jobs the rescuer ran, for metrics.
    rescued: AtomicU64,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// A job a starving hashing thread is running that the rescuer has not taken yet, or, while
    /// one starves (or, with every hashing thread idle, none has taken a waiting job since the
    /// last look), the next waiting job. A thread preempted in the few instructions between
    /// taking a job and noting it here is not seen: that window is nanoseconds long.
    fn to_rescue(&self, jobs: &Receiver<Arc<Job>>, waited: &mut bool) -> Option<Arc<Job>> {
        let (mut starving, mut busy) = (false, false);
        for slot in &self.running {
            // Never wait for a hashing thread: it may hold its lock and be starved.
            let Ok(slot) = slot.try_lock() else {
                busy = true;
                continue;
            };
            if let Some((since, job)) = &*slot {
                busy = true;
                if since.elapsed() >= STARVED_AFTER {
                    starving = true;
                    if !job.rescued.swap(true, Ordering::AcqRel) {
                        return Some(job.clone());
                    }
                }
            }
        }
        let unclaimed = !busy && !jobs.is_empty() && std::mem::replace(waited, true);
        if jobs.is_empty() || busy {
            *waited = false;
        }
        if starving || unclaimed {
            return jobs.try_recv().ok();
        }
        None
    }
}

/// The job that runs `work` and answers `reply` with its value: the first run to finish answers,
/// a run that starts once the answer is given (or the caller is gone) does nothing, and a run
/// that panics drops `reply` so the caller hears of it instead of waiting for ever.
fn answering<T: Send + 'static>(
    work: impl Fn() -> T + Send + Sync + 'static,
    reply: oneshot::Sender<T>,
) -> Arc<Job> {
    let reply = Mutex::new(Some(reply));
    Arc::new(Job {
        run: Box::new(move || {
            if locked(&reply)
                .as_ref()
                .is_none_or(|reply| reply.is_closed())
            {
                return;
            }
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&work)) {
                Ok(value) => {
                    if let Some(reply) = locked(&reply).take() {
                        let _ = reply.send(value);
                    }
                }
                Err(_) => drop(locked(&reply).take()),
            }
        }),
        rescued: AtomicBool::new(false),
    })
}

/// Empties a hashing thread's slot however its job ends (a panic included), so the rescuer
/// never runs a job whose thread is gone.
struct Slot<'a>(&'a Running);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *locked(self.0) = None;
    }
}

#[derive(Clone)]
pub struct Hasher {
    admission: Arc<Semaphore>,
    shared: Arc<Shared>,
    /// Where jobs wait for a hashing thread. When the last clone of the `Hasher` is dropped,
    /// the threads see the channel closed and end.
    jobs: Sender<Arc<Job>>,
    /// Counts the clones of this `Hasher`, for the rescuer to end with them.
    _alive: Arc<()>,
    /// A real hash of a random password, verified against for unknown accounts so that their
    /// timing matches known ones.
    dummy: Arc<str>,
    /// Hashes and verifications started, for tests and metrics.
    started: Arc<AtomicU64>,
    /// Hashes refused because the queue was full (answered 503), for metrics.
    refused: Arc<AtomicU64>,
    /// Hashes admitted at once: threads plus queue.
    capacity: usize,
}

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("constant parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

thread_local! {
    /// Each hashing thread keeps its 19 MiB of argon2 memory for its whole life. Allocating and
    /// freeing it per hash maps and unmaps 19 MiB every time: thousands of page faults whose
    /// zeroing pollutes the caches, and address-space locks and TLB shootdowns that stall the
    /// request path's threads in the same process.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2id of `password` with raw `salt` into `out`, in this thread's kept memory.
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

fn hash_now(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let failed = |error: String| Error::Internal(anyhow::anyhow!("hashing: {error}"));
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|error| failed(error.to_string()))?;
    let argon2 = argon2();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        hash_into(&argon2, password.as_bytes(), raw_salt, out)
            .map_err(|_| password_hash::Error::Password)
    })
    .map_err(|error| failed(error.to_string()))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).map_err(|error| failed(error.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

fn verify_now(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Hashes made with our parameters are checked in the kept memory; any other (an older
    // parameter set) by the library's own verifier.
    let wanted = params();
    let ours = Params::try_from(&parsed).is_ok_and(|theirs| {
        (theirs.m_cost(), theirs.t_cost(), theirs.p_cost())
            == (wanted.m_cost(), wanted.t_cost(), wanted.p_cost())
    }) && parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into());
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    if !ours {
        return argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    hash_into(&argon2(), password.as_bytes(), raw_salt, &mut out).is_ok()
        && crate::ids::constant_time_eq(&out, expected.as_bytes())
}

fn hashing_thread(shared: Arc<Shared>, jobs: Receiver<Arc<Job>>, index: usize) {
    if let Err(error) = crate::cpus::idle_class() {
        tracing::warn!(?error, "could not lower the priority of a hashing thread");
    }
    if let Err(error) = crate::cpus::leave_first() {
        tracing::warn!(%error, "could not keep a hashing thread off the first CPU");
    }
    let running = &shared.running[index];
    while let Ok(job) = jobs.recv() {
        *locked(running) = Some((Instant::now(), job.clone()));
        let _slot = Slot(running);
        (job.run)();
    }
}

/// The rescuer: at ordinary priority, it runs the jobs of hashing threads that starve. It may
/// use any CPU the process may (not only the hashing threads'): when they starve, another CPU
/// may have room.
fn rescuer(shared: Arc<Shared>, jobs: Receiver<Arc<Job>>, hashers: Weak<()>) {
    let mut waited = false;
    // Ends once every `Hasher` is gone.
    while hashers.strong_count() > 0 {
        std::thread::sleep(RESCUE_CHECK);
        while let Some(job) = shared.to_rescue(&jobs, &mut waited) {
            shared.rescued.fetch_add(1, Ordering::Relaxed);
            (job.run)();
        }
    }
}

impl Hasher {
    pub fn new(workers: usize, queue: usize) -> Result<Hasher> {
        // Hashed here with the library's own allocation, so this thread keeps no argon2 memory.
        let dummy = argon2()
            .hash_password(
                crate::ids::random_hex(16).as_bytes(),
                &SaltString::generate(&mut OsRng),
            )
            .map_err(|error| Error::Internal(anyhow::anyhow!("hashing: {error}")))?
            .to_string();
        let shared = Arc::new(Shared {
            running: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            rescued: AtomicU64::new(0),
        });
        let (sender, receiver) = crossbeam_channel::unbounded::<Arc<Job>>();
        let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(body)
                .map(drop)
                .map_err(|error| Error::Internal(error.into()))
        };
        for index in 0..workers.max(1) {
            let (shared, jobs) = (shared.clone(), receiver.clone());
            spawn(
                format!("argon2-{index}"),
                Box::new(move || hashing_thread(shared, jobs, index)),
            )?;
        }
        let (watched, alive) = (shared.clone(), Arc::new(()));
        let hashers = Arc::downgrade(&alive);
        spawn(
            "argon2-rescue".into(),
            Box::new(move || rescuer(watched, receiver, hashers)),
        )?;
        Ok(Hasher {
            admission: Arc::new(Semaphore::new(workers.max(1) + queue)),
            shared,
            jobs: sender,
            _alive: alive,
            dummy: dummy.into(),
            started: Arc::new(AtomicU64::new(0)),
            refused: Arc::new(AtomicU64::new(0)),
            capacity: workers.max(1) + queue,
        })
    }

    /// A place in the hashing queue, or 503 with `Retry-After` when it is full. Taken before
    /// anything else a sign-in does, so a refused sign-in costs nothing but this.
    pub fn admit(&self) -> Result<Admission> {
        self.admission
            .clone()
            .try_acquire_owned()
            .map(|permit| Admission { _permit: permit })
            .map_err(|_| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Problem::Busy { retry_after: 1 }.into()
            })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl Fn() -> T + Send + Sync + 'static,
    ) -> Result<T> {
        let admission = self.admit()?;
        self.run_admitted(admission, work).await
    }

    async fn run_admitted<T: Send + 'static>(
        &self,
        admission: Admission,
        work: impl Fn() -> T + Send + Sync + 'static,
    ) -> Result<T> {
        let _admitted = admission;
        self.started.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(answering(work, reply))
            .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing job was dropped")))
    }

    /// How many hashes and verifications were admitted since start.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// How many hashes were refused (503) because the queue was full.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// How many jobs the rescuer ran because a hashing thread starved.
    pub fn rescued(&self) -> u64 {
        self.shared.rescued.load(Ordering::Relaxed)
    }

    /// Hashes admitted and not finished: running, or waiting for a hashing thread.
    pub fn in_flight(&self) -> usize {
        self.capacity
            .saturating_sub(self.admission.available_permits())
    }

    /// Hashes admitted at once (threads plus queue); past it, sign-ins get 503.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash_now(&password)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none (an
    /// unknown account, or one without a password), in which case the answer is `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let admission = self.admit()?;
        self.verify_admitted(admission, password, hash).await
    }

    /// [`Hasher::verify`] in a place already taken with [`Hasher::admit`].
    pub async fn verify_admitted(
        &self,
        admission: Admission,
        password: String,
        hash: Option<String>,
    ) -> Result<bool> {
        let dummy = self.dummy.clone();
        self.run_admitted(admission, move || match &hash {
            Some(hash) => verify_now(&password, hash),
            None => {
                let _ = verify_now(&password, &dummy);
                false
            }
        })
        .await
    }
}

/// A place in the hashing queue ([`Hasher::admit`]), given back when dropped.
pub struct Admission {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_memory_hashes_are_standard_phc_hashes_both_ways() {
        let ours = hash_now("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("battery staple", &theirs));
        assert!(!verify_now("battery stapler", &theirs));
        // Other parameters still verify, through the library.
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"old", &salt)
        .unwrap()
        .to_string();
        assert!(verify_now("old", &weaker));
        assert!(!verify_now("new", &weaker));
        assert!(!verify_now("x", "not a phc string"));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = Hasher::new(1, 4).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }

    /// Ordinary-priority busy loops on every CPU (another process's batch job, say) leave the
    /// idle-class hashing thread about 0.3 % of a CPU: a verification would take seconds to
    /// minutes. The rescuer runs it at ordinary priority instead.
    #[test]
    fn a_hash_starved_by_ordinary_load_is_rescued() {
        let hash = hash_now("correct horse").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hasher = Hasher::new(1, 4).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let loops: Vec<_> = (0..crate::cpus::allowed().len())
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let verified = runtime.block_on(async {
            let right = hasher.verify("correct horse".into(), Some(hash.clone()));
            let wrong = hasher.verify("wrong horse".into(), Some(hash.clone()));
            tokio::time::timeout(Duration::from_secs(60), async {
                (right.await.unwrap(), wrong.await.unwrap())
            })
            .await
        });
        stop.store(true, Ordering::Relaxed);
        loops.into_iter().for_each(|busy| busy.join().unwrap());
        assert_eq!(verified.expect("answered within a minute"), (true, false));
        assert!(hasher.rescued() >= 1, "the rescuer ran nothing");
    }

    fn job(counter: &Arc<AtomicU64>) -> Arc<Job> {
        let counter = counter.clone();
        Arc::new(Job {
            run: Box::new(move || {
                counter.fetch_add(1, Ordering::Relaxed);
            }),
            rescued: AtomicBool::new(false),
        })
    }

    #[test]
    fn the_rescuer_takes_a_starving_job_once_and_then_the_queue() {
        let shared = Shared {
            running: vec![Mutex::new(None)],
            rescued: AtomicU64::new(0),
        };
        let (sender, jobs) = crossbeam_channel::unbounded();
        let runs = Arc::new(AtomicU64::new(0));
        let mut waited = false;
        // Nothing runs, nothing waits: nothing to rescue.
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        // A job running for less than STARVED_AFTER is left alone, and so is the queue.
        let running = job(&runs);
        *locked(&shared.running[0]) = Some((Instant::now(), running.clone()));
        sender.send(job(&runs)).unwrap();
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        assert_eq!(jobs.len(), 1);
        // Starving: that job first (once), then the queue behind it.
        let long_ago = Instant::now() - STARVED_AFTER - Duration::from_millis(1);
        *locked(&shared.running[0]) = Some((long_ago, running.clone()));
        let first = shared.to_rescue(&jobs, &mut waited).unwrap();
        assert!(Arc::ptr_eq(&first, &running));
        let second = shared.to_rescue(&jobs, &mut waited).unwrap();
        assert!(!Arc::ptr_eq(&second, &running));
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        // Every thread idle and a job waiting at two looks in a row: nobody takes it.
        *locked(&shared.running[0]) = None;
        sender.send(job(&runs)).unwrap();
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        assert!(shared.to_rescue(&jobs, &mut waited).is_some());
        // A thread holding its slot's lock is not waited for.
        let held = locked(&shared.running[0]);
        sender.send(job(&runs)).unwrap();
        assert!(shared.to_rescue(&jobs, &mut waited).is_none());
        drop(held);
    }

    #[tokio::test]
    async fn a_job_run_twice_answers_once_and_a_panicking_one_answers_dropped() {
        let runs = Arc::new(AtomicU64::new(0));
        let counted = runs.clone();
        let (reply, answer) = oneshot::channel();
        let job = answering(move || counted.fetch_add(1, Ordering::Relaxed), reply);
        // The hashing thread's run and then the rescuer's: the second does nothing.
        (job.run)();
        (job.run)();
        assert_eq!(answer.await.unwrap(), 0);
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        // Through the threads: a panicking job is an error for its caller, and the thread lives.
        let hasher = Hasher::new(1, 4).unwrap();
        let failed = hasher.run(|| -> u8 { panic!("a broken hash") }).await;
        assert!(matches!(failed, Err(Error::Internal(_))), "{failed:?}");
        // The hashing thread survived the panic.
        let hash = hasher.hash("still here".into()).await.unwrap();
        assert!(
            hasher
                .verify("still here".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let hasher = Hasher::new(1, 0).unwrap();
        let first = hasher.clone();
        let running = tokio::spawn(async move { first.hash("one password".into()).await });
        // Give the first hash time to be admitted.
        while hasher.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.hash("two password".into()).await;
        assert!(matches!(
            refused,
            Err(Error::Problem(Problem::Busy { .. }, _))
        ));
        assert!(running.await.unwrap().is_ok());
    }
}
