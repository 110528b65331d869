//! Case-insensitive substring search that behaves the same on SQLite and PostgreSQL.
//!
//! `LIKE` is case-insensitive on SQLite but not on PostgreSQL, and `ILIKE` does not
//! exist on SQLite; comparing `LOWER(column)` with a lowered pattern is portable.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition};

/// A `LIKE` pattern matching `needle` anywhere, with `%`, `_` and `\` escaped.
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// `LOWER(column) LIKE pattern ESCAPE '\'`.
pub fn lower_like<C: ColumnTrait>(column: C, pattern: &str) -> Condition {
    Condition::all().add(
        Expr::expr(Func::lower(Expr::col((column.entity_name(), column))))
            .like(LikeExpr::new(pattern).escape('\\')),
    )
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn wildcards_in_the_needle_are_literal() {
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(contains_pattern("NEC"), "%nec%");
    }
}
