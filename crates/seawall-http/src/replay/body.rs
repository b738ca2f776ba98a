use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use seawall_core::BoxError;

use super::error::{NotReplayable, ReplayError};

/// The default cap of a replay buffer: 64 KiB.
pub const DEFAULT_REPLAY_CAP: usize = 64 * 1024;

/// A request body that keeps its bytes as they stream, up to a cap, so that the request can
/// be sent again.
///
/// The wrapped body (the *source*) moves into state shared by the body and all its replays
/// ([`try_clone`](Self::try_clone)). Every frame the source yields is appended to a shared
/// buffer, whichever reader pulled it; each reader has its own cursor into that buffer and
/// pulls from the source only once it has read everything buffered. So:
///
/// - a replay made after the first attempt stopped reading early (say, the response arrived
///   before the body was sent) reads the buffered bytes and then goes on pulling from the
///   source: it carries the whole body;
/// - a replay made while the first attempt is still reading sees every byte, whoever reads
///   first;
/// - trailers are buffered and replayed like data; an empty body stays empty and an exact
///   [`size_hint`](Body::size_hint) stays exact.
///
/// # The cap
///
/// At most `cap` bytes of data are buffered. When the body turns out larger — or its size
/// hint says in advance that it will be — the buffer is dropped and the reader that crossed
/// the cap streams the rest straight from the source: the body still arrives whole at that
/// reader, but it can no longer be replayed. [`try_clone`](Self::try_clone) then returns
/// `None` and [`is_replayable`](Self::is_replayable) `false`. Memory held per body never
/// exceeds the cap plus the one chunk in flight.
///
/// # Errors
///
/// An error from the source goes, as a [`BoxError`], to the reader that pulled it, and the
/// body stops being replayable. Any other reader that needs bytes which are not buffered —
/// because the source failed or because the cap was crossed — gets a [`ReplayError`] instead:
/// a replay never yields bytes other than the original ones.
///
/// # Clone
///
/// The type is not `Clone`: a replay may be impossible. Use [`try_clone`](Self::try_clone).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use seawall_http::replay::ReplayableBody;
///
/// let body = ReplayableBody::new(Full::new(Bytes::from_static(b"hello")), 1024);
/// let replay = body.try_clone().expect("fits in the buffer");
/// let first = body.collect().await.unwrap().to_bytes();
/// let second = replay.collect().await.unwrap().to_bytes();
/// assert_eq!(first, second);
/// # }
/// ```
pub struct ReplayableBody<B> {
    shared: Arc<Shared<B>>,
    /// Tells this reader apart from the others when the cap is crossed.
    id: u64,
    /// The index of the next buffered frame this reader yields.
    cursor: usize,
    /// Data bytes this reader has yielded.
    read: u64,
    /// This reader has yielded its end (or an error).
    finished: bool,
}

struct Shared<B> {
    state: Mutex<State<B>>,
    /// Wakes every reader waiting for the source. The source only keeps the last waker it
    /// was polled with; polling it with this one instead means no waiting reader is
    /// forgotten when another reader polled it later or was dropped.
    waiters: Arc<Waiters>,
    wake_all: Waker,
}

#[derive(Default)]
struct Waiters {
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    fn register(&self, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = std::mem::take(&mut *lock(&self.wakers));
        for waker in wakers {
            waker.wake();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Every frame the source has yielded is in `frames`.
    Buffering,
    /// The body crossed the cap: nothing is buffered any more and only the reader `owner`
    /// reads on, straight from the source.
    Streaming { owner: u64 },
    /// The source failed; what was buffered before can still be read.
    Failed,
}

enum Stored {
    Data(Bytes),
    Trailers(HeaderMap),
}

struct State<B> {
    /// `None` once the source has ended or failed.
    source: Option<Pin<Box<B>>>,
    frames: Vec<Stored>,
    /// Data bytes in `frames`.
    buffered: usize,
    cap: usize,
    mode: Mode,
    /// The source has yielded its end: `frames` holds the whole body.
    complete: bool,
    /// The source's size hint before anything was read.
    hint: SizeHint,
    next_id: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held (inside the source's `poll_frame`) leaves the state
    // consistent: every update happens after the source returned.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B> ReplayableBody<B> {
    /// Wraps `body`, keeping up to `cap` bytes of it for replays.
    ///
    /// A body whose size hint says it is larger than `cap` is not buffered at all.
    pub fn new(body: B, cap: usize) -> Self
    where
        B: Body,
    {
        let hint = body.size_hint();
        let (mode, complete) = if hint.lower() > cap as u64 {
            (Mode::Streaming { owner: 0 }, false)
        } else {
            (Mode::Buffering, body.is_end_stream())
        };
        let source = if complete { None } else { Some(Box::pin(body)) };
        let waiters = Arc::new(Waiters::default());
        let wake_all = Waker::from(Arc::clone(&waiters));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    source,
                    frames: Vec::new(),
                    buffered: 0,
                    cap,
                    mode,
                    complete,
                    hint,
                    next_id: 1,
                }),
                waiters,
                wake_all,
            }),
            id: 0,
            cursor: 0,
            read: 0,
            finished: false,
        }
    }

    /// Wraps `body` with the [default cap](DEFAULT_REPLAY_CAP) of 64 KiB.
    pub fn with_default_cap(body: B) -> Self
    where
        B: Body,
    {
        Self::new(body, DEFAULT_REPLAY_CAP)
    }

    /// A new reader of the same body that yields it from its first byte, or `None` if the body
    /// can no longer be replayed (see [`replay_status`](Self::replay_status)).
    ///
    /// The replay may be made at any time: before, while or after this body is read.
    pub fn try_clone(&self) -> Option<Self> {
        let mut state = lock(&self.shared.state);
        if state.mode != Mode::Buffering {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        Some(Self {
            shared: Arc::clone(&self.shared),
            id,
            cursor: 0,
            read: 0,
            finished: false,
        })
    }

    /// Whether the body can (still) be replayed.
    ///
    /// A replay made earlier can become useless later, when a reader crosses the cap or the
    /// source fails: a layer that holds a replay should ask again before sending it.
    pub fn is_replayable(&self) -> bool {
        self.replay_status().is_ok()
    }

    /// `Ok` while the body can be replayed, otherwise why not.
    pub fn replay_status(&self) -> Result<(), NotReplayable> {
        let state = lock(&self.shared.state);
        state.not_replayable().map_or(Ok(()), Err)
    }

    /// The cap of the replay buffer, in bytes.
    pub fn cap(&self) -> usize {
        lock(&self.shared.state).cap
    }

    /// The data bytes buffered right now (at most the cap).
    pub fn buffered_len(&self) -> usize {
        lock(&self.shared.state).buffered
    }
}

impl<B> State<B> {
    fn not_replayable(&self) -> Option<NotReplayable> {
        match self.mode {
            Mode::Buffering => None,
            Mode::Streaming { .. } => Some(NotReplayable::TooLarge { cap: self.cap }),
            Mode::Failed => Some(NotReplayable::SourceFailed),
        }
    }
}

type PolledFrame = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

impl<B> ReplayableBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    /// Reads on straight from the source: this reader crossed the cap.
    fn poll_streaming(&mut self, state: &mut State<B>, cx: &mut Context<'_>) -> PolledFrame {
        let Some(source) = state.source.as_mut() else {
            self.finished = true;
            return Poll::Ready(None);
        };
        match source.as_mut().poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                state.source = None;
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                state.source = None;
                self.finished = true;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(Some(Ok(frame))) => {
                let frame = frame.map_data(|mut data| data.copy_to_bytes(data.remaining()));
                if let Some(data) = frame.data_ref() {
                    self.read += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    /// Pulls the next frame from the source into the buffer. The caller has read everything
    /// buffered.
    fn poll_source(&mut self, state: &mut State<B>, cx: &mut Context<'_>) -> PolledFrame {
        let Some(source) = state.source.as_mut() else {
            // Unreachable while buffering: the source is only dropped on its end or failure.
            self.finished = true;
            return Poll::Ready(None);
        };
        self.shared.waiters.register(cx.waker());
        let mut wake_all = Context::from_waker(&self.shared.wake_all);
        let polled = source.as_mut().poll_frame(&mut wake_all);
        if polled.is_ready() {
            // Whatever happened, the readers waiting for the source can now make progress.
            self.shared.wake_all.wake_by_ref();
        }
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                state.source = None;
                state.complete = true;
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                state.source = None;
                state.mode = Mode::Failed;
                self.finished = true;
                tracing::debug!(
                    cap = state.cap,
                    "request body failed while being read; it will not be replayed"
                );
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(Some(Ok(frame))) => {
                let frame = match frame.into_data() {
                    Ok(mut data) => {
                        let data = data.copy_to_bytes(data.remaining());
                        self.read += data.len() as u64;
                        if state.buffered.saturating_add(data.len()) > state.cap {
                            // Crossing the cap: drop the buffer and stream on from here.
                            state.frames = Vec::new();
                            state.buffered = 0;
                            state.mode = Mode::Streaming { owner: self.id };
                            tracing::debug!(
                                cap = state.cap,
                                "request body is larger than the replay cap; it will not be replayed"
                            );
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        state.buffered += data.len();
                        state.frames.push(Stored::Data(data.clone()));
                        Frame::data(data)
                    }
                    Err(frame) => match frame.into_trailers() {
                        Ok(trailers) => {
                            state.frames.push(Stored::Trailers(trailers.clone()));
                            Frame::trailers(trailers)
                        }
                        // http-body 1 has only data and trailers frames; pass anything
                        // else through.
                        Err(frame) => {
                            let frame =
                                frame.map_data(|mut data| data.copy_to_bytes(data.remaining()));
                            return Poll::Ready(Some(Ok(frame)));
                        }
                    },
                };
                self.cursor += 1;
                if state.source.as_ref().is_some_and(|s| s.is_end_stream()) {
                    // Known to be over without another poll: say so at once (hyper uses it to
                    // finish the request without waiting for one more poll of the body).
                    state.source = None;
                    state.complete = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }
}

impl<B> Body for ReplayableBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        let shared = Arc::clone(&this.shared);
        let mut state = lock(&shared.state);
        match state.mode {
            Mode::Streaming { owner } if owner == this.id => this.poll_streaming(&mut state, cx),
            Mode::Streaming { .. } => {
                this.finished = true;
                let reason = NotReplayable::TooLarge { cap: state.cap };
                Poll::Ready(Some(Err(ReplayError::new(reason).into())))
            }
            Mode::Buffering | Mode::Failed => {
                if let Some(stored) = state.frames.get(this.cursor) {
                    let frame = match stored {
                        Stored::Data(data) => {
                            this.read += data.len() as u64;
                            Frame::data(data.clone())
                        }
                        Stored::Trailers(trailers) => Frame::trailers(trailers.clone()),
                    };
                    this.cursor += 1;
                    return Poll::Ready(Some(Ok(frame)));
                }
                if state.complete {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                if state.mode == Mode::Failed {
                    this.finished = true;
                    let reason = NotReplayable::SourceFailed;
                    return Poll::Ready(Some(Err(ReplayError::new(reason).into())));
                }
                this.poll_source(&mut state, cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.finished {
            return true;
        }
        let state = lock(&self.shared.state);
        match state.mode {
            Mode::Streaming { owner } if owner == self.id => {
                state.source.as_ref().is_none_or(|s| s.is_end_stream())
            }
            Mode::Streaming { .. } => false,
            Mode::Buffering | Mode::Failed => state.complete && self.cursor >= state.frames.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let state = lock(&self.shared.state);
        match state.mode {
            Mode::Streaming { owner } if owner == self.id => state
                .source
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), |s| s.size_hint()),
            Mode::Streaming { .. } => SizeHint::default(),
            Mode::Buffering | Mode::Failed if state.complete => {
                SizeHint::with_exact((state.buffered as u64).saturating_sub(self.read))
            }
            Mode::Buffering | Mode::Failed => {
                let mut hint = SizeHint::new();
                if let Some(upper) = state.hint.upper() {
                    hint.set_upper(upper.saturating_sub(self.read));
                }
                // Lower never exceeds upper: both shrink by the same amount, saturating.
                hint.set_lower(state.hint.lower().saturating_sub(self.read));
                hint
            }
        }
    }
}

impl<B> fmt::Debug for ReplayableBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("ReplayableBody")
            .field("cap", &state.cap)
            .field("buffered", &state.buffered)
            .field("complete", &state.complete)
            .field("replayable", &state.not_replayable().is_none())
            .field("read", &self.read)
            .finish()
    }
}
