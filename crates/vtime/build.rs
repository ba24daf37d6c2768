//! Compiles `preload/vtime.c` into the shared object that `lightcone-vtime`
//! embeds (`liblightcone_vtime.so` in `OUT_DIR`).

use std::env;
use std::path::PathBuf;

fn main() {
    let source = PathBuf::from("preload/vtime.c");
    println!("cargo:rerun-if-changed={}", source.display());
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let library = out_dir.join("liblightcone_vtime.so");

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        // The preload library is Linux and glibc only; elsewhere embed an
        // empty file and let `preload_library` report that it is missing.
        std::fs::write(&library, b"").expect("write an empty placeholder into OUT_DIR");
        return;
    }

    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .try_get_compiler()
        .unwrap_or_else(|e| {
            panic!(
                "lightcone-vtime needs a C compiler to build its preload library ({e}); \
                 install one (Debian/Ubuntu: `apt-get install gcc`) or set CC"
            )
        });
    let mut command = compiler.to_command();
    command
        .args(["-shared", "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra"])
        .arg("-o")
        .arg(&library)
        .arg(&source)
        .args(["-ldl", "-lpthread"]);
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "lightcone-vtime could not run the C compiler {:?} ({e}); \
             install one (Debian/Ubuntu: `apt-get install gcc`) or set CC",
            compiler.path()
        )
    });
    if !output.status.success() {
        panic!(
            "compiling {} failed:\n{}{}",
            source.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
