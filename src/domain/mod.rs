//! Validated domain values and enumerations.
//!
//! Input from clients is parsed into these types at the edge of the service layer, so
//! the rest of the code can rely on a `CountryCode` being a real ISO code or a
//! `DateRange` ending after it starts ("parse, don't validate").

mod kinds;
mod values;

pub use kinds::*;
pub use values::*;
