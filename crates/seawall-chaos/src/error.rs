//! Errors the chaos layers return.

use std::error::Error;
use std::fmt;

/// A ready-made error for [`InjectFaultLayer`](crate::InjectFaultLayer): "injected fault".
///
/// Use it when the kind of error does not matter; give the layer your own error when the
/// code under test treats errors differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    _private: (),
}

impl InjectedFault {
    /// A new injected fault.
    pub fn new() -> Self {
        Self { _private: () }
    }
}

impl Default for InjectedFault {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected fault")
    }
}

impl Error for InjectedFault {}

/// The error of an [`InjectAbort`](crate::InjectAbort) that drops the connection: the
/// request was dropped unanswered.
///
/// A hyper server that gets an error from its service closes the connection without
/// writing a response, so the client sees its connection closed before a response came,
/// as it would when a server process dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aborted {
    _private: (),
}

impl Aborted {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }
}

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request aborted by fault injection")
    }
}

impl Error for Aborted {}
