//! [`Engine`]: what differs between the databases a [`super::SqlStore`] runs on.
//!
//! Everything else (the statements, the transactions, the row mapping) is written once in
//! `sql/`. An engine says how a value of each kind is bound (SQLite keeps ids, timestamps and
//! JSON as text; PostgreSQL has `UUID`, `TIMESTAMPTZ` and `JSONB`), how a row's columns are read
//! back, and the few words of SQL that differ.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use sqlx::{Database, QueryBuilder};
use uuid::Uuid;

use super::read::Columns;

/// A connection of engine `E`'s database.
pub(crate) type Conn<E> = <<E as Engine>::Db as Database>::Connection;
/// A row of engine `E`'s database.
pub(crate) type Row<E> = <<E as Engine>::Db as Database>::Row;
/// A boxed, sendable future borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One value bound to a statement, by kind; the engine picks the column type.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// Text.
    Text(Option<&'a str>),
    /// A signed integer.
    Int(Option<i64>),
    /// A float.
    Float(Option<f64>),
    /// An id.
    Uuid(Option<Uuid>),
    /// A timestamp.
    Ts(Option<DateTime<Utc>>),
    /// A JSON document, already serialised.
    Json(Option<String>),
}

/// A database a [`super::SqlStore`] can run on: [`crate::store::SqliteEngine`] or
/// [`crate::store::PostgresEngine`].
///
/// Sealed in practice: its items name types private to this crate, so only the engines here
/// implement it.
pub trait Engine: fmt::Debug + Clone + Send + Sync + 'static {
    /// The sqlx database.
    type Db: Database;
    /// A row of `table` read column by column.
    type Reader<'r>: Columns;

    /// Starts a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// concurrent writers wait for each other instead of failing when a read transaction
    /// tries to upgrade.
    const BEGIN_WRITE: &'static str;
    /// A column that keeps insertion order among rows with equal timestamps.
    const INSERTION_ORDER: &'static str;
    /// Appended to a `SELECT` that reads a row to change it in the same transaction.
    const LOCK_ROW: &'static str;

    /// Binds `value`, with any cast its column needs.
    fn push_value(query: &mut QueryBuilder<Self::Db>, value: Value<'_>);

    /// The columns of one row of `table`.
    fn columns<'r>(row: &'r Row<Self>, table: &'static str) -> Self::Reader<'r>;

    /// Runs a statement; resolves to the number of rows it changed.
    fn execute<'c>(
        conn: &'c mut Conn<Self>,
        query: &'c mut QueryBuilder<Self::Db>,
    ) -> BoxFuture<'c, sqlx::Result<u64>>;

    /// Runs a query; resolves to all its rows.
    fn fetch_all<'c>(
        conn: &'c mut Conn<Self>,
        query: &'c mut QueryBuilder<Self::Db>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<Row<Self>>>>;
}
