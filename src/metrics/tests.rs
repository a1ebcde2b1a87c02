//! The declarations against what is registered, and against Prometheus naming conventions.

use std::collections::{BTreeMap, BTreeSet};

use prometheus::proto::MetricType;

use super::*;

fn proto_kind(t: MetricType) -> Option<Kind> {
    match t {
        MetricType::COUNTER => Some(Kind::Counter),
        MetricType::GAUGE => Some(Kind::Gauge),
        MetricType::HISTOGRAM => Some(Kind::Histogram),
        _ => None,
    }
}

#[test]
fn metrics_register_and_render() {
    let m = Metrics::new();
    let text = m.render();
    assert!(text.contains("resetgate_hash_jobs_total{lane=\"confirm\",outcome=\"shed\"} 0"));
    assert!(text.contains("resetgate_http_errors_total{code=\"hashing_overloaded\"} 0"));
    assert!(text.contains("resetgate_rate_limiter_keys{limiter=\"ip\"} 0"));
    assert!(
        !text.contains("resetgate_process_"),
        "RSS and friends come from the standard process collector only"
    );
    #[cfg(target_os = "linux")]
    {
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .expect("process_resident_memory_bytes is exported")
            .parse()
            .expect("a number");
        assert!(rss > 1e6, "RSS {rss} is implausible");
        assert!(text.contains("process_cpu_seconds_total"));
    }
}

/// What the registry holds is exactly what is declared, with the declared type, HELP and label
/// names: nothing registered by hand, nothing declared and left out.
#[test]
fn every_registered_family_is_declared_and_vice_versa() {
    let m = Metrics::new();
    // A labelled family is gathered only once it has a series: give each one.
    for (family, series) in m.each_family() {
        let values: Vec<&str> = family
            .labels
            .iter()
            .map(|l| l.values.first().copied().unwrap_or("1"))
            .collect();
        series.touch(&values);
    }
    let gathered: BTreeMap<String, prometheus::proto::MetricFamily> = m
        .registry
        .gather()
        .into_iter()
        .map(|f| (f.name().to_owned(), f))
        .collect();
    let mut declared: Vec<&Family> = FAMILIES.iter().collect();
    if cfg!(target_os = "linux") {
        declared.extend(PROCESS_FAMILIES);
    }
    let declared_names: BTreeSet<&str> = declared.iter().map(|f| f.name).collect();
    assert_eq!(declared_names.len(), declared.len(), "a name is declared twice");
    let gathered_names: BTreeSet<&str> = gathered.keys().map(String::as_str).collect();
    assert_eq!(gathered_names, declared_names, "registered vs declared families");
    for f in declared {
        let g = &gathered[f.name];
        assert_eq!(proto_kind(g.get_field_type()), Some(f.kind), "{}: type", f.name);
        assert_eq!(g.help(), f.help(), "{}: HELP", f.name);
        let labels: BTreeSet<&str> = g.get_metric()[0]
            .get_label()
            .iter()
            .map(prometheus::proto::LabelPair::name)
            .collect();
        let want: BTreeSet<&str> = f.label_names().into_iter().collect();
        assert_eq!(labels, want, "{}: label names", f.name);
        if f.kind == Kind::Histogram {
            let bounds: Vec<f64> = g.get_metric()[0]
                .get_histogram()
                .get_bucket()
                .iter()
                .map(prometheus::proto::Bucket::upper_bound)
                .collect();
            assert_eq!(bounds, f.buckets, "{}: buckets", f.name);
        }
    }
    assert_eq!(
        FAMILIES.iter().map(|f| f.field).collect::<BTreeSet<_>>().len(),
        FAMILIES.len(),
        "a field is declared twice"
    );
}

/// Prometheus naming conventions (prometheus.io/docs/practices/naming): our prefix, `_total`
/// on counters and only on counters, base units (seconds, bytes) as the last word before
/// `_total`, snake_case; labels bounded and not reserved.
#[test]
fn names_follow_prometheus_conventions() {
    let snake = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.contains("__")
            && !s.ends_with('_')
    };
    // Scaled or non-base units: Prometheus wants seconds and bytes.
    let non_base = [
        "ms",
        "msec",
        "millis",
        "milliseconds",
        "us",
        "microseconds",
        "ns",
        "nanoseconds",
        "minutes",
        "hours",
        "days",
        "kb",
        "kib",
        "mb",
        "mib",
        "gb",
        "gib",
        "kilobytes",
        "megabytes",
        "gigabytes",
        "bits",
        "percent",
    ];
    for f in FAMILIES {
        let n = f.name;
        assert!(n.starts_with("resetgate_"), "{n}: lacks the resetgate_ prefix");
        assert!(snake(n), "{n}: not snake_case");
        assert_eq!(
            f.kind == Kind::Counter,
            n.ends_with("_total"),
            "{n}: _total is for counters"
        );
        let stem = n.trim_end_matches("_total");
        for (i, word) in stem.split('_').enumerate() {
            assert!(!non_base.contains(&word), "{n}: `{word}` is not a base unit");
            let last = i + 1 == stem.split('_').count();
            if ["seconds", "bytes"].contains(&word) {
                assert!(last, "{n}: the unit goes last");
            }
        }
        if f.kind == Kind::Histogram {
            assert!(
                stem.ends_with("_seconds"),
                "{n}: our histograms time things, in seconds"
            );
            assert!(f.buckets.windows(2).all(|w| w[0] < w[1]), "{n}: buckets ascend");
        }
        let help = f.help();
        assert!(
            help.ends_with('.') && !help.contains('\n'),
            "{n}: HELP is one sentence line"
        );
        assert!(!help.contains('`'), "{n}: HELP is plain text, not Markdown");
        for l in f.labels {
            assert!(
                snake(l.name) && l.name != "le" && l.name != "quantile",
                "{n}: label {}",
                l.name
            );
            assert!(
                l.values.is_empty() != l.about.is_empty(),
                "{n}: label {} lists its values or says what they are",
                l.name
            );
            let unique: BTreeSet<&str> = l.values.iter().copied().collect();
            assert_eq!(
                unique.len(),
                l.values.len(),
                "{n}: label {} repeats a value",
                l.name
            );
        }
    }
}

/// Seeded series exist before any traffic, so a fresh replica exports zeros.
#[test]
fn seeded_series_exist_from_start_up() {
    let m = Metrics::new();
    let gathered = m.registry.gather();
    for f in FAMILIES {
        let want = f.seeded_series().expect("a seed that fits the labels").len();
        let have = gathered
            .iter()
            .find(|g| g.name() == f.name)
            .map_or(0, |g| g.get_metric().len());
        let want = if f.labels.is_empty() { 1 } else { want };
        assert_eq!(have, want, "{}: series at start-up", f.name);
    }
}

/// The written-out list of process families is the collector's.
#[cfg(target_os = "linux")]
#[test]
fn process_families_match_the_collector() {
    use prometheus::core::Collector as _;
    let collector = process_collector();
    let descs: BTreeMap<&str, &str> = collector
        .desc()
        .into_iter()
        .map(|d| (d.fq_name.as_str(), d.help.as_str()))
        .collect();
    let listed: BTreeMap<&str, &str> = PROCESS_FAMILIES.iter().map(|f| (f.name, f.help())).collect();
    assert_eq!(listed, descs);
    for g in collector.collect() {
        let f = PROCESS_FAMILIES
            .iter()
            .find(|f| f.name == g.name())
            .expect("listed");
        assert_eq!(proto_kind(g.get_field_type()), Some(f.kind), "{}: type", f.name);
    }
}
