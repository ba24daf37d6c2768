//! Reference nodes, one per workload, built on the SDK. They are what
//! `lightcone test` runs when no `--bin` is given (as `lightcone node NAME`),
//! and they are the worked examples for people writing their own.

pub mod broadcast;
pub mod echo;
pub mod unique_ids;

/// The reference nodes by workload name.
pub const NAMES: &[&str] = &["echo", "unique-ids", "broadcast"];

/// Why a reference node could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("there is no reference node {name:?}; the reference nodes are {}", NAMES.join(", "))]
    UnknownNode { name: String },
    #[error("bad argument for node {name}: {message}")]
    BadArgument { name: String, message: String },
    #[error(transparent)]
    Stdio(#[from] lightcone_sdk::StdioError),
}

/// Runs the reference node `name` on stdin/stdout until stdin closes.
/// `args` are the node's own options (for example `--gossip-ms 50`).
pub fn run(name: &str, args: &[String]) -> Result<(), RunError> {
    let no_options = || match args.first() {
        Some(arg) => Err(RunError::BadArgument {
            name: name.to_string(),
            message: format!("it takes no options, but was given {arg:?}"),
        }),
        None => Ok(()),
    };
    match name {
        "echo" => {
            no_options()?;
            Ok(lightcone_sdk::run_stdio(echo::Echo)?)
        }
        "unique-ids" => {
            no_options()?;
            Ok(lightcone_sdk::run_stdio(unique_ids::UniqueIds::default())?)
        }
        "broadcast" => {
            let options =
                broadcast::Options::parse(args).map_err(|message| RunError::BadArgument {
                    name: name.to_string(),
                    message,
                })?;
            Ok(lightcone_sdk::run_stdio(broadcast::Broadcast::new(
                options,
            ))?)
        }
        _ => Err(RunError::UnknownNode {
            name: name.to_string(),
        }),
    }
}
