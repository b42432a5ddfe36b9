//! The print document's pagination: `page` / `limit` in, Laravel-style meta out.

use serde::{Deserialize, Serialize};

use crate::Problem;

pub const DEFAULT_LIMIT: u32 = 15;
pub const MAX_LIMIT: u32 = 100;
/// Pages past this are refused: nobody pages that far, and it bounds `OFFSET`.
pub const MAX_PAGE: u32 = 1_000_000;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl PageRequest {
    /// Parses the raw `page` and `limit` parameters. Absent means default; present but not a
    /// whole number in range is a validation error, never a silent default.
    pub fn parse(page: Option<&str>, limit: Option<&str>) -> Result<PageRequest, Problem> {
        let page = parse_bounded("page", page, 1, MAX_PAGE, 1)?;
        let limit = parse_bounded("limit", limit, 1, MAX_LIMIT, DEFAULT_LIMIT)?;
        Ok(PageRequest { page, limit })
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

fn parse_bounded(
    field: &str,
    raw: Option<&str>,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, Problem> {
    let Some(raw) = raw else { return Ok(default) };
    let message = format!("{field} 必须是 {min} 到 {max} 之间的整数");
    let value: u32 = raw
        .trim()
        .parse()
        .map_err(|_| Problem::invalid(field, &message))?;
    if !(min..=max).contains(&value) {
        return Err(Problem::invalid(field, message));
    }
    Ok(value)
}

/// One page of results with every meta field of the print document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub count: u64,
    pub total: u64,
    pub current_page: u32,
    pub last_page: u64,
    pub has_more_pages: bool,
}

impl<T> Paged<T> {
    pub fn new(data: Vec<T>, total: u64, request: PageRequest) -> Paged<T> {
        let limit = u64::from(request.limit);
        let last_page = total.div_ceil(limit).max(1);
        Paged {
            count: data.len() as u64,
            data,
            total,
            current_page: request.page,
            last_page,
            has_more_pages: u64::from(request.page) < last_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_parameters_mean_page_one_of_fifteen() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest { page: 1, limit: 15 }
        );
    }

    #[test]
    fn bad_page_or_limit_is_a_validation_error_naming_the_field() {
        for (page, limit, field) in [
            (Some("0"), None, "page"),
            (Some("x"), None, "page"),
            (Some("-1"), None, "page"),
            (None, Some("101"), "limit"),
            (None, Some("0"), "limit"),
            (None, Some("1.5"), "limit"),
        ] {
            match PageRequest::parse(page, limit) {
                Err(Problem::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{page:?}/{limit:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn meta_fields_follow_the_document() {
        let request = PageRequest { page: 2, limit: 15 };
        let paged = Paged::new(vec![1; 15], 31, request);
        assert_eq!(paged.count, 15);
        assert_eq!(paged.total, 31);
        assert_eq!(paged.current_page, 2);
        assert_eq!(paged.last_page, 3);
        assert!(paged.has_more_pages);
        let last = Paged::new(vec![1], 31, PageRequest { page: 3, limit: 15 });
        assert!(!last.has_more_pages);
        let empty: Paged<u8> = Paged::new(vec![], 0, PageRequest::default());
        assert_eq!((empty.last_page, empty.has_more_pages), (1, false));
        assert_eq!(request.offset(), 15);
    }
}
