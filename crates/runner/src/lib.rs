//! Runs runbooks.
