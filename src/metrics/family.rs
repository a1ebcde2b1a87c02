//! The vocabulary of a metric declaration, and the one generic path from a declaration to a
//! registered collector. `declare_metrics!` (below) turns the table in `metrics.rs` into the
//! `Metrics` struct, the `FAMILIES` table the docs and tests read, and the registration code, so a
//! metric cannot be registered without being declared, nor declared without being registered.

use prometheus::core::Collector;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// The Prometheus type of a family, as `# TYPE` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A label and the values it may take. Values always come from a bounded set, never from user
/// input; `values` lists them when the set is fixed in the code, `about` says what they are when it
/// is not (campaign ids, error codes).
#[derive(Debug)]
pub struct Label {
    pub name: &'static str,
    pub values: &'static [&'static str],
    pub about: &'static str,
}

impl Label {
    #[must_use]
    pub const fn fixed(name: &'static str, values: &'static [&'static str]) -> Self {
        Self {
            name,
            values,
            about: "",
        }
    }

    #[must_use]
    pub const fn bounded(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            values: &[],
            about,
        }
    }
}

/// Which labelled series exist from start-up, so that dashboards and alerts see zeros, not gaps.
#[derive(Debug)]
pub enum Seed {
    /// Series appear when first used.
    None,
    /// Every combination of the labels' listed values.
    All,
    /// These values of the family's only label.
    Only(&'static [&'static str]),
}

/// One metric family as declared in `metrics.rs`.
#[derive(Debug)]
pub struct Family {
    /// The `Metrics` field that holds it.
    pub field: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    /// The field's doc comment, lines concatenated; `help()` is what Prometheus shows.
    pub doc: &'static str,
    pub labels: &'static [Label],
    /// Histogram bucket upper bounds; empty for other kinds.
    pub buckets: &'static [f64],
    pub seed: Seed,
}

impl Family {
    /// The fields a declaration may leave out.
    pub const DEFAULT: Self = Self {
        field: "",
        name: "",
        kind: Kind::Gauge,
        doc: "",
        labels: &[],
        buckets: &[],
        seed: Seed::None,
    };

    /// The HELP text: the field's doc comment, one line.
    #[must_use]
    pub fn help(&self) -> &'static str {
        self.doc.trim()
    }

    #[must_use]
    pub fn label_names(&self) -> Vec<&'static str> {
        self.labels.iter().map(|l| l.name).collect()
    }

    /// The label values of every series `seed` asks for.
    ///
    /// # Errors
    /// When the seed does not fit the labels: `All` over a label without listed values, `Only` on
    /// a family without exactly one label.
    pub fn seeded_series(&self) -> prometheus::Result<Vec<Vec<&'static str>>> {
        let bad = |why: &str| prometheus::Error::Msg(format!("{}: {why}", self.name));
        match self.seed {
            Seed::None => Ok(Vec::new()),
            Seed::Only(values) if self.labels.len() == 1 => Ok(values.iter().map(|v| vec![*v]).collect()),
            Seed::Only(_) => Err(bad("Seed::Only needs exactly one label")),
            Seed::All if self.labels.is_empty() => Err(bad("Seed::All needs labels")),
            Seed::All => {
                let mut series = vec![Vec::new()];
                for label in self.labels {
                    if label.values.is_empty() {
                        return Err(bad("Seed::All needs every label's values listed"));
                    }
                    series = series
                        .into_iter()
                        .flat_map(|prefix| {
                            label.values.iter().map(move |v| {
                                let mut s = prefix.clone();
                                s.push(*v);
                                s
                            })
                        })
                        .collect();
                }
                Ok(series)
            }
        }
    }
}

/// Something whose series can be created by label values.
pub trait Series {
    /// Creates the series with these label values, at zero (a no-op for a scalar).
    fn touch(&self, values: &[&str]);
}

/// A collector type that a `Family` can describe. Its kind follows from the Rust type, so a
/// declaration cannot claim a counter and register a gauge.
pub trait Instrument: Series + Collector + Clone + Sized + 'static {
    const KIND: Kind;

    /// # Errors
    /// When the declaration is invalid for Prometheus or for this type (labels on a scalar).
    fn build(family: &Family) -> prometheus::Result<Self>;
}

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help())
}

fn unlabelled(family: &Family) -> prometheus::Result<()> {
    if family.labels.is_empty() && family.buckets.is_empty() {
        Ok(())
    } else {
        Err(prometheus::Error::Msg(format!(
            "{}: a scalar metric takes neither labels nor buckets",
            family.name
        )))
    }
}

macro_rules! scalar {
    ($ty:ty, $kind:expr) => {
        impl Instrument for $ty {
            const KIND: Kind = $kind;
            fn build(family: &Family) -> prometheus::Result<Self> {
                unlabelled(family)?;
                <$ty>::with_opts(opts(family))
            }
        }
        impl Series for $ty {
            // A scalar's one series always exists.
            fn touch(&self, _values: &[&str]) {}
        }
    };
}

scalar!(IntCounter, Kind::Counter);
scalar!(IntGauge, Kind::Gauge);
scalar!(Gauge, Kind::Gauge);

macro_rules! vector {
    ($ty:ty, $kind:expr) => {
        impl Instrument for $ty {
            const KIND: Kind = $kind;
            fn build(family: &Family) -> prometheus::Result<Self> {
                if family.labels.is_empty() || !family.buckets.is_empty() {
                    return Err(prometheus::Error::Msg(format!(
                        "{}: a labelled {} takes labels and no buckets",
                        family.name,
                        $kind.as_str()
                    )));
                }
                <$ty>::new(opts(family), &family.label_names())
            }
        }
        impl Series for $ty {
            fn touch(&self, values: &[&str]) {
                self.with_label_values(values);
            }
        }
    };
}

vector!(IntCounterVec, Kind::Counter);
vector!(IntGaugeVec, Kind::Gauge);
vector!(GaugeVec, Kind::Gauge);

impl Instrument for HistogramVec {
    const KIND: Kind = Kind::Histogram;
    fn build(family: &Family) -> prometheus::Result<Self> {
        if family.labels.is_empty() || family.buckets.is_empty() {
            return Err(prometheus::Error::Msg(format!(
                "{}: a histogram here takes labels and buckets",
                family.name
            )));
        }
        let opts = HistogramOpts::new(family.name, family.help()).buckets(family.buckets.to_vec());
        HistogramVec::new(opts, &family.label_names())
    }
}

impl Series for HistogramVec {
    fn touch(&self, values: &[&str]) {
        self.with_label_values(values);
    }
}

/// Builds the collector `family` declares, creates its seeded series and registers it.
///
/// # Errors
/// When the declaration is invalid or its name is already registered.
pub fn register<T: Instrument>(registry: &Registry, family: &Family) -> prometheus::Result<T> {
    if family.kind != T::KIND {
        return Err(prometheus::Error::Msg(format!(
            "{}: declared a {} but typed as a {}",
            family.name,
            family.kind.as_str(),
            T::KIND.as_str()
        )));
    }
    let metric = T::build(family)?;
    for values in family.seeded_series()? {
        metric.touch(&values);
    }
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// Declares the `Metrics` struct and its `FAMILIES` table from one list of fields. Each entry is
/// the field's doc comment (its HELP text), `name: Type { ... }` with the `Family` fields that
/// differ from `Family::DEFAULT`; the kind comes from the type.
macro_rules! declare_metrics {
    ($( $(#[doc = $doc:literal])+ $field:ident: $ty:ty { $($key:ident: $value:expr),* $(,)? } )*) => {
        /// Every Prometheus metric the gateway exports (see the module documentation).
        pub struct Metrics {
            registry: ::prometheus::Registry,
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        /// Every family `Metrics` registers, in declaration order: the source of docs/metrics.md.
        // An entry that sets every field (a seeded histogram) leaves `..DEFAULT` nothing to fill.
        #[allow(clippy::needless_update)]
        pub static FAMILIES: &[$crate::metrics::family::Family] = &[
            $( $crate::metrics::family::Family {
                field: stringify!($field),
                kind: <$ty as $crate::metrics::family::Instrument>::KIND,
                doc: concat!($($doc),+),
                $($key: $value,)*
                ..$crate::metrics::family::Family::DEFAULT
            }, )*
        ];

        impl Metrics {
            /// Builds and registers every declared family.
            fn register(registry: ::prometheus::Registry) -> ::prometheus::Result<Self> {
                let family = |field: &str| {
                    FAMILIES
                        .iter()
                        .find(|f| f.field == field)
                        .expect("every field is in FAMILIES: the macro puts it there")
                };
                Ok(Self {
                    $( $field: $crate::metrics::family::register(
                        &registry,
                        family(stringify!($field)),
                    )?, )*
                    registry,
                })
            }

            /// Every declared family with its collector (tests touch each one).
            #[cfg(test)]
            fn each_family(&self) -> Vec<(&'static $crate::metrics::family::Family, &dyn $crate::metrics::family::Series)> {
                let family = |field: &str| {
                    FAMILIES.iter().find(|f| f.field == field).expect("declared")
                };
                vec![ $( (family(stringify!($field)), &self.$field), )* ]
            }
        }
    };
}

pub(super) use declare_metrics;
