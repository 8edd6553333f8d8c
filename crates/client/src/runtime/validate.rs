//! Client-side checks of the limits the spec puts on parameters, so a bad value fails before
//! anything is sent, with the parameter's name.

use super::error::ApiError;

/// Checks a string's length in characters against the spec's `minLength` / `maxLength`.
pub fn check_length(
    name: &str,
    value: &str,
    min: Option<usize>,
    max: Option<usize>,
) -> Result<(), ApiError> {
    let length = value.chars().count();
    let fail = |limit: String| {
        Err(ApiError::InvalidParameter {
            name: name.to_owned(),
            message: format!("is {length} characters long; the API requires {limit}"),
        })
    };
    match (min, max) {
        (Some(min), Some(max)) if min == max && length != min => fail(format!("exactly {min}")),
        (Some(min), _) if length < min => fail(format!("at least {min}")),
        (_, Some(max)) if length > max => fail(format!("at most {max}")),
        _ => Ok(()),
    }
}

/// Checks a number against the spec's `minimum` / `maximum`.
pub fn check_range(
    name: &str,
    value: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<(), ApiError> {
    let below = min.is_some_and(|m| value < m);
    let above = max.is_some_and(|m| value > m);
    if below || above {
        let bound = |b: Option<f64>| b.map_or_else(|| "…".to_owned(), |b| b.to_string());
        return Err(ApiError::InvalidParameter {
            name: name.to_owned(),
            message: format!("{value} is outside {}..={}", bound(min), bound(max)),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters() {
        assert!(check_length("p", "工作流", Some(3), Some(3)).is_ok());
        let err = check_length("project_id", "abc", Some(32), Some(32)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `project_id`: is 3 characters long; the API requires exactly 32"
        );
        assert!(check_length("w", "", Some(1), Some(64)).is_err());
        assert!(check_length("w", &"x".repeat(65), Some(1), Some(64)).is_err());
        assert!(check_range("n", 5.0, Some(1.0), Some(4.0)).is_err());
        assert!(check_range("n", 4.0, Some(1.0), Some(4.0)).is_ok());
    }
}
