//! `runbook store …`: the run store itself.

use clap::{Args, Subcommand};

use crate::exit;
use crate::store_select::{self, StoreArgs};

#[derive(Debug, Args)]
pub struct StoreCmdArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bring the store's schema to this version (every command does it on first use; run
    /// this from a deploy step to do it ahead of the first run). Safe to run from several
    /// hosts at once.
    Migrate,
}

pub async fn store(args: StoreCmdArgs) -> u8 {
    match args.command {
        StoreCommand::Migrate => {
            // Opening migrates: a new store gets every migration, an older one the rest.
            let store = match store_select::open(&args.store).await {
                Ok(store) => store,
                Err(problem) => {
                    errln!("error: {}", problem.message);
                    return problem.code;
                }
            };
            match store.schema_version().await {
                Ok(version) => {
                    outln!(
                        "the run store {} is at schema version {version}",
                        store.location()
                    );
                    exit::SUCCESS
                }
                Err(error) => {
                    errln!("error: {error}");
                    store_select::code_for(&error)
                }
            }
        }
    }
}
