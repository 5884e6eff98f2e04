//! The fuzz targets' input format: a readable head and a body, so seeds can be
//! written by hand from real requests and responses.
//!
//! ```text
//! first line
//! Header-Name: value
//! Other-Header: value
//!
//! body…
//! ```
//!
//! The head ends at the first empty line (`\n\n`); without one, the whole input
//! is head and the body is empty.

/// An input split into its first line, its headers and its body.
#[derive(Debug, Default)]
pub struct Message<'a> {
    /// The first line, split on spaces.
    pub first_line: Vec<&'a [u8]>,
    /// `name: value` lines (the value's leading spaces trimmed); a line without a
    /// colon is a name with an empty value.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Everything after the empty line.
    pub body: &'a [u8],
}

/// Splits `data` into a [`Message`].
pub fn parse(data: &[u8]) -> Message<'_> {
    let (head, body) = match data.windows(2).position(|pair| pair == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut lines = head.split(|&byte| byte == b'\n');
    let first_line = lines
        .next()
        .unwrap_or_default()
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty())
        .collect();
    let headers = lines
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.iter().position(|&byte| byte == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
                    (line[..colon].to_vec(), value[start..].to_vec())
                }
                None => (line.to_vec(), Vec::new()),
            }
        })
        .collect();
    Message {
        first_line,
        headers,
        body,
    }
}
