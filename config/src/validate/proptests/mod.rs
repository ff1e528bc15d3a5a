//! Property tests: generated *valid* documents of every kind are accepted
//! and survive a JSON and a YAML round trip unchanged; documents with
//! arbitrary strings and numbers in every field never make validation
//! panic, and every problem they get displays on one line.

mod arbitrary;
mod valid;

use super::{validate, Problems};
use crate::spec::Document;
use arbitrary::any_document;
use proptest::prelude::*;
use valid::valid_document;

// ------------------------------------------------------------ properties

proptest! {
    #[test]
    fn valid_documents_are_accepted(doc in valid_document()) {
        if let Err(p) = validate(&doc) {
            prop_assert!(false, "refused:\n{}\n{}", Problems(p), doc.to_json());
        }
    }

    #[test]
    fn valid_documents_round_trip_json(doc in valid_document()) {
        let text = serde_json::to_string(&doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Document = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, doc, "{}", text);
    }

    #[test]
    fn valid_documents_round_trip_yaml(doc in valid_document()) {
        let text = serde_yaml_ng::to_string(&doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Document = serde_yaml_ng::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, doc, "{}", text);
    }

    #[test]
    fn arbitrary_documents_never_panic(doc in any_document()) {
        if let Err(problems) = validate(&doc) {
            prop_assert!(!problems.is_empty());
            for p in problems {
                prop_assert!(!p.reason.is_empty() && !p.to_string().contains('\n'), "{:?}", p);
            }
        }
    }
}
