//! Building and exposing Prometheus metrics (the `prometheus` crate): one
//! registry per role, served as text by `/metrics`.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};
use ringbuf_shm::{seq, Reader, Record, Ring};

/// Latency buckets in seconds: 250 ns to about 4 s, doubling.
pub fn latency_buckets() -> Vec<f64> {
    (0..25).map(|i| 250e-9 * f64::powi(2.0, i)).collect()
}

/// Registers metrics for one role; every metric is named `aegis_<name>`.
pub struct MetricsBuilder {
    registry: Registry,
}

impl MetricsBuilder {
    /// A registry for `role`, with `aegis_build_info{role, version} 1`.
    pub fn new(role: &str) -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("aegis".into()), None)?;
        let info = prometheus::IntGaugeVec::new(
            Opts::new(
                "build_info",
                "Always 1: the role and version of this process.",
            ),
            &["role", "version"],
        )?;
        registry.register(Box::new(info.clone()))?;
        info.with_label_values(&[role, env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(MetricsBuilder { registry })
    }

    /// A counter.
    pub fn counter(&self, name: &str, help: &str) -> prometheus::Result<IntCounter> {
        let c = IntCounter::new(name, help)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    /// A counter with labels.
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        let c = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    /// An integer gauge.
    pub fn int_gauge(&self, name: &str, help: &str) -> prometheus::Result<IntGauge> {
        let g = IntGauge::new(name, help)?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }

    /// A float gauge.
    pub fn gauge(&self, name: &str, help: &str) -> prometheus::Result<Gauge> {
        let g = Gauge::new(name, help)?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }

    /// A float gauge with labels.
    pub fn gauge_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<GaugeVec> {
        let g = GaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(g.clone()))?;
        Ok(g)
    }

    /// A Unix time gauge in seconds, set and read in epoch milliseconds.
    pub fn timestamp(&self, name: &str, help: &str) -> prometheus::Result<TimestampGauge> {
        Ok(TimestampGauge(self.gauge(name, help)?))
    }

    /// A latency histogram in seconds.
    pub fn latency(&self, name: &str, help: &str) -> prometheus::Result<Histogram> {
        let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(latency_buckets()))?;
        self.registry.register(Box::new(h.clone()))?;
        Ok(h)
    }

    /// A latency histogram in seconds, with labels.
    pub fn latency_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<HistogramVec> {
        let h = HistogramVec::new(
            HistogramOpts::new(name, help).buckets(latency_buckets()),
            labels,
        )?;
        self.registry.register(Box::new(h.clone()))?;
        Ok(h)
    }

    /// The finished registry.
    pub fn build(self) -> Registry {
        self.registry
    }
}

/// A Unix time exposed in seconds (Prometheus' base unit; `promtool check
/// metrics` refuses abbreviated units such as `_ms`), kept in epoch
/// milliseconds by its users. Milliseconds up to 2^53 round-trip exactly.
#[derive(Clone, Debug)]
pub struct TimestampGauge(Gauge);

impl TimestampGauge {
    /// Sets the time to `ms` milliseconds since the epoch.
    pub fn set_ms(&self, ms: i64) {
        self.0.set(ms as f64 / 1000.0);
    }

    /// The time in milliseconds since the epoch (0 until set).
    pub fn get_ms(&self) -> i64 {
        (self.0.get() * 1000.0).round() as i64
    }
}

/// The registry in the Prometheus text exposition format.
pub fn encode(registry: &Registry) -> String {
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        return format!("# metrics could not be encoded: {e}\n");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A ring's lag and missed count as seen by one reader, labelled by ring.
pub struct RingGauges {
    /// Records written but not yet read.
    pub lag: IntGauge,
    /// Records lost to overwrites (Overwrite rings only).
    pub missed: IntGauge,
}

impl RingGauges {
    /// `aegis_ring_lag{ring,reader}` and `aegis_ring_missed{ring,reader}`.
    pub fn new(m: &MetricsBuilder, ring: &str, reader: &str) -> prometheus::Result<Self> {
        let lag = prometheus::IntGaugeVec::new(
            Opts::new(
                "ring_lag",
                "Records written to the ring and not yet read by this reader.",
            ),
            &["ring", "reader"],
        )?;
        let missed = prometheus::IntGaugeVec::new(
            Opts::new(
                "ring_missed",
                "Records this reader lost to overwrites (Overwrite rings).",
            ),
            &["ring", "reader"],
        )?;
        m.registry.register(Box::new(lag.clone()))?;
        m.registry.register(Box::new(missed.clone()))?;
        Ok(RingGauges {
            lag: lag.with_label_values(&[ring, reader]),
            missed: missed.with_label_values(&[ring, reader]),
        })
    }

    /// Sets both gauges from `ring`'s write sequence and `reader`'s
    /// position and missed count (clamped to `i64::MAX`).
    pub fn observe<T: Record>(&self, ring: &Ring<T>, reader: &Reader<T>) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.lag
            .set(clamp(seq::lag(ring.write_seq(), reader.position())));
        self.missed.set(clamp(reader.missed()));
    }
}
