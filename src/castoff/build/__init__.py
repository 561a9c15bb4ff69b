"""Building targets: choosing a method per machine, maturin commands, archives, smoke-runs."""
