//! Event ids as `collect_metric` returns them: an assigned id is kept inline, so that
//! returning it does not allocate (an allocation on the caller's thread, racing the
//! background writer's frees in the allocator, was most of the async p99).

use std::fmt;

/// Longest inline id: 16 hex digits, `-`, up to 16 hex digits.
const INLINE: usize = 33;

/// The id of a collected event: the event's own, or one the collector assigned
/// (`{prefix:016x}-{n:x}`). Compares with and derefs to `str`.
///
/// ```
/// # use sedimentdb_collector::EventId;
/// let id = EventId::from("evt-1".to_string());
/// assert_eq!(id, "evt-1");
/// assert_eq!(id.len(), 5);
/// ```
#[derive(Clone)]
pub struct EventId(Repr);

#[derive(Clone)]
enum Repr {
    Inline { buf: [u8; INLINE], len: u8 },
    Owned(String),
}

impl EventId {
    /// The id assigned as number `n` under `prefix`.
    pub(crate) fn assigned(prefix: u64, n: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; INLINE];
        for (i, b) in buf.iter_mut().take(16).enumerate() {
            *b = HEX[((prefix >> (60 - 4 * i)) & 0xf) as usize];
        }
        buf[16] = b'-';
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
        for i in 0..digits {
            buf[17 + i] = HEX[((n >> (4 * (digits - 1 - i))) & 0xf) as usize];
        }
        EventId(Repr::Inline {
            buf,
            len: (17 + digits) as u8,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ASCII hex digits and '-' are ever written inline.
            Repr::Inline { buf, len } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("")
            }
            Repr::Owned(s) => s,
        }
    }
}

impl From<String> for EventId {
    fn from(s: String) -> Self {
        EventId(Repr::Owned(s))
    }
}

impl From<&str> for EventId {
    fn from(s: &str) -> Self {
        EventId(Repr::Owned(s.to_string()))
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        match id.0 {
            Repr::Owned(s) => s,
            Repr::Inline { .. } => id.as_str().to_string(),
        }
    }
}

impl std::ops::Deref for EventId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for EventId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventId {}

impl std::hash::Hash for EventId {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialEq<str> for EventId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for EventId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_ids_match_the_formatted_form() {
        for (p, n) in [
            (0u64, 0u64),
            (1, 1),
            (u64::MAX, u64::MAX),
            (0xdead_beef, 0x1234_5678),
        ] {
            let id = EventId::assigned(p, n);
            assert_eq!(id, format!("{p:016x}-{n:x}"));
            assert_eq!(String::from(id.clone()), id.as_str());
        }
    }
}
