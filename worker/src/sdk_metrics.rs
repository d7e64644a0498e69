//! The Temporal SDK's metrics, relayed into the worker's own Prometheus registry, so `/metrics`
//! is one page that lints clean: the SDK's exporter names counters without `_total` and keeps
//! its registry to itself, so instead the SDK is given this meter. Counters get `_total`,
//! durations become histograms in seconds (`_seconds`) with the SDK's default buckets.

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    core::{Collector, Desc},
    proto::MetricFamily,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, CounterBase, Gauge, GaugeBase, GaugeF64, GaugeF64Base, Histogram, HistogramBase,
    HistogramDuration, HistogramDurationBase, HistogramF64, HistogramF64Base, MetricAttributable, MetricAttributes,
    MetricParameters, NewAttributes, OrderedPromLabelSet, UpDownCounter, UpDownCounterBase, default_buckets_for,
};

/// One metric name with one set of label keys (the SDK may send a name with several).
enum Family {
    Counter(IntCounterVec),
    Histogram(HistogramVec),
    Gauge(GaugeVec),
    UpDown(IntGaugeVec),
}

impl Family {
    fn collect(&self) -> Vec<MetricFamily> {
        match self {
            Self::Counter(v) => v.collect(),
            Self::Histogram(v) => v.collect(),
            Self::Gauge(v) => v.collect(),
            Self::UpDown(v) => v.collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Histogram,
    Gauge,
    UpDown,
}

/// Every family the SDK created; a [`Collector`] of the worker's registry.
#[derive(Default)]
struct Families(Mutex<HashMap<(String, Vec<String>), Family>>);

impl Families {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Vec<String>), Family>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The registry's handle on [`Families`].
struct Relay(Arc<Families>);

impl Collector for Relay {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.lock().values().flat_map(Family::collect).collect()
    }
}

/// The meter the SDK's runtime is given.
#[derive(Clone)]
pub struct SdkMeter {
    families: Arc<Families>,
}

impl std::fmt::Debug for SdkMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SdkMeter")
    }
}

impl SdkMeter {
    /// A meter whose metrics `registry` serves.
    pub fn new(registry: &Registry) -> anyhow::Result<Self> {
        let families = Arc::new(Families::default());
        registry.register(Box::new(Relay(families.clone())))?;
        Ok(Self { families })
    }

    /// The process's meter, relayed into the process's registry (every worker of the process
    /// shares it: their series differ by task queue).
    pub fn shared() -> anyhow::Result<Self> {
        static SHARED: std::sync::OnceLock<Result<SdkMeter, String>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| Self::new(arrakis_activities::metrics::metrics().registry()).map_err(|e| e.to_string()))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    fn instrument(&self, kind: Kind, params: &MetricParameters, name: String, buckets: Vec<f64>) -> Arc<Instrument> {
        let help = if params.description.is_empty() {
            format!("Temporal SDK: {}.", params.name)
        } else {
            params.description.to_string()
        };
        Arc::new(Instrument { families: self.families.clone(), kind, name, help, buckets })
    }
}

/// What the SDK records through: the family is picked (or made) by the label keys it is
/// given, so one SDK metric may carry different keys on different calls.
struct Instrument {
    families: Arc<Families>,
    kind: Kind,
    name: String,
    help: String,
    buckets: Vec<f64>,
}

fn labels(attributes: &MetricAttributes) -> (Vec<String>, Vec<String>) {
    match attributes {
        MetricAttributes::Prometheus { labels } => {
            let values = labels.as_prom_labels();
            let keys: Vec<String> = labels.keys_ordered().map(str::to_string).collect();
            let values = keys.iter().map(|k| values.get(k.as_str()).cloned().unwrap_or_default()).collect();
            (keys, values)
        }
        _ => (Vec::new(), Vec::new()),
    }
}

type Bound<T> = Result<T, Box<dyn std::error::Error>>;

impl Instrument {
    /// The family for these label keys, made on first use.
    fn with_family<T>(&self, keys: &[String], bind: impl FnOnce(&Family) -> Bound<T>) -> Bound<T> {
        let mut families = self.families.lock();
        let key = (self.name.clone(), keys.to_vec());
        if !families.contains_key(&key) {
            let names: Vec<&str> = keys.iter().map(String::as_str).collect();
            let opts = Opts::new(self.name.clone(), self.help.clone());
            let family = match self.kind {
                Kind::Counter => Family::Counter(IntCounterVec::new(opts, &names)?),
                Kind::Histogram => Family::Histogram(HistogramVec::new(
                    HistogramOpts::from(opts).buckets(self.buckets.clone()),
                    &names,
                )?),
                Kind::Gauge => Family::Gauge(GaugeVec::new(opts, &names)?),
                Kind::UpDown => Family::UpDown(IntGaugeVec::new(opts, &names)?),
            };
            families.insert(key.clone(), family);
        }
        bind(&families[&key])
    }

    fn histogram(&self, attributes: &MetricAttributes) -> Bound<prometheus::Histogram> {
        let (keys, values) = labels(attributes);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.with_family(&keys, |f| match f {
            Family::Histogram(v) => Ok(v.get_metric_with_label_values(&values)?),
            _ => Err(format!("{} is not a histogram", self.name).into()),
        })
    }

    fn gauge(&self, attributes: &MetricAttributes) -> Bound<prometheus::Gauge> {
        let (keys, values) = labels(attributes);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.with_family(&keys, |f| match f {
            Family::Gauge(v) => Ok(v.get_metric_with_label_values(&values)?),
            _ => Err(format!("{} is not a gauge", self.name).into()),
        })
    }
}

struct CounterValue(prometheus::IntCounter);
impl CounterBase for CounterValue {
    fn adds(&self, value: u64) {
        self.0.inc_by(value);
    }
}

struct HistogramValue(prometheus::Histogram);
impl HistogramBase for HistogramValue {
    fn records(&self, value: u64) {
        self.0.observe(value as f64);
    }
}
impl HistogramF64Base for HistogramValue {
    fn records(&self, value: f64) {
        self.0.observe(value);
    }
}
impl HistogramDurationBase for HistogramValue {
    fn records(&self, value: Duration) {
        self.0.observe(value.as_secs_f64());
    }
}

struct GaugeValue(prometheus::Gauge);
impl GaugeBase for GaugeValue {
    fn records(&self, value: u64) {
        self.0.set(value as f64);
    }
}
impl GaugeF64Base for GaugeValue {
    fn records(&self, value: f64) {
        self.0.set(value);
    }
}

struct UpDownValue(prometheus::IntGauge);
impl UpDownCounterBase for UpDownValue {
    fn adds(&self, value: i64) {
        self.0.add(value);
    }
}

impl MetricAttributable<Box<dyn CounterBase>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn CounterBase>> {
        let (keys, values) = labels(attributes);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.with_family(&keys, |f| match f {
            Family::Counter(v) => Ok(Box::new(CounterValue(v.get_metric_with_label_values(&values)?)) as _),
            _ => Err(format!("{} is not a counter", self.name).into()),
        })
    }
}

impl MetricAttributable<Box<dyn HistogramBase>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn HistogramBase>> {
        Ok(Box::new(HistogramValue(self.histogram(attributes)?)))
    }
}

impl MetricAttributable<Box<dyn HistogramF64Base>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn HistogramF64Base>> {
        Ok(Box::new(HistogramValue(self.histogram(attributes)?)))
    }
}

impl MetricAttributable<Box<dyn HistogramDurationBase>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn HistogramDurationBase>> {
        Ok(Box::new(HistogramValue(self.histogram(attributes)?)))
    }
}

impl MetricAttributable<Box<dyn GaugeBase>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn GaugeBase>> {
        Ok(Box::new(GaugeValue(self.gauge(attributes)?)))
    }
}

impl MetricAttributable<Box<dyn GaugeF64Base>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn GaugeF64Base>> {
        Ok(Box::new(GaugeValue(self.gauge(attributes)?)))
    }
}

impl MetricAttributable<Box<dyn UpDownCounterBase>> for Instrument {
    fn with_attributes(&self, attributes: &MetricAttributes) -> Bound<Box<dyn UpDownCounterBase>> {
        let (keys, values) = labels(attributes);
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.with_family(&keys, |f| match f {
            Family::UpDown(v) => Ok(Box::new(UpDownValue(v.get_metric_with_label_values(&values)?)) as _),
            _ => Err(format!("{} is not an up-down counter", self.name).into()),
        })
    }
}

/// The SDK's default buckets for a histogram, in seconds.
fn seconds_buckets(name: &str) -> Vec<f64> {
    default_buckets_for(name.strip_prefix("temporal_").unwrap_or(name), true).to_vec()
}

impl CoreMeter for SdkMeter {
    fn new_attributes(&self, attributes: NewAttributes) -> MetricAttributes {
        MetricAttributes::Prometheus { labels: Arc::new(attributes.into()) }
    }

    fn extend_attributes(&self, existing: MetricAttributes, attributes: NewAttributes) -> MetricAttributes {
        let mut labels = match existing {
            MetricAttributes::Prometheus { labels } => (*labels).clone(),
            _ => OrderedPromLabelSet::new(),
        };
        for kv in attributes.attributes {
            labels.add_kv(kv);
        }
        MetricAttributes::Prometheus { labels: Arc::new(labels) }
    }

    fn counter(&self, params: MetricParameters) -> Counter {
        let name =
            if params.name.ends_with("_total") { params.name.to_string() } else { format!("{}_total", params.name) };
        let instrument = self.instrument(Kind::Counter, &params, name, Vec::new());
        // An unlabelled zero from the start: a rate or an alert over it works before its
        // first event (workflow failures, task failures).
        let _ = MetricAttributable::<Box<dyn CounterBase>>::with_attributes(&*instrument, &MetricAttributes::Empty);
        Counter::new(instrument)
    }

    fn histogram(&self, params: MetricParameters) -> Histogram {
        let buckets =
            default_buckets_for(params.name.strip_prefix("temporal_").unwrap_or(&params.name), false).to_vec();
        Histogram::new(self.instrument(Kind::Histogram, &params, params.name.to_string(), buckets))
    }

    fn histogram_f64(&self, params: MetricParameters) -> HistogramF64 {
        let buckets = seconds_buckets(&params.name);
        HistogramF64::new(self.instrument(Kind::Histogram, &params, params.name.to_string(), buckets))
    }

    fn histogram_duration(&self, mut params: MetricParameters) -> HistogramDuration {
        params.unit = "s".into();
        let name = format!("{}_seconds", params.name);
        HistogramDuration::new(self.instrument(Kind::Histogram, &params, name, seconds_buckets(&params.name)))
    }

    fn gauge(&self, params: MetricParameters) -> Gauge {
        Gauge::new(self.instrument(Kind::Gauge, &params, params.name.to_string(), Vec::new()))
    }

    fn gauge_f64(&self, params: MetricParameters) -> GaugeF64 {
        GaugeF64::new(self.instrument(Kind::Gauge, &params, params.name.to_string(), Vec::new()))
    }

    fn up_down_counter(&self, params: MetricParameters) -> UpDownCounter {
        UpDownCounter::new(self.instrument(Kind::UpDown, &params, params.name.to_string(), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::telemetry::metrics::MetricKeyValue;

    #[test]
    fn counters_end_in_total_durations_are_seconds_and_a_name_may_carry_several_label_sets() {
        let registry = Registry::new();
        let meter = SdkMeter::new(&registry).expect("registers");
        let queue = meter.new_attributes(NewAttributes::new(vec![MetricKeyValue::new("task_queue", "q")]));
        let by_type = meter.extend_attributes(
            queue.clone(),
            NewAttributes::new(vec![MetricKeyValue::new("workflow_type", "Synthesis")]),
        );
        let failed = meter.counter(MetricParameters::from("temporal_workflow_failed"));
        failed.add(2, &by_type);
        failed.add(1, &queue);
        meter
            .histogram_duration(MetricParameters::from("temporal_activity_execution_latency"))
            .record(Duration::from_millis(1500), &queue);
        meter.gauge(MetricParameters::from("temporal_num_pollers")).record(3, &queue);
        let mut text = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut text).expect("encodes");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(
            text.contains("temporal_workflow_failed_total{task_queue=\"q\",workflow_type=\"Synthesis\"} 2"),
            "{text}"
        );
        assert!(text.contains("temporal_workflow_failed_total{task_queue=\"q\"} 1"), "{text}");
        assert!(text.contains("temporal_activity_execution_latency_seconds_sum{task_queue=\"q\"} 1.5"), "{text}");
        assert!(text.contains("temporal_num_pollers{task_queue=\"q\"} 3"), "{text}");
        assert_eq!(text.matches("# TYPE temporal_workflow_failed_total counter").count(), 1, "{text}");
        meter.counter(MetricParameters::from("temporal_activity_execution_failed"));
        let mut text = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut text).expect("encodes");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(
            text.contains("temporal_activity_execution_failed_total 0"),
            "a counter is zero before its first event: {text}"
        );
    }
}
