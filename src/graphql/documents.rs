//! Parsed GraphQL documents, kept by their text.
//!
//! Partner systems and consoles send the same few documents all day, and parsing
//! one (async-graphql's parser is a PEG parser) was about a tenth of the CPU of a
//! small request. A document is parsed once and cloned from here after; the
//! clone is cheap beside a parse. The cache is bounded in entries and in document
//! size, and simply starts over when full, so a client sending endless distinct
//! documents gains nothing and costs no more than parsing them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Most documents kept.
const CAPACITY: usize = 256;
/// Longest document kept (longer ones are parsed every time).
const MAX_BYTES: usize = 8 * 1024;

/// Parsed documents by their text; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct DocumentCache {
    entries: Arc<Mutex<HashMap<Arc<str>, Arc<ExecutableDocument>>>>,
}

impl DocumentCache {
    /// The parsed `query`, from the cache or parsed now; syntax errors are never
    /// cached.
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, async_graphql::parser::Error> {
        if let Some(found) = self.lookup(query) {
            return Ok(ExecutableDocument::clone(&found));
        }
        let document = async_graphql::parser::parse_query(query)?;
        if query.len() <= MAX_BYTES
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(Arc::from(query), Arc::new(document.clone()));
        }
        Ok(document)
    }

    fn lookup(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.entries.lock().ok()?.get(query).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_errors_are_not_kept() {
        let cache = DocumentCache::default();
        let first = cache.parse("{ viewer { roles } }").unwrap();
        let again = cache.parse("{ viewer { roles } }").unwrap();
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        assert!(cache.parse("{ viewer {").is_err());
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }
}
