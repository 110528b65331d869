//! Tells the test suite whether a PostgreSQL server is configured: with
//! `TEST_DATABASE_URL` set, tests that only make sense on PostgreSQL (taking the
//! server away, say) run; without it they are listed as ignored, with the reason,
//! instead of passing without having run.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
