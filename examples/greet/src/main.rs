//! greet: castoff's example with dependencies; clap parses, anyhow reports errors.

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Greets someone, from the platform it was built for.
#[derive(Parser)]
#[command(name = "greet", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GREET_TARGET"), ")"))]
struct Args {
    /// Who to greet.
    #[arg(default_value = "world")]
    name: String,
    /// How many times.
    #[arg(short, long, default_value_t = 1)]
    count: u32,
    /// Read the name from this file instead.
    #[arg(long)]
    from: Option<std::path::PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let name = match &args.from {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_owned(),
        None => args.name,
    };
    if name.is_empty() {
        bail!("the name is empty");
    }
    for _ in 0..args.count {
        println!("Hello, {name}! ({})", env!("GREET_TARGET"));
    }
    Ok(())
}
