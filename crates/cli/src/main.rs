//! `rnnplay`: the native command line and test harness.

mod devices;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Train recurrent networks on the GPU (wgpu) or the CPU reference backend.
#[derive(Parser)]
#[command(name = "rnnplay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the GPU adapters wgpu can see, with their key limits, and the backend that
    /// RNNPLAY_BACKEND selects.
    Devices {
        /// Print one JSON object per adapter instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Devices { json } => devices::run(json),
    }
}
