/*!
What batchrun installs besides its binary, generated from the clap definitions of
[`crate::cli`] so it never drifts from the flags: shell completions (`clap_complete`) and a
man page (`clap_mangen`).
*/

/// The completion script for `shell`.
pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "batchrun", &mut out);
    out
}

/// The man page, `batchrun(1)` in roff: name, synopsis, description and global options, then
/// for each subcommand its usage and options (so every flag of `run` is in the one page), then
/// the exit status.
pub fn man_page(mut cmd: clap::Command) -> Vec<u8> {
    cmd.build();
    let mut out = Vec::new();
    render_man(&cmd, &mut out).expect("writing to a Vec cannot fail");
    out
}

fn render_man(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Write;
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("batchrun {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(out, "{}", roff_text(&about))?;
        let usage = sub.clone().bin_name(&name).render_usage().to_string();
        writeln!(
            out,
            ".PP\n{}",
            roff_text(usage.trim_start_matches("Usage: "))
        )?;
        // The sub's own options only: the global ones and --help are on the page already.
        let heading = format!("{name} options");
        let own = sub.clone().mut_args(move |a| {
            if a.is_global_set() || a.get_id() == "help" {
                a.hide(true)
            } else {
                a.help_heading(heading.clone())
            }
        });
        if own.get_arguments().any(|a| !a.is_hide_set()) {
            clap_mangen::Man::new(own).render_options_section(out)?;
        }
    }
    if let Some(exit) = cmd.get_after_help() {
        writeln!(out, ".SH \"EXIT STATUS\"\n{}", roff_text(&exit.to_string()))?;
    }
    man.render_version_section(out)
}

/// Plain text as a roff paragraph: backslashes and hyphens escaped, no line starting with a
/// control character.
fn roff_text(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_has_every_run_option() {
        use clap::CommandFactory;
        let page = String::from_utf8(man_page(crate::cli::Cli::command())).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
        for opt in [
            "joblog",
            "on\\-finish",
            "heartbeat",
            "report",
            "EXIT STATUS",
        ] {
            assert!(page.contains(opt), "{opt} missing in the man page");
        }
        // In the synopsis and the global options, not again for each subcommand.
        assert_eq!(page.matches("\\-\\-help").count(), 2, "{page}");
        assert_eq!(roff_text(".x -y \\"), "\\&.x \\-y \\e");
    }
}
