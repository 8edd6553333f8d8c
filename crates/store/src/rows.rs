//! Rows of `runs`, `locks` and `events` read back into records: one mapping for both
//! backends, so a column added to the schema is read the same way everywhere, and a prefix or
//! a damaged value is answered the same way too.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::{LockHolder, RunRecord, StoreError};

/// The columns of `runs`, in `concat!` so every query stays a `&'static str` (no SQL is ever
/// built from values).
macro_rules! run_columns {
    () => {
        "run_id, runbook_name, runbook_path, runbook_digest, inputs, lock_key, status, \
         started_at, finished_at, host, pid, error, exit_code, fire_key"
    };
}
pub(crate) use run_columns;

/// Why a row could not be read: the driver's error, or a value the store never writes.
pub(crate) enum Unreadable {
    Sql(sqlx::Error),
    Corrupt {
        what: &'static str,
        run_id: String,
        detail: String,
    },
}

impl Unreadable {
    /// The store's error: a driver error as the backend's `sql` reports it, a damaged value as
    /// [`StoreError::Corrupt`] in the store at `at`.
    pub(crate) fn into_error(
        self,
        at: &str,
        sql: impl FnOnce(sqlx::Error) -> StoreError,
    ) -> StoreError {
        match self {
            Unreadable::Sql(err) => sql(err),
            Unreadable::Corrupt {
                what,
                run_id,
                detail,
            } => StoreError::Corrupt {
                at: at.to_owned(),
                what,
                run_id,
                detail,
            },
        }
    }
}

impl From<sqlx::Error> for Unreadable {
    fn from(error: sqlx::Error) -> Unreadable {
        Unreadable::Sql(error)
    }
}

fn corrupt(what: &'static str, run_id: &str, detail: impl ToString) -> Unreadable {
    Unreadable::Corrupt {
        what,
        run_id: run_id.to_owned(),
        detail: detail.to_string(),
    }
}

/// A row of `runs` selected with [`run_columns!`].
pub(crate) fn run_record<'r, R>(row: &'r R) -> Result<RunRecord, Unreadable>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
{
    let run_id: String = row.try_get("run_id")?;
    let inputs: String = row.try_get("inputs")?;
    let inputs =
        serde_json::from_str(&inputs).map_err(|err| corrupt("inputs (JSON)", &run_id, err))?;
    let pid: i64 = row.try_get("pid")?;
    let pid = u32::try_from(pid).map_err(|err| corrupt("pid", &run_id, err))?;
    Ok(RunRecord {
        runbook_name: row.try_get("runbook_name")?,
        runbook_path: row.try_get("runbook_path")?,
        runbook_digest: row.try_get("runbook_digest")?,
        inputs,
        lock_key: row.try_get("lock_key")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        host: row.try_get("host")?,
        pid,
        error: row.try_get("error")?,
        exit_code: row.try_get("exit_code")?,
        fire_key: row.try_get("fire_key")?,
        run_id,
    })
}

/// A lock's holder, from a row with `run_id`, `host`, `pid` and `since`.
pub(crate) fn lock_holder<'r, R>(row: &'r R) -> Result<LockHolder, Unreadable>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let run_id: String = row.try_get("run_id")?;
    let pid: i64 = row.try_get("pid")?;
    let pid = u32::try_from(pid).map_err(|err| corrupt("lock pid", &run_id, err))?;
    Ok(LockHolder {
        host: row.try_get("host")?,
        pid,
        since: row.try_get("since")?,
        run_id,
    })
}

/// The run that `prefix` names, from the runs whose ids start with it (the backends fetch at
/// most three: enough to say "ambiguous" and show some): none, the only one, or
/// [`StoreError::AmbiguousRunId`].
pub(crate) fn only_match(
    at: &str,
    prefix: &str,
    mut matches: Vec<RunRecord>,
) -> Result<Option<RunRecord>, StoreError> {
    if matches.len() <= 1 {
        return Ok(matches.pop());
    }
    Err(StoreError::AmbiguousRunId {
        at: at.to_owned(),
        prefix: prefix.to_owned(),
        examples: matches.into_iter().map(|run| run.run_id).collect(),
    })
}

/// A run's journal, each event's JSON text parsed back.
pub(crate) fn events(
    at: &str,
    run_id: &str,
    texts: &[String],
) -> Result<Vec<serde_json::Value>, StoreError> {
    texts
        .iter()
        .map(|text| {
            serde_json::from_str(text).map_err(|err| StoreError::Corrupt {
                at: at.to_owned(),
                what: "event",
                run_id: run_id.to_owned(),
                detail: err.to_string(),
            })
        })
        .collect()
}
