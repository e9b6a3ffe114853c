//! The `luagate` binary: read the configuration, set up logging, run the server. No logic here.

use luagate::config::Config;

const USAGE: &str =
    "usage: luagate [--config PATH] [--port N] [--bind ADDR] [--shards N] [--dir PATH]
               [--metrics-port N] [--<config-key> VALUE ...]
Every key of config/default.yaml is also a flag (--busy-reply-threshold 5000) and an
environment variable (LUAGATE_BUSY_REPLY_THRESHOLD=5000). Flags beat the environment,
which beats the file, which beats the built-in defaults.";

fn main() {
    one_malloc_arena();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let config = match Config::load(&args, std::env::vars().collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("luagate: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_worker_count())
        .enable_all()
        .thread_name("io")
        .on_thread_unpark(luagate::server::connection::io_thread_woke)
        .build()
        .expect("building the I/O runtime");
    if let Err(e) = runtime.block_on(luagate::server::serve(config)) {
        eprintln!("luagate: {e}");
        std::process::exit(1);
    }
    // `serve` already waited out shutdown-timeout; a shard still stuck in a script must not
    // hold the exit (dropping the runtime would wait for it forever).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
}

fn init_logging(config: &Config) {
    luagate::logging::init(&config.log_level, config.log_format == "json");
}

/// One glibc malloc arena for the whole process. Units run on whichever thread holds their
/// shards (I/O workers or shard threads), so a shard's tables are allocated and freed from
/// several threads; with per-thread arenas, memory freed in one arena is not reused by
/// another, and 1M small keys cost 116 B/key of RSS instead of 90 (benches/memory.sh). Only
/// blocks of 4 KiB and more come from glibc (src/allocator.rs), so the shared arena's lock is
/// not on the path of the small, frequent allocations.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
