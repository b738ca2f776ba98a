//! Priorities: which requests go first when not all can be served.

/// How much a request matters when the service cannot serve everything.
///
/// Under pressure sheddable requests are refused first, then normal ones; a share of the
/// limit is kept for the classes above each (see `ShedBuilder::reserve`), so critical
/// traffic is never starved by a flood of lesser traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Must be served if at all possible (a checkout, a health check from the balancer).
    Critical,
    /// Ordinary traffic; the default.
    #[default]
    Normal,
    /// May be refused first (prefetches, batch jobs, retries).
    Sheddable,
}

impl Priority {
    /// All priorities, most important first.
    pub const ALL: [Priority; 3] = [Priority::Critical, Priority::Normal, Priority::Sheddable];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Parses `critical`, `normal` or `sheddable` (ASCII case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// The name `parse` reads: `critical`, `normal` or `sheddable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Normal => "normal",
            Self::Sheddable => "sheddable",
        }
    }
}

/// Gives each request its [`Priority`].
///
/// Every closure `Fn(&Req) -> Priority` is one. [`AllNormal`] (the default) gives every
/// request [`Priority::Normal`]. With the `http` feature, [`FromHeader`] reads a header.
pub trait Prioritize<Req> {
    /// The priority of `request`.
    fn priority(&self, request: &Req) -> Priority;
}

impl<F, Req> Prioritize<Req> for F
where
    F: Fn(&Req) -> Priority,
{
    fn priority(&self, request: &Req) -> Priority {
        self(request)
    }
}

/// Every request is [`Priority::Normal`]: no priorities.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllNormal;

impl<Req> Prioritize<Req> for AllNormal {
    fn priority(&self, _request: &Req) -> Priority {
        Priority::Normal
    }
}

/// Reads the priority from a request header (`critical`, `normal`, `sheddable`).
///
/// A header comes from the client, and a client that may name its own priority will call
/// everything critical. So by default the header can only **lower** a request's priority
/// below `default` (a client may volunteer its prefetches as sheddable); it can raise it
/// only when the operator says the header is set by something trusted (a gateway that
/// strips it from outside traffic): [`trusted`](Self::trusted).
#[cfg(feature = "http")]
#[derive(Clone, Debug)]
pub struct FromHeader {
    name: http::HeaderName,
    default: Priority,
    trusted: bool,
}

#[cfg(feature = "http")]
impl FromHeader {
    /// Reads `name`; a request without it (or with an unknown value) gets `default`.
    pub fn new(name: http::HeaderName, default: Priority) -> Self {
        Self {
            name,
            default,
            trusted: false,
        }
    }

    /// Lets the header raise a request above `default`: only for headers that clients
    /// cannot set themselves.
    pub fn trusted(mut self) -> Self {
        self.trusted = true;
        self
    }
}

#[cfg(feature = "http")]
impl<B> Prioritize<http::Request<B>> for FromHeader {
    fn priority(&self, request: &http::Request<B>) -> Priority {
        let named = request
            .headers()
            .get(&self.name)
            .and_then(|v| v.to_str().ok())
            .and_then(Priority::parse);
        match named {
            Some(p) if self.trusted => p,
            // Untrusted: the header may only lower the priority (a higher index).
            Some(p) => p.max(self.default),
            None => self.default,
        }
    }
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use super::*;

    fn request(value: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::builder();
        if let Some(v) = value {
            builder = builder.header("x-priority", v);
        }
        builder.body(()).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn an_untrusted_header_can_lower_but_never_raise() {
        let p = FromHeader::new(
            http::HeaderName::from_static("x-priority"),
            Priority::Normal,
        );
        assert_eq!(p.priority(&request(Some("critical"))), Priority::Normal);
        assert_eq!(p.priority(&request(Some("sheddable"))), Priority::Sheddable);
        assert_eq!(p.priority(&request(None)), Priority::Normal);
        let trusted = p.trusted();
        assert_eq!(
            trusted.priority(&request(Some("CRITICAL"))),
            Priority::Critical
        );
        assert_eq!(trusted.priority(&request(Some("bogus"))), Priority::Normal);
    }
}
