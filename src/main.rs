//! The `luagate` binary: parse flags, set up logging, run the server. No logic here.

use luagate::config::Config;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: luagate [--port N] [--bind ADDR] [--shards N] [--dir PATH] [--requirepass PASS]");
        return;
    }
    let mut config = Config::default();
    if let Err(e) = config.apply_args(&args) {
        eprintln!("luagate: {e}");
        std::process::exit(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LUAGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("io")
        .build()
        .expect("building the I/O runtime");
    if let Err(e) = runtime.block_on(luagate::server::serve(config)) {
        eprintln!("luagate: {e}");
        std::process::exit(1);
    }
}
