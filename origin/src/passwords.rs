//! argon2id password hashing off the async runtime, bounded: `workers` dedicated threads
//! hash, at most `queue` requests wait, and past that a sign-in gets 503 with `Retry-After`.
//! The hashing threads run in the idle scheduling class, so a flood of sign-ins takes the
//! cycles the request path leaves over instead of competing with it on equal terms; when the
//! request path needs every cycle, sign-ins queue and then get 503 with `Retry-After`.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use shared::Problem;
use thread_priority::ThreadPriority;
use tokio::sync::{Semaphore, oneshot};

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hasher {
    admission: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
    /// A real hash of a random password, verified against for unknown accounts so that their
    /// timing matches known ones.
    dummy: Arc<str>,
}

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::Internal(anyhow::anyhow!("hashing: {error}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs whenever a core has nothing
/// else to do, and any request-path thread that wakes up preempts it at once. Elsewhere it
/// falls back to the lowest niceness.
fn lower_priority() -> Result<(), thread_priority::Error> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            // SCHED_IDLE takes static priority 0, which `Min` maps to for this policy.
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        thread_priority::set_current_thread_priority(ThreadPriority::Min)
    }
}

fn hashing_thread(jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    if let Err(error) = lower_priority() {
        tracing::warn!(?error, "could not lower the priority of a hashing thread");
    }
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

impl Hasher {
    pub fn new(workers: usize, queue: usize) -> AppResult<Hasher> {
        let dummy = hash_now(&crate::ids::random_hex(16))?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || hashing_thread(receiver))
                .map_err(|error| AppError::Internal(error.into()))?;
        }
        Ok(Hasher {
            admission: Arc::new(Semaphore::new(workers.max(1) + queue)),
            jobs: sender,
            dummy: dummy.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _admitted = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| Problem::Busy { retry_after: 1 })?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a hashing job was dropped")))
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_now(&password)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none (an
    /// unknown account, or one without a password), in which case the answer is `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let dummy = self.dummy.clone();
        self.run(move || match hash {
            Some(hash) => verify_now(&password, &hash),
            None => {
                let _ = verify_now(&password, &dummy);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(AppError::Problem(Problem::Busy { .. }, _))
        ));
        assert!(running.await.unwrap().is_ok());
    }
}
