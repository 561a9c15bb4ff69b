// Cargo tells build scripts the target triple; `greet --version` prints it, which is how
// castoff's smoke-runs tell that a cross-built binary is the one its wheel promises.
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=GREET_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
