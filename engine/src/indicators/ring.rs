//! A fixed-capacity ring of the last `period` inputs.

/// The last `capacity` values pushed, oldest first out.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    next: usize,
    len: usize,
}

impl Ring {
    /// An empty ring holding at most `capacity` (≥ 1) values.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity].into_boxed_slice(),
            next: 0,
            len: 0,
        }
    }

    /// Pushes `x`; returns the value it evicts once the ring is full.
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let evicted = if self.len == self.buf.len() {
            Some(self.buf[self.next])
        } else {
            self.len += 1;
            None
        };
        self.buf[self.next] = x;
        self.next += 1;
        if self.next == self.buf.len() {
            self.next = 0;
        }
        evicted
    }

    /// How many values it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds `capacity` values.
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// The values it holds, in no particular order.
    pub(crate) fn values(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    /// Empties it.
    pub(crate) fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_first_once_full() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1.0), None);
        assert_eq!(r.push(2.0), None);
        assert!(!r.is_full());
        assert_eq!(r.push(3.0), None);
        assert!(r.is_full());
        assert_eq!(r.push(4.0), Some(1.0));
        assert_eq!(r.push(5.0), Some(2.0));
        assert_eq!(r.len(), 3);
        let mut held = r.values().to_vec();
        held.sort_by(f64::total_cmp);
        assert_eq!(held, [3.0, 4.0, 5.0]);
        r.clear();
        assert_eq!(r.len(), 0);
        assert_eq!(r.push(6.0), None);
    }
}
