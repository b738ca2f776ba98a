//! The bytes a replayable body keeps for its replays.

use bytes::Bytes;

/// The most a replay copies out of a buffer that is still growing, per frame.
const REPLAY_COPY_MAX: usize = 16 * 1024;

/// The smallest allocation the buffer grows to, so that a body of tiny chunks does not
/// reallocate on each of them.
const MIN_GROWTH: usize = 64;

/// The data bytes kept for replays, in one allocation of at most the cap.
pub(super) enum Kept {
    /// The source is still delivering: its bytes are appended here.
    Growing(Vec<u8>),
    /// The source has ended or failed: the same allocation, now shared with the frames
    /// handed to replays. `capacity` is its size.
    Frozen { bytes: Bytes, capacity: usize },
}

impl Kept {
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Growing(vec) => vec.len(),
            Self::Frozen { bytes, .. } => bytes.len(),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        match self {
            Self::Growing(vec) => vec.capacity(),
            Self::Frozen { capacity, .. } => *capacity,
        }
    }

    /// Appends `chunk`, growing the allocation to at most `cap`. The caller has checked
    /// that the chunk fits under the cap; `expected` is how many bytes the source announced
    /// at least.
    pub(super) fn push(&mut self, chunk: &[u8], cap: usize, expected: usize) {
        let Self::Growing(vec) = self else {
            // Unreachable: a frozen buffer's source is gone.
            return;
        };
        let needed = vec.len().saturating_add(chunk.len());
        if needed > vec.capacity() {
            let target = needed
                .max(vec.capacity().saturating_mul(2))
                .max(expected)
                .max(MIN_GROWTH)
                .min(cap)
                .max(needed);
            vec.reserve_exact(target - vec.len());
        }
        vec.extend_from_slice(chunk);
    }

    /// No more bytes will come: share the allocation from now on.
    pub(super) fn freeze(&mut self) {
        if let Self::Growing(vec) = self {
            let capacity = vec.capacity();
            // No copy and no reallocation, even when the vector is not full.
            let bytes = Bytes::from(std::mem::take(vec));
            *self = Self::Frozen { bytes, capacity };
        }
    }

    /// The buffered bytes from `offset` on (which must be fewer than `len`), or the first
    /// 16 KiB of them while the buffer is still growing.
    pub(super) fn chunk_from(&self, offset: usize) -> Bytes {
        match self {
            Self::Growing(vec) => {
                let end = vec.len().min(offset.saturating_add(REPLAY_COPY_MAX));
                Bytes::copy_from_slice(vec.get(offset..end).unwrap_or_default())
            }
            Self::Frozen { bytes, .. } => bytes.slice(offset.min(bytes.len())..),
        }
    }
}
