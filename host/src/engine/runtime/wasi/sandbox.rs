//! The WASI context a rule runs in: it grants nothing, and what it does give is deterministic.
//!
//! wasmtime-wasi's defaults already close stdin and grant no directory, variable, argument or
//! socket address; this module replaces the three things it would take from the host: the
//! clocks, the random numbers and the output streams.
//!
//! - **Clocks.** Per evaluation, the wall clock starts at the item's capture time and both
//!   clocks advance one microsecond per reading, so a rule that measures time sees it pass but
//!   reads the same values on every run. Verdicts may then be reused across scans (an
//!   evaluation belongs to the rule and the item's version, not to the hour it ran).
//! - **Random numbers.** A generator seeded per evaluation from the rule and the item: the same
//!   item gives the same numbers every run.
//! - **stdout and stderr** go to the rule's log, under its id, at most [`OUTPUT_BYTES`] per
//!   stream and evaluation. They report themselves as terminals so that C's stdio flushes each
//!   line rather than holding output for a buffer that may never fill.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Output one stream may write in one evaluation; the rest is counted and dropped.
pub const OUTPUT_BYTES: usize = 64 << 10;

/// What a WASI rule's context shares with the host, to be reset per evaluation and read after.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    time: Arc<Clock>,
    random: Arc<Mutex<u64>>,
    pub stdout: LogPipe,
    pub stderr: LogPipe,
}

impl Sandbox {
    /// A WASI preview 1 context over this sandbox (for core modules).
    pub fn context_p1(&self) -> WasiP1Ctx {
        self.builder().build_p1()
    }

    /// A WASI preview 2 context over this sandbox (for components).
    pub fn context_p2(&self) -> wasmtime_wasi::WasiCtx {
        self.builder().build()
    }

    /// A context over this sandbox: nothing granted, clocks, randomness and output its own.
    fn builder(&self) -> wasmtime_wasi::WasiCtxBuilder {
        let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
        builder
            .wall_clock(WallClock(self.time.clone()))
            .monotonic_clock(MonotonicClock(self.time.clone()))
            .secure_random(Seeded(self.random.clone()))
            .insecure_random(Seeded(self.random.clone()))
            .insecure_random_seed(0)
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        builder
    }

    /// Starts an evaluation: the wall clock at `now`, the generator at `seed`.
    pub fn begin(&self, now: Duration, seed: u64) {
        self.time.begin(now);
        *self.random.lock().unwrap_or_else(|e| e.into_inner()) = seed;
    }
}

/// One evaluation's time: where the wall clock starts, and the readings taken so far.
#[derive(Debug, Default)]
struct Clock {
    start_nanos: AtomicU64,
    readings: AtomicU64,
}

impl Clock {
    fn begin(&self, now: Duration) {
        self.start_nanos.store(
            u64::try_from(now.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.readings.store(0, Ordering::Relaxed);
    }

    /// Nanoseconds since the evaluation began: one microsecond more at each reading.
    fn elapsed(&self) -> u64 {
        (self.readings.fetch_add(1, Ordering::Relaxed) + 1) * 1_000
    }
}

struct WallClock(Arc<Clock>);

impl HostWallClock for WallClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }

    fn now(&self) -> Duration {
        let start = self.0.start_nanos.load(Ordering::Relaxed);
        Duration::from_nanos(start.saturating_add(self.0.elapsed()))
    }
}

struct MonotonicClock(Arc<Clock>);

impl HostMonotonicClock for MonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.0.elapsed()
    }
}

/// SplitMix64 over a state the host reseeds per evaluation: small, fast and reproducible, which
/// is all a rule's randomness needs (it has no secret to keep).
struct Seeded(Arc<Mutex<u64>>);

impl rand_core::TryRng for Seeded {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// A stream the rule writes to and the host drains into the rule's log after each call. Writes
/// always succeed (a rule must not fail because it printed); past [`OUTPUT_BYTES`] what is
/// written is counted, not kept.
#[derive(Debug, Clone, Default)]
pub struct LogPipe(Arc<Mutex<Output>>);

#[derive(Debug, Default)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub dropped: usize,
}

impl LogPipe {
    fn write(&self, bytes: &[u8]) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = OUTPUT_BYTES.saturating_sub(out.bytes.len());
        let kept = bytes.len().min(room);
        out.bytes.extend_from_slice(&bytes[..kept]);
        out.dropped += bytes.len() - kept;
    }

    /// What was written since the last drain.
    pub fn drain(&self) -> Output {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        true
    }
}

impl StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        LogPipe::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(OUTPUT_BYTES)
    }
}

#[async_trait::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        LogPipe::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::TryRng;

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_another_seed_others() {
        let sandbox = Sandbox::default();
        let mut rng = Seeded(sandbox.random.clone());
        sandbox.begin(Duration::ZERO, 7);
        let first: Vec<u64> = (0..4).map(|_| rng.try_next_u64().unwrap()).collect();
        sandbox.begin(Duration::ZERO, 7);
        let again: Vec<u64> = (0..4).map(|_| rng.try_next_u64().unwrap()).collect();
        sandbox.begin(Duration::ZERO, 8);
        let other: Vec<u64> = (0..4).map(|_| rng.try_next_u64().unwrap()).collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn the_clocks_start_at_the_evaluation_and_move_a_microsecond_per_reading() {
        let sandbox = Sandbox::default();
        let (wall, mono) = (
            WallClock(sandbox.time.clone()),
            MonotonicClock(sandbox.time.clone()),
        );
        sandbox.begin(Duration::from_secs(1_700_000_000), 1);
        assert_eq!(mono.now(), 1_000);
        assert_eq!(
            wall.now(),
            Duration::from_secs(1_700_000_000) + Duration::from_micros(2)
        );
        sandbox.begin(Duration::from_secs(5), 1);
        assert_eq!(mono.now(), 1_000);
    }

    #[test]
    fn output_past_the_cap_is_counted_not_kept() {
        let pipe = LogPipe::default();
        pipe.write(&vec![b'x'; OUTPUT_BYTES - 1]);
        pipe.write(b"yz");
        let out = pipe.drain();
        assert_eq!(out.bytes.len(), OUTPUT_BYTES);
        assert_eq!(out.dropped, 1);
        assert!(pipe.drain().bytes.is_empty());
    }
}
