//! `wasm-bindgen-test-runner`: cargo's runner for wasm32 tests, built from wasm-bindgen-cli's library.

fn main() -> anyhow::Result<()> {
    env_logger::init();
    wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(std::env::args_os())
}
