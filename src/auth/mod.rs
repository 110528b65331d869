//! Who is calling: access tokens, the keys that sign them, and the `Caller` every
//! service operation receives.

mod caller;
pub mod key_store;
pub mod keys;
pub mod oidc;
pub mod tokens;

pub use caller::{Caller, Role};
