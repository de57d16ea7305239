//! Property-based fuzzing of the Snowflake result decoder (issue 18, item 9): arbitrary row
//! types and text values never panic the decoder, and well-formed values come back exactly.
//! Cases per property: `MC_FUZZ_CASES` (default 128); `scripts/fuzz.sh` runs thousands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow::array::AsArray;
use arrow::datatypes::{Decimal128Type, Int64Type, TimestampNanosecondType};
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

fn row_type() -> impl Strategy<Value = RowType> {
    (
        "[A-Z]{1,6}",
        prop_oneof![
            prop::sample::select(vec![
                "fixed",
                "real",
                "float",
                "boolean",
                "date",
                "time",
                "timestamp_ntz",
                "timestamp_ltz",
                "timestamp_tz",
                "binary",
                "text",
                "variant",
                "FIXED",
            ])
            .prop_map(str::to_string),
            "[a-z_]{0,8}",
        ],
        prop::option::of(any::<u32>()),
        prop::option::of(any::<i64>()),
        any::<bool>(),
    )
        .prop_map(|(name, kind, precision, scale, nullable)| RowType {
            name,
            kind,
            precision: precision.map(|p| p % 60),
            scale: scale.map(|s| s % 20),
            nullable,
        })
}

fn value() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "-?[0-9]{0,40}(\\.[0-9]{0,40})?",
        "-?[0-9]{1,12}\\.[0-9]{0,9}( [0-9]{1,4})?",
        "[0-9a-fA-F]{0,12}",
        "(true|false|TRUE|FALSE|0|1| )",
        "\\PC{0,10}",
    ])
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

    /// Any row types, any text: a batch of as many rows, or a typed error; never a panic.
    #[test]
    fn decoder_never_panics(
        types in prop::collection::vec(row_type(), 0..5),
        rows in prop::collection::vec(prop::collection::vec(value(), 0..6), 0..5),
    ) {
        let schema = schema_of(&types);
        if let Ok(batch) = to_batch("snowflake", &schema, &types, &rows) {
            prop_assert_eq!(batch.num_rows(), rows.len());
        }
    }

    /// Well-formed NUMBER(p, s) and TIMESTAMP_TZ(9) values come back exactly.
    #[test]
    fn well_formed_values_round_trip(
        p in 1u32..=38,
        s_raw in 0i64..=37,
        m in any::<i128>(),
        nanos in -1_000_000_000_000_000_000i64..1_000_000_000_000_000_000,
        offset in 0i32..=2880,
    ) {
        let s = s_raw.min(i64::from(p));
        let m = m % 10i128.pow(p);
        let number = RowType {
            name: "N".into(), kind: "fixed".into(), precision: Some(p), scale: Some(s),
            nullable: true,
        };
        let ts = RowType {
            name: "T".into(), kind: "timestamp_tz".into(), precision: None, scale: Some(9),
            nullable: true,
        };
        let types = vec![number, ts];
        let scale = u32::try_from(s).unwrap();
        let rows = vec![vec![
            Some(decimal_text(m, scale)),
            Some(format!("{} {offset}", decimal_text(i128::from(nanos), 9))),
        ]];
        let schema = schema_of(&types);
        let batch = to_batch("snowflake", &schema, &types, &rows);
        prop_assert!(batch.is_ok(), "{:?}", batch.err());
        let batch = batch.unwrap();
        if s == 0 && p <= 18 {
            prop_assert_eq!(i128::from(batch.column(0).as_primitive::<Int64Type>().value(0)), m);
        } else {
            prop_assert_eq!(batch.column(0).as_primitive::<Decimal128Type>().value(0), m);
        }
        prop_assert_eq!(
            batch.column(1).as_primitive::<TimestampNanosecondType>().value(0),
            nanos
        );
    }
}
