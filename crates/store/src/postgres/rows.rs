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

    /// A row read back, or the store's error naming the run.
    fn read<T>(&self, doing: &'static str, read: Result<T, Unreadable>) -> Result<T, StoreError> {
        read.map_err(|unreadable| unreadable.into_error(&self.at, |err| self.fail(doing, err)))
    }

    pub(super) fn run_from_row(&self, row: &PgRow) -> Result<RunRecord, StoreError> {
        self.read("reading a run", rows::run_record(row))
    }

    /// Inside a transaction: a driver error stays a [`Failure::Sql`], so a conflict is retried.
    pub(super) fn holder_from_row(&self, row: &PgRow) -> Result<LockHolder, Failure> {
        rows::lock_holder(row).map_err(|unreadable| match unreadable {
            Unreadable::Sql(err) => Failure::Sql(err),
            damaged => {
                Failure::Store(damaged.into_error(&self.at, |err| self.fail("reading a lock", err)))
            }
        })
    }
}
