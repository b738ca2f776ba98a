use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Metric labels for keys, bounded: the first `limit` distinct names get a label of their
/// own, every later one shares one "other" label.
///
/// A metrics recorder keeps every label set it has seen for good (a Prometheus exporter
/// keeps a series per label set), so a label taken from an attacker-chosen key — a path, a
/// host header — is a memory leak and a bill. Forgetting a key's table entry does not free
/// its label either: the same name gets the same label back, and the number of distinct
/// labels ever handed out never exceeds `limit` + 1.
///
/// It is consulted when a key gets an entry, not per call.
///
/// ```
/// use seawall_core::keyed::Labels;
///
/// let labels = Labels::new(2, "payments/other");
/// assert_eq!(&*labels.label("payments/a"), "payments/a");
/// assert_eq!(&*labels.label("payments/b"), "payments/b");
/// assert_eq!(&*labels.label("payments/c"), "payments/other");
/// assert_eq!(&*labels.label("payments/a"), "payments/a", "a name keeps its label");
/// ```
pub struct Labels {
    limit: usize,
    other: Arc<str>,
    issued: RwLock<HashSet<Arc<str>>>,
}

impl Labels {
    /// At most `limit` names get a label of their own; the others get `other`.
    pub fn new(limit: usize, other: impl Into<Arc<str>>) -> Self {
        Self {
            limit,
            other: other.into(),
            issued: RwLock::new(HashSet::new()),
        }
    }

    /// The label for `name`: `name` itself if it already has one or there is room for it,
    /// otherwise the shared "other" label.
    pub fn label(&self, name: &str) -> Arc<str> {
        {
            let issued = self
                .issued
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(label) = issued.get(name) {
                return label.clone();
            }
            if issued.len() >= self.limit {
                return self.other.clone();
            }
        }
        let mut issued = self
            .issued
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(label) = issued.get(name) {
            return label.clone();
        }
        if issued.len() >= self.limit {
            return self.other.clone();
        }
        let label: Arc<str> = Arc::from(name);
        issued.insert(label.clone());
        label
    }

    /// The label shared by names beyond the limit.
    pub fn other(&self) -> &str {
        &self.other
    }

    /// How many names have a label of their own.
    pub fn len(&self) -> usize {
        self.issued
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether no name has a label of its own yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Labels")
            .field("limit", &self.limit)
            .field("issued", &self.len())
            .field("other", &self.other)
            .finish()
    }
}
