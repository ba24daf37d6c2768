//! `lightcone node NAME [FLAGS]`: one of the reference nodes on
//! stdin/stdout. Each node's flags are its own clap command, taken from
//! `lightcone_nodes` (the one list of nodes, `NAMES`), so `lightcone node
//! NAME --help` lists the node's flags and `lightcone node --help` the
//! nodes; the flags are parsed once, into a `NodeSpec`.

use clap::error::ErrorKind;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use lightcone_nodes::{NodeSpec, SpecError};
use lightcone_runner::exit_code;

/// The node to run, its flags parsed.
#[derive(Debug)]
pub struct NodeArgs {
    spec: NodeSpec,
}

impl Args for NodeArgs {
    fn augment_args(command: Command) -> Command {
        command
            .subcommands(NodeSpec::commands())
            .subcommand_required(true)
            .subcommand_value_name("NAME")
            .subcommand_help_heading("Nodes")
            .disable_help_subcommand(true)
            .after_help("`lightcone node NAME --help` lists the flags of node NAME.")
            // Any other name reaches `from_arg_matches`, which refuses it
            // with the list of nodes.
            .allow_external_subcommands(true)
    }

    fn augment_args_for_update(command: Command) -> Command {
        NodeArgs::augment_args(command)
    }
}

impl FromArgMatches for NodeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<NodeArgs, clap::Error> {
        let (name, node_matches) = matches
            .subcommand()
            .ok_or_else(|| clap::Error::new(ErrorKind::MissingSubcommand))?;
        match NodeSpec::from_matches(name, node_matches) {
            Ok(spec) => Ok(NodeArgs { spec }),
            // With this command's usage, not the whole command line's.
            Err(unknown @ SpecError::UnknownNode { .. }) => {
                let mut command =
                    NodeArgs::augment_args(Command::new("node")).bin_name("lightcone node");
                Err(command.error(ErrorKind::InvalidSubcommand, unknown))
            }
            Err(e) => Err(e.into_clap()),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = NodeArgs::from_arg_matches(matches)?;
        Ok(())
    }
}

pub fn run(args: NodeArgs) -> i32 {
    match lightcone_nodes::run(&args.spec) {
        Ok(()) => exit_code::VALID,
        Err(e) => {
            crate::flags::print_error(&format!("node {}: {e}", args.spec.name()));
            exit_code::WORKBENCH
        }
    }
}
