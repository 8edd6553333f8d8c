//! Rows read back into records, and the errors that name a run.

use sqlx::postgres::PgRow;
use sqlx::Row;

use super::failure::Failure;
use super::PgStore;
use crate::{LockHolder, RunRecord, StoreError};

/// The columns of `runs`, in `concat!` so every query stays a `&'static str` (no SQL is ever
/// built from values).
macro_rules! run_columns {
    () => {
        "run_id, runbook_name, runbook_path, runbook_digest, inputs, lock_key, status, \
         started_at, finished_at, host, pid, error, exit_code, fire_key"
    };
}
pub(super) use run_columns;

impl PgStore {
    pub(super) fn unknown_run(&self, run_id: &str) -> StoreError {
        StoreError::UnknownRun {
            at: self.at.clone(),
            run_id: run_id.to_owned(),
        }
    }

    pub(super) fn corrupt(
        &self,
        what: &'static str,
        run_id: &str,
        detail: impl ToString,
    ) -> StoreError {
        StoreError::Corrupt {
            at: self.at.clone(),
            what,
            run_id: run_id.to_owned(),
            detail: detail.to_string(),
        }
    }

    pub(super) fn run_from_row(&self, row: &PgRow) -> Result<RunRecord, StoreError> {
        let read = |err| self.fail("reading a run", err);
        let run_id: String = row.try_get("run_id").map_err(read)?;
        let inputs: String = row.try_get("inputs").map_err(read)?;
        let inputs = serde_json::from_str(&inputs)
            .map_err(|err| self.corrupt("inputs (JSON)", &run_id, err))?;
        let pid: i64 = row.try_get("pid").map_err(read)?;
        let pid = u32::try_from(pid).map_err(|err| self.corrupt("pid", &run_id, err))?;
        Ok(RunRecord {
            runbook_name: row.try_get("runbook_name").map_err(read)?,
            runbook_path: row.try_get("runbook_path").map_err(read)?,
            runbook_digest: row.try_get("runbook_digest").map_err(read)?,
            inputs,
            lock_key: row.try_get("lock_key").map_err(read)?,
            status: row.try_get("status").map_err(read)?,
            started_at: row.try_get("started_at").map_err(read)?,
            finished_at: row.try_get("finished_at").map_err(read)?,
            host: row.try_get("host").map_err(read)?,
            pid,
            error: row.try_get("error").map_err(read)?,
            exit_code: row.try_get("exit_code").map_err(read)?,
            fire_key: row.try_get("fire_key").map_err(read)?,
            run_id,
        })
    }

    pub(super) fn holder_from_row(&self, row: &PgRow) -> Result<LockHolder, Failure> {
        let run_id: String = row.try_get("run_id")?;
        let pid: i64 = row.try_get("pid")?;
        let pid = u32::try_from(pid).map_err(|err| self.corrupt("lock pid", &run_id, err))?;
        Ok(LockHolder {
            host: row.try_get("host")?,
            pid,
            since: row.try_get("since")?,
            run_id,
        })
    }
}
