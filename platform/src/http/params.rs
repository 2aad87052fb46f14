//! Query parameters as every listing reads them: whole numbers, booleans, and `limit` / `offset`
//! paging, each refused with a clear 400 (`invalid_parameter`) when it is not what it should be.

use std::collections::HashMap;

use super::api_error::ApiError;

fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request(
        format!("query parameter {name}={value:?} is not {expected}"),
        "invalid_parameter",
    )
}

/// A whole number; absent or empty: `None`.
pub fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<i64>().map_err(|_| bad(name, v, "a whole number")))
        .transpose()
}

/// `true`/`1` or `false`/`0`; absent or empty: `None`.
pub fn boolean(params: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v == "true" || v == "1" => Ok(Some(true)),
        Some(v) if v == "false" || v == "0" => Ok(Some(false)),
        Some(v) => Err(bad(name, &v, "true or false")),
    }
}

/// A non-empty text parameter.
pub fn text<'p>(params: &'p HashMap<String, String>, name: &str) -> Option<&'p str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// `limit` (1 to `max`, default `default_limit`) and `offset` (at least 0, default 0).
pub fn limit_offset(
    params: &HashMap<String, String>,
    default_limit: i64,
    max: i64,
) -> Result<(i64, i64), ApiError> {
    let limit = number(params, "limit")?.unwrap_or(default_limit);
    let offset = number(params, "offset")?.unwrap_or(0);
    if !(1..=max).contains(&limit) {
        return Err(bad(
            "limit",
            &limit.to_string(),
            &format!("between 1 and {max}"),
        ));
    }
    if offset < 0 {
        return Err(bad("offset", &offset.to_string(), "at least 0"));
    }
    Ok((limit, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_parse_or_say_why_not() {
        assert_eq!(number(&params(&[("n", "5")]), "n"), Ok(Some(5)));
        assert_eq!(number(&params(&[("n", "")]), "n"), Ok(None));
        assert!(number(&params(&[("n", "five")]), "n").is_err());
        assert_eq!(boolean(&params(&[("b", "TRUE")]), "b"), Ok(Some(true)));
        assert!(boolean(&params(&[("b", "yes")]), "b").is_err());
        assert_eq!(limit_offset(&params(&[]), 50, 100), Ok((50, 0)));
        assert!(limit_offset(&params(&[("limit", "101")]), 50, 100).is_err());
        assert!(limit_offset(&params(&[("offset", "-1")]), 50, 100).is_err());
        assert_eq!(text(&params(&[("t", "")]), "t"), None);
    }
}
