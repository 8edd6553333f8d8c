//! Helpers of the generated catalogue's JSON invoker.

use serde::{de::DeserializeOwned, Serialize};

use super::error::InvokeError;
use super::request::ApiResponse;

/// Builds an operation's parameter struct from JSON, naming the operation on failure.
pub fn parse_params<T: DeserializeOwned>(
    operation: &'static str,
    params: serde_json::Value,
) -> Result<T, InvokeError> {
    serde_json::from_value(params).map_err(|e| InvokeError::InvalidParams {
        operation,
        message: e.to_string(),
    })
}

/// Turns a typed response into a JSON one.
pub fn into_json_response<T: Serialize>(
    operation: &'static str,
    response: ApiResponse<T>,
) -> Result<ApiResponse<serde_json::Value>, InvokeError> {
    let body = serde_json::to_value(&response.body).map_err(|e| InvokeError::InvalidParams {
        operation,
        message: format!("response cannot be represented as JSON: {e}"),
    })?;
    Ok(response.map(|_| body))
}
