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
    out.extend_from_slice(SYNOPSIS.as_bytes());
    man.render_description_section(out)?;
    out.extend_from_slice(MANIFEST.as_bytes());
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
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    out.extend_from_slice(EXAMPLES.as_bytes());
    man.render_version_section(out)
}

/// The synopsis, written out: clap's leaves `-C` without its `DIR`.
const SYNOPSIS: &str = r"
.SH SYNOPSIS
\fBbatchrun\fR [\fB\-C\fR \fIDIR\fR] [\fB\-v\fR]... \fBrun\fR [\fIOPTIONS\fR] [\fIMANIFEST\fR]
.br
\fBbatchrun\fR [\fB\-C\fR \fIDIR\fR] [\fB\-v\fR]... \fBcheck\fR [\fIOPTIONS\fR] [\fIMANIFEST\fR]
.br
\fBbatchrun\fR [\fB\-C\fR \fIDIR\fR] \fBmerge\fR [\fB\-\-report\fR \fIFILE\fR]... [\fB\-\-manifest\fR \fIFILE\fR] \fIREPORT.json\fR...
.br
\fBbatchrun completions\fR \fISHELL\fR | \fBbatchrun man\fR | \fBbatchrun \-\-help\fR | \fBbatchrun \-\-version\fR
";

/// The manifest's columns.
const MANIFEST: &str = r"
.SH MANIFEST
CSV with a header row (\fI.tsv\fR: tab\-separated); \fB\-\fR reads standard input. With
\fB\-\-lines\fR or \fB\-0\fR, a plain list instead: one item per line (or NUL\-separated).
.TP
\fBid\fR
unique job name (letters, digits and . _ \- : @ +); default: the row number
.TP
\fBcommand\fR
the command line, split with POSIX shell quoting and run directly, without a shell (shell
operators such as > | && ; are errors there); required unless \fB\-\-command\fR is given
.TP
\fBshell\fR
true/false: run the command with /bin/sh \-c
.TP
\fBtimeout\fR, \fBretries\fR
per\-job time limit (250ms, 30s, 5m, 1h30m, or bare seconds) and extra attempts
.TP
\fBafter\fR
ids, separated by spaces, that must succeed first
.TP
\fBgroup\fR
concurrency group, capped with \fB\-\-limit\fR \fIGROUP=N\fR
.TP
\fBcwd\fR, \fBenv\fR
working directory; extra environment as KEY=VALUE words (values are not expanded)
.TP
anything else
a variable: \fB{name}\fR is replaced by the row's value; \fB{{\fR and \fB}}\fR are literal braces,
and braces that are no placeholder (\fB${HOME}\fR, \fB{print $2}\fR) are text. In a list,
\fB{}\fR is the item (appended when the template has no item form), \fB{.}\fR without
extension, \fB{/}\fR basename, \fB{//}\fR dirname, \fB{/.}\fR basename without extension,
\fB{#}\fR the job's number.
";

/// The exit codes, one per paragraph.
const EXIT_STATUS: &str = r#"
.SH "EXIT STATUS"
.TP
\fB0\fR
every job succeeded (or was resumed)
.TP
\fB1\fR
at least one job failed, timed out, could not start or was skipped
.TP
\fB2\fR
usage error or invalid manifest: nothing ran
.TP
\fB3\fR
batchrun itself failed (cannot write the report or joblog)
.TP
\fB75\fR
\fB\-\-lock\fR is held by another run
.TP
\fB124\fR
\fB\-\-deadline\fR reached
.TP
\fB130\fR
interrupted by a signal
.PP
When several apply: 130, then 124, then 1.
"#;

/// Examples.
const EXAMPLES: &str = r"
.SH EXAMPLES
Run a manifest from its directory, with reports:
.PP
.nf
    batchrun \-C data run nightly.csv \-\-report out/report.json \-\-report out/report.md
.fi
.PP
From cron: quiet unless something failed, locked, resumable:
.PP
.nf
    batchrun run \-q \-\-lock /run/lock/nightly.lock \-\-joblog log.csv \-\-resume nightly.csv
.fi
.PP
As xargs: each file appended to the command, 100 per job:
.PP
.nf
    find in \-name '*.csv' \-print0 | batchrun run \-0 \-n 100 \-\-command 'gzip \-k'
.fi
.PP
Check a manifest and show the plan, running nothing:
.PP
.nf
    batchrun check nightly.csv
.fi
";

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
            "\\fB\\-C\\fR \\fIDIR\\fR",
            ".SH MANIFEST",
            "\\fBretries\\fR",
            "\\fB124\\fR",
            ".SH EXAMPLES",
        ] {
            assert!(page.contains(opt), "{opt} missing in the man page");
        }
        // In the synopsis and the global options, not again for each subcommand.
        assert_eq!(page.matches("\\-\\-help").count(), 2, "{page}");
        assert_eq!(roff_text(".x -y \\"), "\\&.x \\-y \\e");
    }
}
