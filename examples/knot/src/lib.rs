//! knot: tie words together, from Rust. castoff's example of a PyO3 extension module.
use pyo3::prelude::*;

/// Join the words with a knot between each pair: tie(["a", "b"]) == "a~b".
#[pyfunction]
fn tie(words: Vec<String>) -> String {
    words.join("~")
}

/// Split a string tied by `tie` back into its words.
#[pyfunction]
fn untie(tied: &str) -> Vec<String> {
    if tied.is_empty() {
        Vec::new()
    } else {
        tied.split('~').map(str::to_owned).collect()
    }
}

#[pymodule]
fn knot(_py: Python<'_>, module: &PyModule) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(tie, module)?)?;
    module.add_function(wrap_pyfunction!(untie, module)?)?;
    Ok(())
}
