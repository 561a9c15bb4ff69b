//! hello: the example program castoff releases. No dependencies, so it cross-builds offline.

use std::process::ExitCode;

const NAME: &str = env!("CARGO_PKG_NAME");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGET: &str = env!("HELLO_TARGET");

fn help() -> String {
    format!(
        "{NAME} {VERSION}: says hello from the platform it was built for.\n\
         \n\
         Usage: {NAME} [OPTIONS] [NAME]\n\
         \n\
         Arguments:\n\
         \x20 [NAME]         who to greet (default: world)\n\
         \n\
         Options:\n\
         \x20 -V, --version  print name, version and target triple\n\
         \x20 -h, --help     print this help\n"
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["-V" | "--version"] => println!("{NAME} {VERSION} ({TARGET})"),
        ["-h" | "--help"] => print!("{}", help()),
        [] => println!("Hello, world! ({TARGET})"),
        [name] if !name.starts_with('-') => println!("Hello, {name}! ({TARGET})"),
        _ => {
            eprintln!("{NAME}: unexpected arguments {args:?}; see '{NAME} --help'");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
