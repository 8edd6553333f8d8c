//! Rows read back into records, and the errors that name a run.

use sqlx::postgres::PgRow;

use super::failure::Failure;
use super::PgStore;
use crate::rows::{self, Unreadable};
use crate::{LockHolder, RunRecord, StoreError};

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

    /// A row of `runs` (or `locks`), or the store's error naming the run.
    fn read<T>(&self, doing: &'static str, read: Result<T, Unreadable>) -> Result<T, StoreError> {
        read.map_err(|unreadable| match unreadable {
            Unreadable::Sql(err) => self.fail(doing, err),
            Unreadable::Corrupt {
                what,
                run_id,
                detail,
            } => self.corrupt(what, &run_id, detail),
        })
    }

    pub(super) fn run_from_row(&self, row: &PgRow) -> Result<RunRecord, StoreError> {
        self.read("reading a run", rows::run_record(row))
    }

    /// Inside a transaction: a driver error stays a [`Failure::Sql`], so a conflict is retried.
    pub(super) fn holder_from_row(&self, row: &PgRow) -> Result<LockHolder, Failure> {
        match rows::lock_holder(row) {
            Ok(holder) => Ok(holder),
            Err(Unreadable::Sql(err)) => Err(Failure::Sql(err)),
            Err(Unreadable::Corrupt {
                what,
                run_id,
                detail,
            }) => Err(self.corrupt(what, &run_id, detail).into()),
        }
    }
}
