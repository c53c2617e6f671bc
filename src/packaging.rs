/*!
What batchrun installs besides its binary, generated from the clap definitions of
[`crate::cli`] so it never drifts from the flags: shell completions (`clap_complete`) and a
man page (`clap_mangen`).
*/

use clap::CommandFactory;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "batchrun", &mut out);
    out
}

/// The man page, `batchrun(1)` in roff: the top-level page (synopsis, global options, the
/// subcommands, exit codes), then one options section per subcommand, so every flag of `run`
/// is in the one page.
pub fn man_page() -> Vec<u8> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    let render = |out: &mut Vec<u8>| -> std::io::Result<()> {
        clap_mangen::Man::new(cmd.clone()).render(out)?;
        for sub in cmd
            .get_subcommands()
            .filter(|s| s.get_arguments().next().is_some())
        {
            let heading = format!("Options of batchrun {}", sub.get_name());
            let sub = sub
                .clone()
                .mut_args(move |a| a.help_heading(heading.clone()));
            clap_mangen::Man::new(sub).render_options_section(out)?;
        }
        Ok(())
    };
    render(&mut out).expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_has_every_run_option() {
        let page = String::from_utf8(man_page()).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
        for opt in ["joblog", "on\\-finish", "heartbeat", "report"] {
            assert!(page.contains(opt), "{opt} missing in the man page");
        }
    }
}
