// Cargo tells build scripts the target triple; hand it to the binary so `hello --version`
// can say which build it is (castoff's smoke-runs check this under qemu).
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=HELLO_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
