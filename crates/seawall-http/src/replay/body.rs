use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use seawall_core::BoxError;

use super::error::{NotReplayable, ReplayError};
use super::kept::Kept;
use super::waiters::{lock, Waiters};

/// The default cap of a replay buffer: 64 KiB.
pub const DEFAULT_REPLAY_CAP: usize = 64 * 1024;

/// A request body that keeps its bytes as they stream, up to a cap, so that the request can
/// be sent again.
///
/// The wrapped body (the *source*) moves into state shared by the body and all its replays
/// ([`try_clone`](Self::try_clone)). Every data byte the source yields is appended to a
/// shared buffer, whichever reader pulled it; each reader has its own offset into that buffer
/// and pulls from the source only once it has read everything buffered. So:
///
/// - a replay made after the first attempt stopped reading early (say, the response arrived
///   before the body was sent) reads the buffered bytes and then goes on pulling from the
///   source: it carries the whole body;
/// - a replay made while the first attempt is still reading sees every byte, whoever reads
///   first;
/// - trailers are kept and replayed after the data; an empty body stays empty and an exact
///   [`size_hint`](Body::size_hint) stays exact.
///
/// A replay yields the same bytes in the same order, but not necessarily cut into the same
/// frames: HTTP gives frame boundaries no meaning.
///
/// # The cap, and the memory a body holds
///
/// At most `cap` bytes of data are kept. When the body turns out larger — or its size hint
/// says in advance that it will be — the buffer is dropped and the reader that crossed the
/// cap streams the rest straight from the source: the body still arrives whole at that
/// reader, but it can no longer be replayed. [`try_clone`](Self::try_clone) then returns
/// `None` and [`is_replayable`](Self::is_replayable) `false`.
///
/// The data is kept in one allocation that the body owns, never in the source's chunks: the
/// reader that pulls a chunk gets the chunk itself, and a copy of its bytes is appended to
/// the buffer. So a kept chunk never pins the larger buffer it may be a slice of (hyper's read
/// buffer, up to hundreds of KiB), and empty chunks and frame boundaries cost nothing. The
/// buffer's capacity — [`buffer_capacity`](Self::buffer_capacity), the figure the cap bounds
/// — never exceeds the cap. A replay reading bytes that the source is still delivering gets
/// copies of them (at most 16 KiB per frame); once the source has ended, replays share the
/// buffer without copying. Beyond the buffer, a body holds a fixed-size state, the trailers if
/// the source sent any (not counted against the cap), and a waker per reader waiting for the
/// source. So the memory held per body never exceeds the cap plus the one chunk in flight,
/// plus those fixed costs.
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
    /// The buffered data bytes this reader has yielded: its offset into the buffer.
    offset: usize,
    /// Data bytes this reader has yielded, including any streamed past the cap.
    read: u64,
    /// This reader has yielded the trailers (or there will be none for it to yield).
    trailers_sent: bool,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Every data byte the source has yielded is in the buffer.
    Buffering,
    /// The body crossed the cap: nothing is buffered any more and only the reader `owner`
    /// reads on, straight from the source.
    Streaming { owner: u64 },
    /// The source failed; what was buffered before can still be read.
    Failed,
}

struct State<B> {
    /// `None` once the source has ended or failed.
    source: Option<Pin<Box<B>>>,
    kept: Kept,
    /// The source's trailers, which end the body.
    trailers: Option<HeaderMap>,
    cap: usize,
    mode: Mode,
    /// The source has yielded its end: the buffer and the trailers hold the whole body.
    complete: bool,
    /// The source's size hint before anything was read.
    hint: SizeHint,
    next_id: u64,
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
            over_cap();
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
                    kept: Kept::Growing(Vec::new()),
                    trailers: None,
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
            offset: 0,
            read: 0,
            trailers_sent: false,
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
            offset: 0,
            read: 0,
            trailers_sent: false,
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
        lock(&self.shared.state).kept.len()
    }

    /// The bytes of memory the replay buffer holds right now: the size of its allocation,
    /// which is at least [`buffered_len`](Self::buffered_len) and at most the cap.
    pub fn buffer_capacity(&self) -> usize {
        lock(&self.shared.state).kept.capacity()
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

    /// The source has ended: the buffer holds the whole body.
    fn complete(&mut self) {
        self.source = None;
        self.complete = true;
        self.kept.freeze();
    }

    /// How many bytes the source announced at least, if that fits under the cap.
    fn expected(&self) -> usize {
        usize::try_from(self.hint.lower()).map_or(self.cap, |lower| lower.min(self.cap))
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

    /// Pulls the next frame from the source, keeping a copy of it. The caller has read
    /// everything buffered.
    fn poll_source(&mut self, state: &mut State<B>, cx: &mut Context<'_>) -> PolledFrame {
        let Some(source) = state.source.as_mut() else {
            // Unreachable while buffering: the source is only dropped on its end or failure.
            self.finished = true;
            return Poll::Ready(None);
        };
        let waiters = &self.shared.waiters;
        let seen = waiters.wakes();
        let polled = source
            .as_mut()
            .poll_frame(&mut Context::from_waker(&self.shared.wake_all));
        let Poll::Ready(polled) = polled else {
            waiters.register(cx.waker(), seen);
            return Poll::Pending;
        };
        let frame = self.keep(state, polled);
        // Whatever happened, the other readers waiting for the source can now make progress.
        self.shared.waiters.wake_others(cx.waker());
        frame
    }

    /// Updates the state with what the source yielded, and answers the reader that pulled it.
    fn keep(
        &mut self,
        state: &mut State<B>,
        polled: Option<Result<Frame<B::Data>, B::Error>>,
    ) -> PolledFrame {
        match polled {
            None => {
                state.complete();
                self.finished = true;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                state.source = None;
                state.mode = Mode::Failed;
                state.kept.freeze();
                self.finished = true;
                tracing::debug!(
                    cap = state.cap,
                    "request body failed while being read; it will not be replayed"
                );
                Poll::Ready(Some(Err(e.into())))
            }
            Some(Ok(frame)) => {
                let frame = match frame.into_data() {
                    Ok(mut data) => {
                        let data = data.copy_to_bytes(data.remaining());
                        self.read += data.len() as u64;
                        if state.kept.len().saturating_add(data.len()) > state.cap {
                            // Crossing the cap: drop the buffer and stream on from here.
                            state.kept = Kept::Growing(Vec::new());
                            state.mode = Mode::Streaming { owner: self.id };
                            over_cap();
                            tracing::debug!(
                                cap = state.cap,
                                "request body is larger than the replay cap; it will not be replayed"
                            );
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        // An empty chunk is passed on but not kept: it carries nothing.
                        if !data.is_empty() {
                            let expected = state.expected();
                            state.kept.push(&data, state.cap, expected);
                            self.offset += data.len();
                        }
                        Frame::data(data)
                    }
                    Err(frame) => match frame.into_trailers() {
                        Ok(trailers) => {
                            // Trailers end a body: nothing the source might yield after them
                            // is read.
                            state.trailers = Some(trailers.clone());
                            state.complete();
                            self.trailers_sent = true;
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
                if state.source.as_ref().is_some_and(|s| s.is_end_stream()) {
                    // Known to be over without another poll: say so at once (hyper uses it to
                    // finish the request without waiting for one more poll of the body).
                    state.complete();
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
                if this.offset < state.kept.len() {
                    let data = state.kept.chunk_from(this.offset);
                    this.offset += data.len();
                    this.read += data.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                if state.complete {
                    if !this.trailers_sent {
                        this.trailers_sent = true;
                        if let Some(trailers) = &state.trailers {
                            return Poll::Ready(Some(Ok(Frame::trailers(trailers.clone()))));
                        }
                    }
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
            Mode::Buffering | Mode::Failed => {
                state.complete
                    && self.offset >= state.kept.len()
                    && (self.trailers_sent || state.trailers.is_none())
            }
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
                SizeHint::with_exact(state.kept.len().saturating_sub(self.offset) as u64)
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
            .field("buffered", &state.kept.len())
            .field("buffer_capacity", &state.kept.capacity())
            .field("complete", &state.complete)
            .field("replayable", &state.not_replayable().is_none())
            .field("read", &self.read)
            .finish()
    }
}

/// A body turned out larger than its replay cap (by its size hint, or while streaming): it
/// will not be replayed. Counted as
/// `seawall_calls_total{layer="http", name="replay", outcome="rejected"}`.
fn over_cap() {
    seawall_core::Calls::count_once("http", "replay", "rejected");
}
