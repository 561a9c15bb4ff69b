"""castoff: release orchestration for Rust programs shipped to Python users."""

__version__ = "0.1.0"
