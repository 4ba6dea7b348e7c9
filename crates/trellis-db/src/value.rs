//! Backend-neutral values and rows. Values carry their SQL type even when NULL, because
//! PostgreSQL types a bound NULL and rejects `NULL::bigint` in a text column.

use std::sync::Arc;

use sqlx::{Column, Row as _, TypeInfo, ValueRef};
use trellis_core::{Email, Timestamp};

use crate::DbError;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Text(_) => "text",
            Value::Bool(_) => "boolean",
            Value::Bytes(_) => "bytes",
        }
    }
}

/// Converts a Rust value into a bindable [`Value`].
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! to_value {
    ($ty:ty, $variant:ident, |$v:ident| $conv:expr) => {
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                let $v = self;
                Value::$variant(Some($conv))
            }
        }
        impl ToValue for Option<$ty> {
            fn to_value(&self) -> Value {
                Value::$variant(self.as_ref().map(|$v| $conv))
            }
        }
    };
}

to_value!(i64, Int, |v| *v);
to_value!(i32, Int, |v| i64::from(*v));
to_value!(bool, Bool, |v| *v);
to_value!(String, Text, |v| v.clone());
to_value!(&str, Text, |v| (*v).to_owned());
to_value!(Vec<u8>, Bytes, |v| v.clone());
to_value!(Timestamp, Int, |v| v.micros());
to_value!(Email, Text, |v| v.as_str().to_owned());

macro_rules! id_to_value {
    ($($ty:ident),*) => {$(
        to_value!(trellis_core::$ty, Text, |v| v.as_str().to_owned());
    )*};
}
id_to_value!(
    WorkspaceId,
    UserId,
    PartnerId,
    ApiKeyId,
    AuditEventId,
    InvitationId,
    ProgramId,
    TierId,
    ApplicationId,
    StepId,
    AgreementId,
    FileId,
    ContractId,
    LicenceId,
    EmailId,
    ChangeRequestId,
    TierChangeId,
    DealId,
    DisputeId,
    ExtensionRequestId,
    JournalEntryId,
    ConversionId,
    CommissionId,
    PayoutRunId,
    PayoutMethodId,
    LinkId,
    LeadId,
    LeadOfferId
);

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// Converts a fetched [`Value`] into a Rust value.
pub trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, String>;
}

fn mismatch<T>(value: &Value, wanted: &str) -> Result<T, String> {
    match value {
        Value::Int(None) | Value::Text(None) | Value::Bool(None) | Value::Bytes(None) => Err(format!("is NULL, expected {wanted}")),
        other => Err(format!("is {}, expected {wanted}", other.type_name())),
    }
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Int(Some(v)) => Ok(v),
            other => mismatch(&other, "integer"),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(Some(v)) => Ok(v),
            // SQLite stores BOOLEAN as 0/1.
            Value::Int(Some(v)) => Ok(v != 0),
            other => mismatch(&other, "boolean"),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Text(Some(v)) => Ok(v),
            other => mismatch(&other, "text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bytes(Some(v)) => Ok(v),
            other => mismatch(&other, "bytes"),
        }
    }
}

impl FromValue for Timestamp {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(Timestamp::from_micros)
    }
}

impl FromValue for Email {
    fn from_value(value: Value) -> Result<Self, String> {
        let text = String::from_value(value)?;
        Email::parse(&text).map_err(|e| e.to_string())
    }
}

macro_rules! id_from_value {
    ($($ty:ident),*) => {$(
        impl FromValue for trellis_core::$ty {
            fn from_value(value: Value) -> Result<Self, String> {
                let text = String::from_value(value)?;
                trellis_core::$ty::parse(&text).map_err(|e| e.to_string())
            }
        }
    )*};
}
id_from_value!(
    WorkspaceId,
    UserId,
    PartnerId,
    ApiKeyId,
    AuditEventId,
    InvitationId,
    ProgramId,
    TierId,
    ApplicationId,
    StepId,
    AgreementId,
    FileId,
    ContractId,
    LicenceId,
    EmailId,
    ChangeRequestId,
    TierChangeId,
    DealId,
    DisputeId,
    ExtensionRequestId,
    JournalEntryId,
    ConversionId,
    CommissionId,
    PayoutRunId,
    PayoutMethodId,
    LinkId,
    LeadId,
    LeadOfferId
);

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Int(None) | Value::Text(None) | Value::Bool(None) | Value::Bytes(None) => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One fetched row: column names shared across the rows of a result, values decoded eagerly.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The value of column `name`, converted; a missing column or a type mismatch is an error
    /// naming the column (a bug in our SQL, never caused by input).
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, DbError> {
        let index = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DbError::Decode { column: name.to_owned(), message: "no such column in the result".into() })?;
        T::from_value(self.values[index].clone()).map_err(|message| DbError::Decode { column: name.to_owned(), message })
    }

    pub(crate) fn columns_ref(&self) -> &[String] {
        &self.columns
    }

    pub(crate) fn from_sqlite(columns: &Arc<[String]>, row: &sqlx::sqlite::SqliteRow) -> Result<Self, DbError> {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let raw = row.try_get_raw(index)?;
            let value = if raw.is_null() {
                Value::Int(None)
            } else {
                match raw.type_info().name() {
                    "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" | "NUMERIC" => Value::Int(Some(row.try_get_unchecked::<i64, _>(index)?)),
                    "BLOB" => Value::Bytes(Some(row.try_get_unchecked::<Vec<u8>, _>(index)?)),
                    "REAL" => {
                        return Err(DbError::Decode {
                            column: columns[index].clone(),
                            message: "floating-point values are not used".into(),
                        });
                    }
                    _ => Value::Text(Some(row.try_get_unchecked::<String, _>(index)?)),
                }
            };
            values.push(value);
        }
        Ok(Self { columns: columns.clone(), values })
    }

    pub(crate) fn from_postgres(columns: &Arc<[String]>, row: &sqlx::postgres::PgRow) -> Result<Self, DbError> {
        let mut values = Vec::with_capacity(columns.len());
        for (index, column) in row.columns().iter().enumerate() {
            let value = match column.type_info().name() {
                "INT8" => Value::Int(row.try_get::<Option<i64>, _>(index)?),
                "INT4" => Value::Int(row.try_get::<Option<i32>, _>(index)?.map(i64::from)),
                "INT2" => Value::Int(row.try_get::<Option<i16>, _>(index)?.map(i64::from)),
                "BOOL" => Value::Bool(row.try_get::<Option<bool>, _>(index)?),
                "BYTEA" => Value::Bytes(row.try_get::<Option<Vec<u8>>, _>(index)?),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Value::Text(row.try_get::<Option<String>, _>(index)?),
                other => {
                    return Err(DbError::Decode {
                        column: columns[index].clone(),
                        message: format!("PostgreSQL type {other} is not mapped (cast it in the SQL)"),
                    });
                }
            };
            values.push(value);
        }
        Ok(Self { columns: columns.clone(), values })
    }
}
