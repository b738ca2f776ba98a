//! Replayable bodies: the cases that broke other proxies, and a property test over random
//! chunkings, cut points and interleavings of several readers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use proptest::prelude::*;
use seawall_http::replay::{
    is_replayable, make_replayable, try_clone_request, NotReplayable, ReplayError, ReplayableBody,
};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------
// Test bodies

/// A body fed through a channel, so a test decides when each frame arrives.
struct ChannelBody {
    rx: mpsc::UnboundedReceiver<Result<Frame<Bytes>, io::Error>>,
}

fn channel_body() -> (
    mpsc::UnboundedSender<Result<Frame<Bytes>, io::Error>>,
    ChannelBody,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, ChannelBody { rx })
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx)
    }
}

fn data(s: &'static str) -> Result<Frame<Bytes>, io::Error> {
    Ok(Frame::data(Bytes::from_static(s.as_bytes())))
}

fn trailers() -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc123"));
    t
}

/// What one reader saw: its data, its trailers, and how it ended.
#[derive(Debug, Default)]
struct Seen {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    error: Option<String>,
}

async fn read_all<B>(mut body: B) -> Seen
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut seen = Seen::default();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(d) => seen.data.extend_from_slice(&d),
                Err(frame) => seen.trailers = frame.into_trailers().ok(),
            },
            Err(e) => {
                seen.error = Some(e.to_string());
                break;
            }
        }
    }
    seen
}

// ---------------------------------------------------------------------------------------
// The cases that broke other proxies

#[tokio::test(start_paused = true)]
async fn response_before_the_body_was_sent_the_replay_is_whole() {
    let (tx, source) = channel_body();
    let mut first = ReplayableBody::new(source, 1024);
    tx.send(data("one ")).unwrap();
    let chunk = first.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(chunk, "one ");

    // The response arrives: the first attempt is dropped halfway through the body.
    let replay = first.try_clone().unwrap();
    drop(first);

    // The rest of the body arrives only now.
    let reader = tokio::spawn(read_all(replay));
    tokio::time::sleep(Duration::from_millis(10)).await;
    tx.send(data("two ")).unwrap();
    tx.send(data("three")).unwrap();
    tx.send(Ok(Frame::trailers(trailers()))).unwrap();
    drop(tx);
    let seen = tokio::time::timeout(Duration::from_secs(1), reader)
        .await
        .expect("the replay is woken by the source")
        .unwrap();
    assert_eq!(seen.data, b"one two three");
    assert_eq!(seen.trailers, Some(trailers()));
    assert!(seen.error.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_replay_started_while_the_first_attempt_still_reads_sees_every_byte() {
    let (tx, source) = channel_body();
    let mut first = ReplayableBody::new(source, 1024);
    tx.send(data("a")).unwrap();
    let _ = first.frame().await.unwrap().unwrap();
    let replay = first.try_clone().unwrap();

    // Both read concurrently while the rest trickles in.
    let a = tokio::spawn(read_all(first));
    let b = tokio::spawn(read_all(replay));
    for chunk in ["b", "cc", "ddd", "eeee"] {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tx.send(data(chunk)).unwrap();
    }
    drop(tx);
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(
        a.data, b"bccdddeeee",
        "the first attempt had read the `a` already"
    );
    assert_eq!(b.data, b"abccdddeeee");
}

#[tokio::test(start_paused = true)]
async fn a_waiting_replay_is_woken_when_the_reader_that_polled_last_is_dropped() {
    let (tx, source) = channel_body();
    let first = ReplayableBody::new(source, 1024);
    let replay = first.try_clone().unwrap();

    // The replay waits for the source first, then the first attempt polls it too (the source
    // now holds only the latest waker), then the first attempt is dropped.
    let waiting = tokio::spawn(read_all(replay));
    tokio::task::yield_now().await;
    let mut first = first;
    let pending =
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut first).poll_frame(cx).is_pending()))
            .await;
    assert!(pending);
    drop(first);

    tx.send(data("late")).unwrap();
    drop(tx);
    let seen = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the waiting replay was not forgotten")
        .unwrap();
    assert_eq!(seen.data, b"late");
}

#[tokio::test]
async fn trailers_are_replayed() {
    let (tx, source) = channel_body();
    tx.send(data("body")).unwrap();
    tx.send(Ok(Frame::trailers(trailers()))).unwrap();
    drop(tx);
    let first = ReplayableBody::new(source, 1024);
    let replay = first.try_clone().unwrap();
    let a = read_all(first).await;
    let late_replay = replay.try_clone().unwrap();
    let b = read_all(replay).await;
    let c = read_all(late_replay).await;
    for seen in [a, b, c] {
        assert_eq!(seen.data, b"body");
        assert_eq!(seen.trailers, Some(trailers()));
    }
}

#[tokio::test]
async fn empty_bodies_stay_empty() {
    for body in [
        ReplayableBody::new(Empty::<Bytes>::new().boxed(), 16),
        ReplayableBody::new(Full::new(Bytes::new()).boxed(), 16),
    ] {
        let replay = body.try_clone().unwrap();
        for b in [&body, &replay] {
            assert!(b.is_end_stream(), "hyper must see an empty body as ended");
            assert_eq!(b.size_hint().exact(), Some(0));
        }
        assert!(read_all(body).await.data.is_empty());
        assert!(read_all(replay).await.data.is_empty());
    }
}

#[tokio::test]
async fn exact_size_hints_are_kept() {
    let mut body = ReplayableBody::new(Full::new(Bytes::from_static(b"0123456789")), 64);
    let replay = body.try_clone().unwrap();
    assert_eq!(body.size_hint().exact(), Some(10));
    assert_eq!(replay.size_hint().exact(), Some(10));
    let _ = body.frame().await.unwrap().unwrap();
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.is_end_stream());
    assert_eq!(
        replay.size_hint().exact(),
        Some(10),
        "the replay has read nothing"
    );
    assert!(!replay.is_end_stream());
    let late = body.try_clone().unwrap();
    assert_eq!(late.size_hint().exact(), Some(10));
}

#[tokio::test]
async fn a_body_over_the_cap_streams_through_and_is_not_replayable() {
    let (tx, source) = channel_body();
    for chunk in ["0123", "4567", "89"] {
        tx.send(data(chunk)).unwrap();
    }
    drop(tx);
    let first = ReplayableBody::new(source, 6);
    let early_replay = first.try_clone().unwrap();
    let seen = read_all(first).await;
    assert_eq!(
        seen.data, b"0123456789",
        "the reader that crossed the cap gets everything"
    );
    assert!(seen.error.is_none());

    assert!(!early_replay.is_replayable());
    assert_eq!(
        early_replay.replay_status(),
        Err(NotReplayable::TooLarge { cap: 6 })
    );
    assert!(early_replay.try_clone().is_none());
    assert_eq!(early_replay.buffered_len(), 0, "the buffer was dropped");
    let late = read_all(early_replay).await;
    assert!(
        late.data.is_empty(),
        "no partial replay is passed off as the body"
    );
    assert!(late.error.unwrap().contains("replay buffer cap of 6 bytes"));
}

#[tokio::test]
async fn a_body_announced_over_the_cap_is_never_buffered() {
    let body = ReplayableBody::new(Full::new(Bytes::from(vec![7u8; 100])), 99);
    assert!(!body.is_replayable());
    assert!(body.try_clone().is_none());
    assert_eq!(body.size_hint().exact(), Some(100));
    let seen = read_all(body).await;
    assert_eq!(seen.data, vec![7u8; 100]);
}

#[tokio::test]
async fn source_errors_reach_the_reader_and_end_replayability() {
    let (tx, source) = channel_body();
    tx.send(data("part")).unwrap();
    tx.send(Err(io::Error::other("client went away"))).unwrap();
    let first = ReplayableBody::new(source, 1024);
    let replay = first.try_clone().unwrap();
    let seen = read_all(first).await;
    assert_eq!(seen.data, b"part");
    assert_eq!(seen.error.as_deref(), Some("client went away"));

    assert_eq!(replay.replay_status(), Err(NotReplayable::SourceFailed));
    let mut replay = replay;
    let first_frame = replay.frame().await.unwrap().unwrap();
    assert_eq!(
        first_frame.into_data().unwrap(),
        "part",
        "buffered bytes are still good"
    );
    let err = replay.frame().await.unwrap().unwrap_err();
    let err = err.downcast::<ReplayError>().expect("a ReplayError");
    assert_eq!(err.reason(), NotReplayable::SourceFailed);
    assert!(replay.frame().await.is_none());
}

#[tokio::test]
async fn requests_are_cloned_with_everything_a_second_attempt_needs() {
    #[derive(Clone, Debug, PartialEq)]
    struct TraceId(u64);

    let mut request = Request::put("http://example.test/doc?v=2")
        .version(http::Version::HTTP_11)
        .header("content-type", "text/plain")
        .header("x-a", "1")
        .body(Full::new(Bytes::from_static(b"document")))
        .unwrap();
    request.extensions_mut().insert(TraceId(42));
    let request = make_replayable(request, 1024);
    assert!(is_replayable(&request));
    let again = try_clone_request(&request).unwrap();
    assert_eq!(again.method(), http::Method::PUT);
    assert_eq!(again.uri(), "http://example.test/doc?v=2");
    assert_eq!(again.version(), http::Version::HTTP_11);
    assert_eq!(again.headers(), request.headers());
    assert_eq!(again.extensions().get::<TraceId>(), Some(&TraceId(42)));
    assert_eq!(read_all(again.into_body()).await.data, b"document");
    assert_eq!(read_all(request.into_body()).await.data, b"document");

    let big = make_replayable(
        Request::post("/")
            .body(Full::new(Bytes::from(vec![0u8; 10])))
            .unwrap(),
        4,
    );
    assert!(!is_replayable(&big));
    assert_eq!(
        try_clone_request(&big).unwrap_err(),
        NotReplayable::TooLarge { cap: 4 }
    );
}

#[test]
fn bodies_are_send_sync_and_unpin_for_hyper_and_reqwest() {
    fn check<T: Send + Sync + Unpin + 'static>() {}
    check::<ReplayableBody<Full<Bytes>>>();
    check::<ReplayableBody<ChannelBody>>();
}

// ---------------------------------------------------------------------------------------
// Memory: what a body holds is its buffer, and the buffer is bounded by the cap

#[tokio::test]
async fn kept_chunks_do_not_pin_the_read_buffer_they_were_sliced_from() {
    // Like hyper: ten-byte chunks sliced out of one 256 KiB read buffer.
    let mut read_buffer = Vec::with_capacity(256 * 1024);
    read_buffer.extend((0..100u8).map(|i| b'a' + i % 26));
    let read_buffer = Bytes::from(read_buffer);
    let (tx, source) = channel_body();
    for i in 0..10 {
        tx.send(Ok(Frame::data(read_buffer.slice(i * 10..(i + 1) * 10))))
            .unwrap();
    }
    drop(tx);

    let first = ReplayableBody::new(source, 1024);
    let replay = first.try_clone().unwrap();
    let seen = read_all(first).await;
    assert_eq!(seen.data, read_buffer.as_ref());
    assert!(
        read_buffer.is_unique(),
        "the replay buffer keeps copies, not slices that pin 256 KiB for 100 bytes"
    );
    assert_eq!(replay.buffered_len(), 100);
    assert!(replay.buffer_capacity() >= 100 && replay.buffer_capacity() <= 1024);
    assert_eq!(read_all(replay).await.data, read_buffer.as_ref());
}

/// Reads every frame of `body`: how many data frames and how many bytes.
async fn count_frames<B>(mut body: B) -> (usize, Vec<u8>)
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let (mut frames, mut data) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            frames += 1;
            data.extend_from_slice(&d);
        }
    }
    (frames, data)
}

#[tokio::test]
async fn empty_and_tiny_chunks_cost_no_more_than_their_bytes() {
    // 100 000 empty chunks and 1 000 one-byte chunks: once each stored frame cost ~100 bytes
    // whatever its length, and the empty ones were never counted against the cap.
    let chunks = (0..101_000).map(|i| {
        let chunk = if i % 101 == 0 {
            Bytes::from_static(b"x")
        } else {
            Bytes::new()
        };
        Ok::<_, io::Error>(Frame::data(chunk))
    });
    let first = ReplayableBody::new(StreamBody::new(futures_util::stream::iter(chunks)), 1024);
    let replay = first.try_clone().unwrap();
    let (frames, data) = count_frames(first).await;
    assert_eq!(frames, 101_000, "the first reader gets the source's frames");
    assert_eq!(data.len(), 1000);
    assert_eq!(replay.buffered_len(), 1000);
    assert!(
        replay.buffer_capacity() <= 1024,
        "{}",
        replay.buffer_capacity()
    );

    let (frames, data) = count_frames(replay).await;
    assert_eq!(data, vec![b'x'; 1000]);
    assert_eq!(
        frames, 1,
        "a replay of a whole body yields the kept bytes, not the empty frames"
    );
}

#[tokio::test]
async fn a_replay_reading_while_the_source_delivers_gets_every_byte_in_bounded_frames() {
    let (tx, source) = channel_body();
    let mut first = ReplayableBody::new(source, 64 * 1024);
    let mut replay = first.try_clone().unwrap();
    let chunk = Bytes::from(vec![5u8; 40 * 1024]);
    tx.send(Ok(Frame::data(chunk.clone()))).unwrap();
    let _ = first.frame().await.unwrap().unwrap();
    // The source has not ended: the replay copies out of the growing buffer, 16 KiB at most.
    let mut copied = Vec::new();
    while copied.len() < chunk.len() {
        let frame = replay.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(frame.len() <= 16 * 1024, "{}", frame.len());
        copied.extend_from_slice(&frame);
    }
    assert_eq!(copied, chunk.as_ref());
    drop(tx);
    assert!(first.frame().await.is_none());
    assert!(replay.frame().await.is_none());
    assert!(replay.buffer_capacity() <= 64 * 1024);
}

// ---------------------------------------------------------------------------------------
// Wakes: a reader is woken when it must be, and only then

#[derive(Default)]
struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountWakes>, Waker) {
    let count = Arc::new(CountWakes::default());
    (Arc::clone(&count), Waker::from(count))
}

#[test]
fn a_reader_is_not_woken_for_the_frames_it_is_handed() {
    let chunks = (0..100).map(|_| Ok::<_, io::Error>(Frame::data(Bytes::from_static(b"chunk"))));
    let mut body = ReplayableBody::new(StreamBody::new(futures_util::stream::iter(chunks)), 1024);
    let _replay = body.try_clone().unwrap();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut frames = 0;
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(_))) => frames += 1,
            Poll::Ready(None) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(frames, 100);
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        0,
        "each wake would be one more poll of hyper's connection task"
    );
}

/// A source that is not ready at its first poll, then ready at its second, and never wakes
/// anyone: only another reader's poll can find its frame.
struct ReadyOnSecondPoll {
    polls: usize,
}

impl Body for ReadyOnSecondPoll {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.polls += 1;
        match self.polls {
            1 => Poll::Pending,
            2 => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"found"))))),
            _ => Poll::Ready(None),
        }
    }
}

#[test]
fn a_waiting_reader_is_woken_by_a_frame_another_reader_pulled_and_the_puller_is_not() {
    let mut first = ReplayableBody::new(ReadyOnSecondPoll { polls: 0 }, 1024);
    let mut replay = first.try_clone().unwrap();
    let (replay_wakes, replay_waker) = counting_waker();
    let (first_wakes, first_waker) = counting_waker();

    let mut cx = Context::from_waker(&replay_waker);
    assert!(Pin::new(&mut replay).poll_frame(&mut cx).is_pending());
    let mut cx = Context::from_waker(&first_waker);
    let frame = Pin::new(&mut first).poll_frame(&mut cx);
    assert!(matches!(frame, Poll::Ready(Some(Ok(_)))));

    assert_eq!(
        replay_wakes.0.load(Ordering::SeqCst),
        1,
        "the waiting replay can now read the frame"
    );
    assert_eq!(
        first_wakes.0.load(Ordering::SeqCst),
        0,
        "the puller got its frame"
    );
    let mut cx = Context::from_waker(&replay_waker);
    let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut replay).poll_frame(&mut cx) else {
        panic!("the frame is buffered");
    };
    assert_eq!(frame.into_data().unwrap(), "found");
}

// ---------------------------------------------------------------------------------------
// The property: every replay yields exactly the original bytes

/// One step of a scripted source body.
#[derive(Clone, Debug)]
enum Step {
    Data(Vec<u8>),
    /// Not ready yet; wakes its waker at once.
    Pending,
}

/// A source that yields its steps, then the trailers if any.
///
/// Like hyper, it hands out each chunk as a slice of a larger allocation; it keeps a handle
/// on each allocation in `handed_out`, so the test can tell whether anything still pins it.
struct Script {
    steps: VecDeque<Step>,
    trailers: Option<HeaderMap>,
    exact: Option<u64>,
    handed_out: Arc<Mutex<Vec<Bytes>>>,
}

impl Body for Script {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.steps.pop_front() {
            Some(Step::Data(d)) => {
                if let Some(exact) = self.exact.as_mut() {
                    *exact -= d.len() as u64;
                }
                let mut read_buffer = Vec::with_capacity(d.len() + 4096);
                read_buffer.extend_from_slice(&d);
                let read_buffer = Bytes::from(read_buffer);
                let chunk = read_buffer.slice(..d.len());
                self.handed_out.lock().unwrap().push(read_buffer);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            None => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.exact.map(SizeHint::with_exact).unwrap_or_default()
    }
}

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Reader {
    body: Option<ReplayableBody<Script>>,
    seen: Seen,
    done: bool,
    woken: Arc<Flag>,
    waker: Waker,
}

impl Reader {
    fn new(body: ReplayableBody<Script>) -> Self {
        let woken = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&woken));
        Self {
            body: Some(body),
            seen: Seen::default(),
            done: false,
            woken,
            waker,
        }
    }

    /// Polls once; returns false when the reader has nothing more to do.
    fn poll(&mut self) -> bool {
        let Some(body) = self.body.as_mut() else {
            return false;
        };
        if self.done {
            return false;
        }
        self.woken.0.store(false, Ordering::SeqCst);
        let mut cx = Context::from_waker(&self.waker);
        match Pin::new(body).poll_frame(&mut cx) {
            Poll::Pending => {
                assert!(
                    self.woken.0.load(Ordering::SeqCst),
                    "a pending reader must be woken when the source wakes"
                );
            }
            Poll::Ready(None) => self.done = true,
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(d) => self.seen.data.extend_from_slice(&d),
                Err(frame) => {
                    assert!(self.seen.trailers.is_none(), "trailers yielded twice");
                    self.seen.trailers = frame.into_trailers().ok();
                }
            },
            Poll::Ready(Some(Err(e))) => {
                assert!(e.is::<ReplayError>(), "only replays fail here: {e}");
                self.seen.error = Some(e.to_string());
                self.done = true;
            }
        }
        true
    }
}

/// What the schedule does next.
#[derive(Clone, Debug)]
enum Op {
    Poll(usize),
    Replay(usize),
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<usize>().prop_map(Op::Poll),
        2 => any::<usize>().prop_map(Op::Replay),
        1 => any::<usize>().prop_map(Op::Drop),
    ]
}

/// A body cut into random chunks, with random not-ready steps between them.
fn scripted() -> impl Strategy<Value = (Vec<u8>, Vec<Step>)> {
    proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..40), 0u8..4),
        0..12,
    )
    .prop_map(|chunks| {
        let mut body = Vec::new();
        let mut steps = Vec::new();
        for (chunk, pending) in chunks {
            body.extend_from_slice(&chunk);
            if pending == 0 {
                steps.push(Step::Pending);
            }
            steps.push(Step::Data(chunk));
        }
        (body, steps)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the chunking, the cap, the moment each replay is cut and the interleaving of
    /// the readers, every reader that finishes without an error yields exactly the original
    /// bytes and trailers; a reader that fails has yielded only a prefix of them; a body within
    /// the cap never fails a reader; and the buffer's allocation never exceeds the cap nor pins
    /// the source's chunks.
    #[test]
    fn every_replay_yields_exactly_the_original_bytes(
        (body, steps) in scripted(),
        with_trailers in any::<bool>(),
        exact_hint in any::<bool>(),
        cap in 0usize..300,
        schedule in proptest::collection::vec(op(), 0..80),
    ) {
        let expected_trailers = with_trailers.then(trailers);
        let handed_out = Arc::new(Mutex::new(Vec::new()));
        let source = Script {
            steps: steps.into(),
            trailers: expected_trailers.clone(),
            exact: exact_hint.then_some(body.len() as u64),
            handed_out: Arc::clone(&handed_out),
        };
        let fits = body.len() <= cap;
        let original = ReplayableBody::new(source, cap);
        let mut readers = vec![Reader::new(original)];
        let mut all: Vec<Reader> = Vec::new();

        for op in schedule {
            let live: Vec<usize> = (0..readers.len()).filter(|&i| readers[i].body.is_some()).collect();
            if live.is_empty() {
                break;
            }
            let pick = |n: usize| live[n % live.len()];
            match op {
                Op::Poll(n) => { readers[pick(n)].poll(); }
                Op::Replay(n) => {
                    let replay = readers[pick(n)].body.as_ref().unwrap().try_clone();
                    if fits {
                        prop_assert!(replay.is_some(), "a body within the cap is always replayable");
                    }
                    if let Some(replay) = replay {
                        readers.push(Reader::new(replay));
                    }
                }
                Op::Drop(n) if live.len() > 1 => {
                    let i = pick(n);
                    readers[i].body = None;
                }
                Op::Drop(_) => {}
            }
            if let Some(b) = readers.iter().find_map(|r| r.body.as_ref()) {
                prop_assert!(b.buffered_len() <= b.buffer_capacity());
                prop_assert!(b.buffer_capacity() <= cap, "memory over the cap");
            }
            // The readers drop every frame they are handed: only the buffer could still hold
            // the source's chunks, and it must hold copies, not the read buffers they were
            // sliced from.
            for read_buffer in handed_out.lock().unwrap().iter() {
                prop_assert!(read_buffer.is_unique(), "a kept chunk pins the source's read buffer");
            }
        }

        // A replay cut at the very end, after everything else happened.
        let last = readers
            .iter()
            .find_map(|r| r.body.as_ref())
            .and_then(ReplayableBody::try_clone);
        if fits {
            prop_assert!(last.is_some());
        }
        if let Some(last) = last {
            readers.push(Reader::new(last));
        }

        // Drain every reader still alive, round robin.
        let mut rounds = 0;
        while readers.iter_mut().map(Reader::poll).fold(false, |a, b| a | b) {
            rounds += 1;
            prop_assert!(rounds < 10_000, "a reader never finished");
        }
        all.extend(readers);

        let finished: Vec<&Reader> = all.iter().filter(|r| r.body.is_some()).collect();
        prop_assert!(!finished.is_empty());
        let mut whole = 0;
        for r in &finished {
            match &r.seen.error {
                None => {
                    prop_assert_eq!(&r.seen.data, &body, "duplicated or lost bytes");
                    prop_assert_eq!(&r.seen.trailers, &expected_trailers);
                    whole += 1;
                }
                Some(_) => {
                    prop_assert!(!fits, "a body within the cap failed a reader");
                    prop_assert!(body.starts_with(&r.seen.data), "a failed replay yielded wrong bytes");
                    prop_assert!(r.seen.trailers.is_none());
                }
            }
        }
        if fits {
            prop_assert_eq!(whole, finished.len());
        }
    }
}
