//! Request bodies, counted as they stream (SPEC §5): a body over its route's limit is refused
//! with 413 as soon as the count passes the limit, whether or not it declared a length, and the
//! rest of it is never read.

use shared::policy::BODY_LIMIT;

/// What the edge does with a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// `GET` / `HEAD`: nothing is forwarded.
    Nothing,
    /// Declared over the limit: 413 before reading any of it.
    TooLarge,
    /// A small-body route: read while counting (at most the limit), then sent with its length.
    Buffer,
    /// An upload that declared its length within the limit: the runtime holds it to that
    /// length, so it streams through untouched.
    Stream,
    /// An upload without a declared length (chunked): streamed through while counting.
    StreamCounted,
}

/// Decides from the method, the declared `Content-Length` (if any) and the route's limit.
pub fn plan(has_body: bool, content_length: Option<&str>, limit: u64) -> Plan {
    if shared::policy::declares_over(content_length, limit) {
        return Plan::TooLarge;
    }
    let declared = shared::policy::declared_length(content_length);
    match (has_body, limit <= BODY_LIMIT, declared) {
        (false, _, _) => Plan::Nothing,
        (true, true, _) => Plan::Buffer,
        (true, false, Some(_)) => Plan::Stream,
        (true, false, None) => Plan::StreamCounted,
    }
}

/// Refused: the body passed its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Counts a body's bytes against a limit, chunk by chunk.
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    limit: u64,
    seen: u64,
}

impl Counter {
    pub fn new(limit: u64) -> Counter {
        Counter { limit, seen: 0 }
    }

    /// Adds a chunk; refuses once the total passes the limit (and keeps refusing).
    pub fn count(&mut self, chunk_len: usize) -> Result<(), TooLarge> {
        self.seen = self.seen.saturating_add(chunk_len as u64);
        if self.seen > self.limit {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPLOAD_LIMIT: u64 = 40 * 1024 * 1024;

    #[test]
    fn small_routes_buffer_within_the_limit_whatever_they_declare() {
        assert_eq!(plan(true, Some("10"), BODY_LIMIT), Plan::Buffer);
        assert_eq!(plan(true, None, BODY_LIMIT), Plan::Buffer);
        assert_eq!(plan(true, Some("garbage"), BODY_LIMIT), Plan::Buffer);
        assert_eq!(
            plan(true, Some(&(BODY_LIMIT + 1).to_string()), BODY_LIMIT),
            Plan::TooLarge
        );
        assert_eq!(plan(false, None, BODY_LIMIT), Plan::Nothing);
        assert_eq!(plan(false, Some("999999999"), BODY_LIMIT), Plan::TooLarge);
    }

    #[test]
    fn uploads_stream_and_chunked_ones_are_counted() {
        assert_eq!(plan(true, Some("1000"), UPLOAD_LIMIT), Plan::Stream);
        assert_eq!(plan(true, None, UPLOAD_LIMIT), Plan::StreamCounted);
        assert_eq!(
            plan(true, Some(&(UPLOAD_LIMIT + 1).to_string()), UPLOAD_LIMIT),
            Plan::TooLarge
        );
    }

    #[test]
    fn the_count_refuses_the_chunk_that_passes_the_limit() {
        let mut counter = Counter::new(10);
        assert_eq!(counter.count(4), Ok(()));
        assert_eq!(counter.count(6), Ok(()));
        assert_eq!(counter.seen(), 10);
        assert_eq!(counter.count(1), Err(TooLarge));
        assert_eq!(counter.count(0), Err(TooLarge));
        let mut huge = Counter::new(u64::MAX);
        assert_eq!(huge.count(usize::MAX), Ok(()));
    }
}
