//! The `cargo-llm-bench` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    cargo_llm_bench::main()
}
