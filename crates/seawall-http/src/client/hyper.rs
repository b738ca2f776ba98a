use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// hyper-util's legacy client over plain TCP: a `Service<http::Request<B>>` whose responses
/// are `http::Response<hyper::body::Incoming>` and whose errors are
/// `hyper_util::client::legacy::Error`.
pub type HyperClient<B> = Client<HttpConnector, B>;

/// A [`HyperClient`] for plain HTTP on the tokio runtime, with hyper-util's default pool.
///
/// Any body that hyper can send works, including
/// [`ReplayableBody`](crate::replay::ReplayableBody): it is `Unpin` and `Send` when the body it
/// wraps is `Send`.
pub fn hyper_client<B>() -> HyperClient<B>
where
    B: http_body::Body + Send,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new()).build_http()
}
