//! Deadline propagation: the server reads the caller's deadline and hands it to the calls
//! its handler makes; the client sends what is left. Paused time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use proptest::prelude::*;
use seawall_core::deadline::Deadline;
use seawall_core::{BoxError, RejectionKind};
use seawall_http::RejectionResponseLayer;
use seawall_timeout::{ReceiveDeadlineLayer, SendDeadlineLayer};
use tokio::time::Instant;
use tokio_test::assert_pending;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};
use tower_test::mock;

const MS: Duration = Duration::from_millis(1);

fn request(pairs: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder();
    for (name, value) in pairs {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

fn is_deadline_exceeded(error: &BoxError) -> bool {
    seawall_core::find_rejection(error.as_ref()).map(|r| r.kind())
        == Some(RejectionKind::DeadlineExceeded)
}

/// A handler that answers with the time its request's deadline had left, and checks that
/// the deadline in the extensions is the task's current one.
fn remaining_seen(
) -> impl Service<Request<()>, Response = Option<Duration>, Error = Infallible, Future: Send> + Clone
{
    service_fn(|req: Request<()>| async move {
        let deadline = req.extensions().get::<Deadline>().copied();
        assert_eq!(deadline, Deadline::current());
        Ok(deadline.map(|d| d.remaining()))
    })
}

#[tokio::test(start_paused = true)]
async fn the_server_takes_the_callers_deadline() {
    let server = ReceiveDeadlineLayer::new().layer(remaining_seen());
    let seen = |pairs: &'static [(&str, &str)]| server.clone().oneshot(request(pairs));
    assert_eq!(
        seen(&[("seawall-deadline-ms", "1500")]).await.unwrap(),
        Some(1500 * MS)
    );
    assert_eq!(
        seen(&[]).await.unwrap(),
        None,
        "no header, no default: no deadline"
    );
    let grpc = &[
        ("content-type", "application/grpc"),
        ("grpc-timeout", "250m"),
    ];
    assert_eq!(seen(grpc).await.unwrap(), Some(250 * MS));
    // A gRPC request's own header is grpc-timeout; the plain one is not read for it.
    let grpc = &[
        ("content-type", "application/grpc+proto"),
        ("seawall-deadline-ms", "9"),
    ];
    assert_eq!(seen(grpc).await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn huge_values_are_capped_and_garbage_ignored() {
    let server = ReceiveDeadlineLayer::builder()
        .max_timeout(Duration::from_secs(30))
        .default_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap()
        .layer(remaining_seen());
    let seen = |pairs: &'static [(&str, &str)]| server.clone().oneshot(request(pairs));
    let grpc = &[
        ("content-type", "application/grpc"),
        ("grpc-timeout", "99999999H"),
    ];
    assert_eq!(seen(grpc).await.unwrap(), Some(Duration::from_secs(30)));
    let huge = &[("seawall-deadline-ms", "18446744073709551616000")];
    assert_eq!(seen(huge).await.unwrap(), Some(Duration::from_secs(30)));
    for garbage in ["-100", "1e3", "soon", "12.5"] {
        let pairs = vec![("seawall-deadline-ms", garbage)];
        let seen = server.clone().oneshot(request(&pairs)).await.unwrap();
        assert_eq!(
            seen,
            Some(Duration::from_secs(2)),
            "{garbage}: the default applies"
        );
    }
    let mut non_utf8 = request(&[]);
    non_utf8.headers_mut().insert(
        "seawall-deadline-ms",
        HeaderValue::from_bytes(b"12\xff").unwrap(),
    );
    assert_eq!(
        server.clone().oneshot(non_utf8).await.unwrap(),
        Some(Duration::from_secs(2))
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_cannot_be_met_is_refused_without_calling_the_handler() {
    let layer = ReceiveDeadlineLayer::builder()
        .min_remaining(20 * MS)
        .build()
        .unwrap();
    let (mut server, mut handle) = mock::spawn_layer::<Request<()>, (), _>(layer);
    handle.allow(10);
    for doomed in ["0", "5", "20"] {
        let error = server
            .call(request(&[("seawall-deadline-ms", doomed)]))
            .await
            .unwrap_err();
        assert!(is_deadline_exceeded(&error), "{doomed}: {error}");
    }
    let mut expired = request(&[]);
    expired
        .extensions_mut()
        .insert(Deadline::after(Duration::ZERO));
    assert!(server.call(expired).await.is_err());
    assert_pending!(handle.poll_request(), "the handler was never called");

    // Through RejectionResponseLayer, the caller sees 504 at once.
    let answered = service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    let server = ServiceBuilder::new()
        .layer(RejectionResponseLayer::infallible())
        .layer(ReceiveDeadlineLayer::new())
        .service(answered);
    let response = server
        .oneshot(request(&[
            ("content-type", "application/grpc"),
            ("grpc-timeout", "0n"),
        ]))
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
}

#[tokio::test(start_paused = true)]
async fn the_handler_is_cut_off_at_the_deadline() {
    let slow = service_fn(|_: Request<()>| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok::<_, Infallible>(())
    });
    let server = ReceiveDeadlineLayer::new().layer(slow);
    let start = Instant::now();
    let error = server
        .oneshot(request(&[("seawall-deadline-ms", "300")]))
        .await
        .unwrap_err();
    assert!(is_deadline_exceeded(&error));
    assert_eq!(start.elapsed(), 300 * MS);
}

/// A client that answers with the request it would put on the wire.
fn wire(
) -> impl Service<Request<()>, Response = Request<()>, Error = Infallible, Future: Send> + Clone {
    service_fn(|req: Request<()>| async move { Ok(req) })
}

#[tokio::test(start_paused = true)]
async fn a_handlers_calls_inherit_the_deadline_without_code() {
    let client = SendDeadlineLayer::new().layer(wire());
    let handler = service_fn(move |_inbound: Request<()>| {
        let client = client.clone();
        async move {
            tokio::time::sleep(300 * MS).await;
            // New requests, knowing nothing of the inbound one.
            let plain = client.clone().oneshot(request(&[])).await?;
            let grpc = client
                .oneshot(request(&[("content-type", "application/grpc")]))
                .await?;
            Ok::<_, BoxError>((plain, grpc))
        }
    });
    let gateway = ReceiveDeadlineLayer::new().layer(handler);
    let (plain, grpc) = gateway
        .oneshot(request(&[("seawall-deadline-ms", "800")]))
        .await
        .unwrap();
    assert_eq!(plain.headers()["seawall-deadline-ms"], "500");
    assert_eq!(grpc.headers()["grpc-timeout"], "500000u");
    assert!(grpc.headers().get("seawall-deadline-ms").is_none());
    assert_eq!(
        plain
            .extensions()
            .get::<Deadline>()
            .map(Deadline::remaining),
        Some(500 * MS)
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_sends_the_earlier_deadline_and_refuses_an_expired_one() {
    let client = SendDeadlineLayer::new().layer(wire());

    // No deadline anywhere: the request goes out untouched, a stale header included.
    let sent = client
        .clone()
        .oneshot(request(&[("seawall-deadline-ms", "7")]))
        .await
        .unwrap();
    assert_eq!(sent.headers()["seawall-deadline-ms"], "7");
    assert!(sent.extensions().get::<Deadline>().is_none());

    // The request's own deadline and the task's: the earlier counts, and replaces the stale
    // header.
    for (own, task, sent_ms) in [(200, 900, "200"), (900, 200, "200")] {
        let mut req = request(&[("seawall-deadline-ms", "7")]);
        req.extensions_mut().insert(Deadline::after(own * MS));
        let sent = Deadline::after(task * MS)
            .scope(client.clone().oneshot(req))
            .await
            .unwrap();
        assert_eq!(sent.headers()["seawall-deadline-ms"], sent_ms);
    }

    let (mut client, mut handle) =
        mock::spawn_layer::<Request<()>, (), _>(SendDeadlineLayer::new());
    handle.allow(1);
    let mut late = request(&[]);
    late.extensions_mut()
        .insert(Deadline::after(Duration::ZERO));
    let error = client.call(late).await.unwrap_err();
    assert!(is_deadline_exceeded(&error));
    assert_pending!(handle.poll_request(), "an expired request is not sent");
}

/// A client that answers after `delay` with the header it was sent and the deadline that was
/// current while it ran.
fn slow_wire(
    delay: Duration,
) -> impl Service<Request<()>, Response = (HeaderValue, Option<Deadline>), Error = Infallible> + Clone
{
    service_fn(move |req: Request<()>| async move {
        tokio::time::sleep(delay).await;
        Ok((
            req.headers()["seawall-deadline-ms"].clone(),
            Deadline::current(),
        ))
    })
}

#[tokio::test(start_paused = true)]
async fn an_unenforced_send_deadline_passes_the_deadline_on_without_a_timer() {
    let within_100ms = || {
        let mut req = request(&[]);
        req.extensions_mut().insert(Deadline::after(100 * MS));
        req
    };

    // The default layer fails the call at the deadline.
    let error = SendDeadlineLayer::new()
        .layer(slow_wire(300 * MS))
        .oneshot(within_100ms())
        .await
        .unwrap_err();
    assert!(is_deadline_exceeded(&error));

    // Unenforced: the same header and the same current deadline downstream, but the answer
    // that comes after the deadline gets through: timing out is left to another layer.
    let req = within_100ms();
    let sent = req.extensions().get::<Deadline>().copied();
    let began = Instant::now();
    let (header, current) = SendDeadlineLayer::unenforced()
        .layer(slow_wire(300 * MS))
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(header, "100");
    assert_eq!(current, sent);
    assert_eq!(began.elapsed(), 300 * MS);

    // It still refuses a request whose deadline has passed, without sending it.
    let (mut client, mut handle) =
        mock::spawn_layer::<Request<()>, (), _>(SendDeadlineLayer::unenforced());
    handle.allow(1);
    let mut late = request(&[]);
    late.extensions_mut()
        .insert(Deadline::after(Duration::ZERO));
    let error = client.call(late).await.unwrap_err();
    assert!(is_deadline_exceeded(&error));
    assert_pending!(handle.poll_request(), "an expired request is not sent");
}

#[tokio::test]
async fn bad_settings_are_config_errors() {
    let err = ReceiveDeadlineLayer::builder()
        .min_remaining(Duration::from_secs(5))
        .max_timeout(Duration::from_secs(5))
        .build()
        .unwrap_err();
    assert_eq!(
        err.message(),
        "max_timeout must be above min_remaining (5s), got 5s"
    );
    assert!(ReceiveDeadlineLayer::builder()
        .default_timeout(Some(Duration::from_secs(301)))
        .build()
        .is_err());
    assert!(ReceiveDeadlineLayer::builder()
        .default_timeout(Some(Duration::ZERO))
        .build()
        .is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever bytes a caller sends, the server neither panics nor grants more than its cap
    /// or less than its minimum.
    #[test]
    fn arbitrary_header_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..24),
        grpc in any::<bool>(),
    ) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            return Ok(()); // not a header value at all: hyper would have refused it
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let seen = runtime.block_on(async move {
            let server = ReceiveDeadlineLayer::builder()
                .min_remaining(10 * MS)
                .max_timeout(Duration::from_secs(60))
                .build()
                .unwrap()
                .layer(remaining_seen());
            let mut req = request(&[]);
            if grpc {
                req.headers_mut().insert("content-type", HeaderValue::from_static("application/grpc"));
                req.headers_mut().insert("grpc-timeout", value);
            } else {
                req.headers_mut().insert("seawall-deadline-ms", value);
            }
            server.oneshot(req).await
        });
        match seen {
            Ok(None) => {}
            Ok(Some(remaining)) => {
                prop_assert!(remaining > 10 * MS && remaining <= Duration::from_secs(60));
            }
            Err(error) => prop_assert!(is_deadline_exceeded(&error)),
        }
    }
}
