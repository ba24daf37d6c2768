//! The node program named by `--bin`: found as a shell finds a command and
//! checked before anything runs, so that a typo or a missing `chmod +x` is a
//! bad argument with its fix beside it rather than a failed run.
//!
//! The check cannot be complete (a file can pass it and still fail to
//! execute), so a failure to start the first processes of a run is reported
//! through the same error: `ProgramError::Exec`.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The search path `posix_spawnp` and `execvp` use when PATH is unset.
const PATH_DEFAULT: &str = "/bin:/usr/bin";
/// How much of a script the kernel reads for its `#!` line (Linux's
/// `BINPRM_BUF_SIZE`).
const SHEBANG_LEN_MAX: usize = 256;

/// Why the node program cannot be run. Each message names the program,
/// where it was looked for, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// `--bin ""`.
    Empty,
    /// A path (it has a slash) that names nothing.
    Missing {
        bin: PathBuf,
        absolute: PathBuf,
    },
    /// A bare name that no folder of PATH holds as an executable file.
    NotInPath {
        bin: PathBuf,
        search_path: OsString,
        /// There is a file of that name in the current folder.
        here: bool,
    },
    /// The path could not be looked at (a parent folder without permission).
    Unreadable {
        bin: PathBuf,
        absolute: PathBuf,
        source: io::Error,
    },
    Folder {
        bin: PathBuf,
        absolute: PathBuf,
    },
    NotExecutable {
        bin: PathBuf,
        absolute: PathBuf,
    },
    /// A script whose `#!` line names an interpreter that cannot run.
    Interpreter {
        bin: PathBuf,
        absolute: PathBuf,
        interpreter: String,
        problem: InterpreterProblem,
    },
    /// The program passed the checks, but the system refused to start it.
    Exec {
        bin: PathBuf,
        absolute: PathBuf,
        source: io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpreterProblem {
    Missing,
    Folder,
    NotExecutable,
    /// `#!/usr/bin/env NAME` and no folder of PATH has NAME.
    NotInPath,
}

/// The end of most of these errors: what to give instead.
const GIVE: &str = "give the path of an executable node program";

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramError::Empty => write!(f, "--bin is empty; {GIVE}"),
            ProgramError::Missing { bin, absolute } => write!(
                f,
                "--bin {}: no such file (looked for {}); {GIVE}",
                bin.display(),
                absolute.display()
            ),
            ProgramError::NotInPath {
                bin,
                search_path,
                here,
            } => {
                write!(
                    f,
                    "--bin {}: no executable of that name in the folders of PATH ({}); ",
                    bin.display(),
                    search_path.to_string_lossy()
                )?;
                if *here {
                    write!(
                        f,
                        "there is one in the current folder: write --bin ./{}",
                        bin.display()
                    )
                } else {
                    write!(f, "install it, or {GIVE}")
                }
            }
            ProgramError::Unreadable {
                bin,
                absolute,
                source,
            } => write!(
                f,
                "--bin {}: cannot look at {}: {source}; {GIVE}",
                bin.display(),
                absolute.display()
            ),
            ProgramError::Folder { bin, absolute } => write!(
                f,
                "--bin {}: {} is a folder, not a program; give the path of the node program in it",
                bin.display(),
                absolute.display()
            ),
            ProgramError::NotExecutable { bin, absolute } => {
                // A bare name was found in PATH; the interpreter would not be.
                let script = if bin.as_os_str().as_bytes().contains(&b'/') {
                    bin
                } else {
                    absolute
                };
                write!(
                    f,
                    "--bin {}: {} is not executable; chmod +x it, or run it through its \
                     interpreter: --bin {} -- {}",
                    bin.display(),
                    absolute.display(),
                    interpreter_hint(absolute),
                    script.display()
                )
            }
            ProgramError::Interpreter {
                bin,
                absolute,
                interpreter,
                problem,
            } => {
                write!(f, "--bin {}: ", bin.display())?;
                fmt_interpreter(f, interpreter, *problem)?;
                write!(
                    f,
                    "; install it, or correct the #! line of {}",
                    absolute.display()
                )
            }
            ProgramError::Exec {
                bin,
                absolute,
                source,
            } => fmt_exec(f, bin, absolute, source),
        }
    }
}

/// What is wrong with the interpreter a script's `#!` line names.
fn fmt_interpreter(
    f: &mut fmt::Formatter<'_>,
    interpreter: &str,
    problem: InterpreterProblem,
) -> fmt::Result {
    let what = match problem {
        InterpreterProblem::NotInPath => {
            return write!(
                f,
                "its #! line runs {interpreter} through env, and no folder of PATH has \
                 an executable {interpreter}"
            )
        }
        InterpreterProblem::Missing => "does not exist",
        InterpreterProblem::Folder => "is a folder",
        InterpreterProblem::NotExecutable => "is not executable",
    };
    write!(
        f,
        "its #! line names the interpreter {interpreter}, which {what}"
    )
}

/// Why the system refused to start the program, by `execve(2)`'s error.
fn fmt_exec(
    f: &mut fmt::Formatter<'_>,
    bin: &Path,
    absolute: &Path,
    source: &io::Error,
) -> fmt::Result {
    let (bin, absolute) = (bin.display(), absolute.display());
    match source.raw_os_error() {
        Some(libc::ENOEXEC) => write!(
            f,
            "--bin {bin}: {absolute} is not a program this machine can run (exec \
             format error); a script needs a first line naming its interpreter \
             (#!/bin/sh, #!/usr/bin/env python3), or run it through one: \
             --bin python3 -- {bin}"
        ),
        Some(libc::ENOENT) => write!(
            f,
            "--bin {bin}: {absolute} exists but could not be started (no such file \
             or directory): the interpreter in its #! line, or the dynamic loader it \
             was linked for, is missing; install it, or {GIVE}"
        ),
        _ => write!(
            f,
            "--bin {bin}: could not start {absolute} ({source}); {GIVE} (chmod +x \
             it, or run it through its interpreter: --bin python3 -- {bin})"
        ),
    }
}

impl ProgramError {
    /// A failure to start `bin` (found at `absolute`) if it is the
    /// program's fault rather than the workbench's: the errors of
    /// `execve(2)` that are about the file.
    pub fn from_exec(bin: &Path, absolute: &Path, source: io::Error) -> Result<Self, io::Error> {
        match source.raw_os_error() {
            Some(
                libc::ENOENT
                | libc::EACCES
                | libc::EPERM
                | libc::ENOEXEC
                | libc::ENOTDIR
                | libc::EISDIR
                | libc::ELOOP
                | libc::ENAMETOOLONG
                | libc::ELIBBAD,
            ) => Ok(ProgramError::Exec {
                bin: bin.to_path_buf(),
                absolute: absolute.to_path_buf(),
                source,
            }),
            _ => Err(source),
        }
    }
}

/// Finds the node program as a shell would: a name with a slash is a path
/// (relative to the current folder), a bare name is looked up in the
/// folders of PATH. Checks that it is an executable file and, for a script,
/// that its `#!` interpreter exists. Returns where the program is.
pub fn resolve_program(bin: &Path) -> Result<PathBuf, ProgramError> {
    resolve_in(bin, std::env::var_os("PATH").as_deref())
}

/// `resolve_program` with the search path given (None: PATH is unset).
fn resolve_in(bin: &Path, search_path: Option<&OsStr>) -> Result<PathBuf, ProgramError> {
    let bytes = bin.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(ProgramError::Empty);
    }
    let search_path = search_path.unwrap_or(OsStr::new(PATH_DEFAULT));
    let found = if bytes.contains(&b'/') {
        let absolute = std::path::absolute(bin).unwrap_or_else(|_| bin.to_path_buf());
        match examine(bin) {
            Examined::Executable => absolute,
            Examined::Missing => {
                return Err(ProgramError::Missing {
                    bin: bin.to_path_buf(),
                    absolute,
                })
            }
            Examined::Unreadable(source) => {
                return Err(ProgramError::Unreadable {
                    bin: bin.to_path_buf(),
                    absolute,
                    source,
                })
            }
            Examined::Folder => {
                return Err(ProgramError::Folder {
                    bin: bin.to_path_buf(),
                    absolute,
                })
            }
            Examined::NotExecutable => {
                return Err(ProgramError::NotExecutable {
                    bin: bin.to_path_buf(),
                    absolute,
                })
            }
        }
    } else {
        search(bin, search_path)?
    };
    check_interpreter(bin, &found, search_path)?;
    Ok(found)
}

/// What a path names, as far as running it goes.
enum Examined {
    Executable,
    Missing,
    Unreadable(io::Error),
    Folder,
    NotExecutable,
}

fn examine(path: &Path) -> Examined {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Examined::Folder,
        Ok(_) if is_executable(path) => Examined::Executable,
        Ok(_) => Examined::NotExecutable,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Examined::Missing
        }
        Err(e) => Examined::Unreadable(e),
    }
}

/// Whether this process may execute `path` (its effective user and group,
/// as `execve` decides; a file system mounted noexec counts).
fn is_executable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: faccessat(2) only reads the NUL-terminated path we own for
    // the duration of the call.
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::X_OK,
            libc::AT_EACCESS,
        ) == 0
    }
}

/// The first executable file named `name` in the folders of `search_path`
/// (an empty entry is the current folder), skipping folders and files that
/// cannot be executed, as `execvp` does.
fn search(name: &Path, search_path: &OsStr) -> Result<PathBuf, ProgramError> {
    let mut not_executable = None;
    for dir in search_path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        match examine(&candidate) {
            Examined::Executable => return Ok(candidate),
            Examined::NotExecutable if not_executable.is_none() => not_executable = Some(candidate),
            _ => {}
        }
    }
    match not_executable {
        Some(absolute) => Err(ProgramError::NotExecutable {
            bin: name.to_path_buf(),
            absolute,
        }),
        None => Err(ProgramError::NotInPath {
            bin: name.to_path_buf(),
            search_path: search_path.to_os_string(),
            here: name.exists(),
        }),
    }
}

/// A script's `#!` line: the interpreter and its one optional argument, as
/// the kernel splits it. None when the file has no such line or cannot be
/// read (then the start itself says what is wrong).
fn shebang(path: &Path) -> Option<(String, Option<String>)> {
    let mut head = Vec::with_capacity(SHEBANG_LEN_MAX);
    File::open(path)
        .ok()?
        .take(SHEBANG_LEN_MAX as u64)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    let (interpreter, argument) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim().to_string()).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    Some((interpreter.to_string(), argument))
}

/// Checks the interpreter of a script: it must be an executable file, and
/// for `#!/usr/bin/env NAME`, NAME must be in PATH.
fn check_interpreter(bin: &Path, found: &Path, search_path: &OsStr) -> Result<(), ProgramError> {
    let Some((interpreter, argument)) = shebang(found) else {
        return Ok(());
    };
    if interpreter.is_empty() {
        return Ok(());
    }
    let problem = |interpreter: String, problem| ProgramError::Interpreter {
        bin: bin.to_path_buf(),
        absolute: std::path::absolute(found).unwrap_or_else(|_| found.to_path_buf()),
        interpreter,
        problem,
    };
    match examine(Path::new(&interpreter)) {
        Examined::Executable => {}
        Examined::Missing => return Err(problem(interpreter, InterpreterProblem::Missing)),
        Examined::Folder => return Err(problem(interpreter, InterpreterProblem::Folder)),
        Examined::NotExecutable => {
            return Err(problem(interpreter, InterpreterProblem::NotExecutable))
        }
        // Let the start say what is wrong.
        Examined::Unreadable(_) => return Ok(()),
    }
    // `env NAME` looks NAME up in PATH; options (-S) and assignments (A=b)
    // are env's business.
    if Path::new(&interpreter).file_name() == Some(OsStr::new("env")) {
        if let Some(name) = argument {
            let plain = !name.starts_with('-') && !name.contains(['=', '/', ' ', '\t']);
            if plain && search(Path::new(&name), search_path).is_err() {
                return Err(problem(name, InterpreterProblem::NotInPath));
            }
        }
    }
    Ok(())
}

/// What to suggest running a script through: its `#!` interpreter when it
/// has one (the name given to env, or the interpreter's path), else python3.
fn interpreter_hint(script: &Path) -> String {
    match shebang(script) {
        Some((interpreter, argument)) if !interpreter.is_empty() => {
            let through_env = Path::new(&interpreter).file_name() == Some(OsStr::new("env"));
            match argument {
                Some(name) if through_env && !name.starts_with('-') => name,
                _ => interpreter,
            }
        }
        _ => "python3".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn path_of(dirs: &[&Path]) -> OsString {
        let joined: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
        OsString::from(joined.join(":"))
    }

    #[test]
    fn a_path_names_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let node = write(dir.path(), "node", "#!/bin/sh\n", 0o755);
        assert_eq!(resolve_in(&node, None).unwrap(), node);
    }

    #[test]
    fn a_missing_path_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nodes/echo.py");
        let e = resolve_in(&missing, None).unwrap_err();
        assert!(matches!(e, ProgramError::Missing { .. }), "{e:?}");
        let message = e.to_string();
        assert!(
            message.contains(&format!("looked for {}", missing.display())),
            "{message}"
        );
        assert!(message.contains("give the path of an executable node program"));
        assert!(matches!(
            resolve_in(Path::new(""), None),
            Err(ProgramError::Empty)
        ));
    }

    #[test]
    fn a_relative_path_is_reported_absolute() {
        let e = resolve_in(Path::new("./no-such-node-program"), None).unwrap_err();
        let ProgramError::Missing { absolute, .. } = e else {
            panic!("{e:?}")
        };
        assert!(absolute.is_absolute(), "{absolute:?}");
    }

    #[test]
    fn a_folder_or_a_file_without_execute_bit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve_in(dir.path(), None).unwrap_err();
        assert!(matches!(e, ProgramError::Folder { .. }), "{e:?}");
        assert!(e.to_string().contains("is a folder, not a program"));

        let script = write(dir.path(), "node.py", "#!/usr/bin/env python3\n", 0o644);
        let e = resolve_in(&script, None).unwrap_err();
        assert!(matches!(e, ProgramError::NotExecutable { .. }), "{e:?}");
        let message = e.to_string();
        assert!(message.contains("chmod +x"), "{message}");
        // The suggested interpreter is the one the #! line names.
        assert!(
            message.contains(&format!("--bin python3 -- {}", script.display())),
            "{message}"
        );
    }

    #[test]
    fn a_bare_name_is_looked_up_in_path_skipping_what_cannot_run() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        // In the first folder: a folder and a plain file of that name.
        fs::create_dir(first.path().join("node")).unwrap();
        write(first.path(), "other", "", 0o644);
        let node = write(second.path(), "node", "#!/bin/sh\n", 0o755);
        let search_path = path_of(&[first.path(), second.path()]);
        assert_eq!(
            resolve_in(Path::new("node"), Some(&search_path)).unwrap(),
            node
        );
        // Only a plain file: not executable, and where it is.
        let e = resolve_in(Path::new("other"), Some(&search_path)).unwrap_err();
        let ProgramError::NotExecutable { absolute, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(absolute, &first.path().join("other"));
        // Nowhere: the message shows the search path.
        let e = resolve_in(Path::new("no-such-node"), Some(&search_path)).unwrap_err();
        assert!(matches!(e, ProgramError::NotInPath { here: false, .. }));
        assert!(e.to_string().contains(&*search_path.to_string_lossy()));
    }

    #[test]
    fn unset_path_searches_the_default_folders() {
        // sh is in /bin on every system this runs on.
        assert_eq!(
            resolve_in(Path::new("sh"), None).unwrap(),
            Path::new("/bin/sh")
        );
    }

    #[test]
    fn a_missing_interpreter_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let script = write(dir.path(), "node", "#!/no/such/interpreter -x\n", 0o755);
        let e = resolve_in(&script, None).unwrap_err();
        let ProgramError::Interpreter {
            interpreter,
            problem,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(interpreter, "/no/such/interpreter");
        assert_eq!(*problem, InterpreterProblem::Missing);
        assert!(e.to_string().contains("correct the #! line"), "{e}");

        let search_path = path_of(&[dir.path()]);
        let script = write(dir.path(), "py", "#!/usr/bin/env no-such-python\n", 0o755);
        let e = resolve_in(&script, Some(&search_path)).unwrap_err();
        assert!(
            matches!(
                &e,
                ProgramError::Interpreter {
                    interpreter,
                    problem: InterpreterProblem::NotInPath,
                    ..
                } if interpreter == "no-such-python"
            ),
            "{e:?}"
        );
        // env's own options are left to env.
        let script = write(dir.path(), "s", "#!/usr/bin/env -S no-such -x\n", 0o755);
        assert!(resolve_in(&script, Some(&search_path)).is_ok());
    }

    #[test]
    fn shebang_is_split_as_the_kernel_does() {
        let dir = tempfile::tempdir().unwrap();
        let script = write(dir.path(), "a", "#! /usr/bin/env  python3 -u \nrest", 0o755);
        assert_eq!(
            shebang(&script),
            Some(("/usr/bin/env".into(), Some("python3 -u".into())))
        );
        let binary = write(dir.path(), "b", "\x7fELF", 0o755);
        assert_eq!(shebang(&binary), None);
    }

    #[test]
    fn only_errors_about_the_file_are_the_programs_fault() {
        let bin = Path::new("./node");
        let fault = |errno| ProgramError::from_exec(bin, bin, io::Error::from_raw_os_error(errno));
        assert!(fault(libc::ENOEXEC).is_ok());
        assert!(fault(libc::EACCES).is_ok());
        assert!(fault(libc::ENOENT).is_ok());
        assert!(fault(libc::EAGAIN).is_err());
        assert!(fault(libc::EMFILE).is_err());
        let message = fault(libc::ENOEXEC).unwrap().to_string();
        assert!(message.contains("a script needs a first line naming its interpreter"));
    }
}
