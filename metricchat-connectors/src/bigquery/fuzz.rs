//! Property-based fuzzing of the BigQuery result decoder (issue 18, item 9): arbitrary schemas
//! and `f`/`v` rows never panic the decoder, and well-formed values come back exactly. Cases per
//! property: `MC_FUZZ_CASES` (default 128); `scripts/fuzz.sh` runs thousands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow::array::AsArray;
use arrow::datatypes::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

#[allow(clippy::wildcard_imports)]
use super::types::*;
use super::*;

fn config() -> Config {
    Config {
        cases: std::env::var("MC_FUZZ_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

fn field(name: &str, kind: &str, mode: Option<&str>) -> BqField {
    BqField {
        name: name.into(),
        kind: kind.into(),
        mode: mode.map(Into::into),
        fields: Vec::new(),
        precision: None,
        scale: None,
    }
}

fn kind() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "INT64",
            "INTEGER",
            "FLOAT64",
            "NUMERIC",
            "BIGNUMERIC",
            "BOOL",
            "BYTES",
            "DATE",
            "TIME",
            "DATETIME",
            "TIMESTAMP",
            "STRING",
            "JSON",
            "GEOGRAPHY",
            "RECORD",
            "int64",
        ])
        .prop_map(str::to_string),
        "[A-Z]{0,8}",
    ]
}

fn bq_field() -> impl Strategy<Value = BqField> {
    let leaf = (
        "[a-z]{1,6}",
        kind(),
        prop::option::of(prop::sample::select(vec![
            "NULLABLE", "REQUIRED", "REPEATED", "x",
        ])),
        prop::option::of("[0-9]{0,3}|-1|x"),
        prop::option::of("[0-9]{0,3}|-1|x"),
    )
        .prop_map(|(name, kind, mode, precision, scale)| BqField {
            name,
            kind,
            mode: mode.map(str::to_string),
            fields: Vec::new(),
            precision,
            scale,
        });
    leaf.prop_recursive(2, 12, 3, |inner| {
        (
            "[a-z]{1,6}",
            prop::option::of(prop::sample::select(vec![
                "NULLABLE", "REQUIRED", "REPEATED",
            ])),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(name, mode, fields)| BqField {
                name,
                kind: "RECORD".into(),
                mode: mode.map(str::to_string),
                fields,
                precision: None,
                scale: None,
            })
    })
}

/// Any JSON, biased to BigQuery's row shapes (`{"f": [{"v": …}]}`, arrays of `{"v": …}`).
fn cell() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "(-?[0-9]{0,40}(\\.[0-9]{0,40})?(E-?[0-9]{1,3})?|[a-zA-Z=+/:T -]{0,12}|\\PC{0,8})"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone().prop_map(|v| json!({"v": v})), 0..3)
                .prop_map(Value::Array),
            prop::collection::vec(inner.clone().prop_map(|v| json!({"v": v})), 0..3)
                .prop_map(|f| json!({"f": f})),
            inner.prop_map(|v| json!({"x": v})),
        ]
    })
}

/// Decimal text of `m × 10^-scale`.
fn decimal_text(m: i128, scale: u32) -> String {
    let digits = m.unsigned_abs().to_string();
    let sign = if m < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let s = scale as usize;
    let padded = format!("{digits:0>width$}", width = s + 1);
    let (int, frac) = padded.split_at(padded.len() - s);
    format!("{sign}{int}.{frac}")
}

proptest! {
    #![proptest_config(config())]

    /// Any schema and any rows: a batch or a typed error, never a panic.
    #[test]
    fn decoder_never_panics(
        fields in prop::collection::vec(bq_field(), 0..4),
        rows in prop::collection::vec(
            prop::collection::vec(cell(), 0..5).prop_map(|f| json!({"f": f.into_iter().map(|v| json!({"v": v})).collect::<Vec<_>>()})),
            0..4,
        ),
    ) {
        let schema = schema_of(&fields);
        if let Ok(batch) = to_batch("bigquery", &schema, &fields, &rows) {
            prop_assert_eq!(batch.num_rows(), rows.len());
        }
    }

    /// Well-formed INT64, NUMERIC (also parameterized, `NUMERIC(P)` and `NUMERIC(P, S)`) and
    /// TIMESTAMP values come back exactly.
    #[test]
    fn well_formed_values_round_trip(
        n in any::<i64>(),
        p in 1u8..=29,
        s_raw in 0u8..=9,
        m in any::<i64>(),
        given_scale in any::<bool>(),
        micros in -62_135_596_800_000_000i64..253_402_300_799_000_000,
    ) {
        let s = s_raw.min(p);
        let mut num = field("d", "NUMERIC", None);
        num.precision = Some(p.to_string());
        // BigQuery leaves the scale out of NUMERIC(P): its scale is then 0.
        num.scale = given_scale.then(|| s.to_string());
        let scale = if given_scale { s } else { 0 };
        let bound = 10i128.pow(u32::from(p));
        let m = i128::from(m) % bound;
        let fields = vec![field("i", "INT64", None), num, field("t", "TIMESTAMP", None)];
        let seconds = decimal_text(i128::from(micros), 6);
        let row = json!({"f": [
            {"v": n.to_string()},
            {"v": decimal_text(m, u32::from(scale))},
            {"v": seconds},
        ]});
        let schema = schema_of(&fields);
        let batch = to_batch("bigquery", &schema, &fields, &[row]);
        prop_assert!(batch.is_ok(), "{:?}", batch.err());
        let batch = batch.unwrap();
        prop_assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), n);
        let d = batch.column(1).as_primitive::<Decimal128Type>();
        prop_assert_eq!(d.scale(), i8::try_from(scale).unwrap());
        prop_assert_eq!(d.value(0), m);
        prop_assert_eq!(batch.column(2).as_primitive::<TimestampMicrosecondType>().value(0), micros);
    }
}

/// Found by `well_formed_values_round_trip`: BigQuery omits the scale of `NUMERIC(P)` (it is
/// 0), and the decoder took the unparameterized default (9), so `NUMERIC(5)` became the invalid
/// `Decimal128(5, 9)` and every row of such a column failed.
#[test]
fn numeric_with_precision_and_no_scale_has_scale_zero() {
    let mut f = field("d", "NUMERIC", None);
    f.precision = Some("5".into());
    assert_eq!(base_type(&f), DataType::Decimal128(5, 0));
    let mut f = field("b", "BIGNUMERIC", None);
    f.precision = Some("40".into());
    assert_eq!(base_type(&f), DataType::Decimal256(40, 0));
    // Unparameterized types keep BigQuery's defaults.
    assert_eq!(
        base_type(&field("d", "NUMERIC", None)),
        DataType::Decimal128(38, 9)
    );
    assert_eq!(
        base_type(&field("b", "BIGNUMERIC", None)),
        DataType::Decimal256(76, 38)
    );
    let fields = vec![{
        let mut f = field("d", "NUMERIC", None);
        f.precision = Some("5".into());
        f
    }];
    let batch = to_batch(
        "bigquery",
        &schema_of(&fields),
        &fields,
        &[json!({"f": [{"v": "12345"}]})],
    )
    .unwrap();
    assert_eq!(
        batch.column(0).as_primitive::<Decimal128Type>().value(0),
        12345
    );
}
