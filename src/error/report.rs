//! An error with its whole `source()` chain, on one line.

use std::error::Error as StdError;
use std::fmt;

/// Prints an error and each of its [`source`](StdError::source)s on one line,
/// joined by `": "`: `error: source: source-of-source`.
///
/// A source whose text is the same as the one printed just before it is skipped,
/// so wrappers that repeat their inner error's message do not print it twice.
/// For the CLI, the example app and logs; `Debug` prints the same line.
///
/// Like every error of this crate, the line holds no token or password.
///
/// ```
/// use storefront_token::{ErrorReport, StorefrontClient};
///
/// let error = StorefrontClient::builder().build().unwrap_err();
/// assert_eq!(error.to_string(), "invalid client configuration");
/// assert_eq!(
///     ErrorReport::new(&error).to_string(),
///     "invalid client configuration: give a shop or an endpoint"
/// );
/// // In a log line:
/// tracing::warn!(error = %ErrorReport::new(&error), "could not build the client");
/// ```
pub struct ErrorReport<'a> {
    error: &'a (dyn StdError + 'static),
}

impl<'a> ErrorReport<'a> {
    /// A report of `error` and its sources.
    #[must_use]
    pub fn new(error: &'a (dyn StdError + 'static)) -> Self {
        Self { error }
    }
}

impl fmt::Display for ErrorReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.error.to_string();
        f.write_str(&previous)?;
        let mut source = self.error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if text != previous {
                f.write_str(": ")?;
                f.write_str(&text)?;
                previous = text;
            }
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test error with a message and an optional source.
    #[derive(Debug)]
    struct Link {
        text: &'static str,
        source: Option<Box<Link>>,
    }

    impl fmt::Display for Link {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl StdError for Link {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.source.as_deref().map(|link| link as _)
        }
    }

    fn chain(texts: &[&'static str]) -> Link {
        let mut link: Option<Box<Link>> = None;
        for text in texts.iter().rev() {
            link = Some(Box::new(Link { text, source: link }));
        }
        link.map(|link| *link).unwrap_or(Link {
            text: "",
            source: None,
        })
    }

    #[test]
    fn prints_every_source_once_on_one_line() {
        for (texts, expected) in [
            (&["alone"][..], "alone"),
            (&["outer", "inner"][..], "outer: inner"),
            (&["a", "b", "c"][..], "a: b: c"),
            // A wrapper repeating its source's text is printed once.
            (&["a", "b", "b", "c"][..], "a: b: c"),
            (&["a", "a"][..], "a"),
            (&["a", "b", "b", "b"][..], "a: b"),
            // Only a repeat of the text just printed is skipped.
            (&["a", "b", "a"][..], "a: b: a"),
        ] {
            let error = chain(texts);
            let report = ErrorReport::new(&error);
            assert_eq!(report.to_string(), expected, "{texts:?}");
            assert_eq!(format!("{report:?}"), expected, "{texts:?}");
        }
    }

    #[test]
    fn reports_the_crate_error_with_its_details() {
        let error: crate::Error = crate::error::ConfigError::new(
            crate::error::ConfigErrorKind::InvalidShop,
            "invalid shop: it is empty",
        )
        .into();
        assert_eq!(
            ErrorReport::new(&error).to_string(),
            "invalid client configuration: invalid shop: it is empty"
        );
    }
}
