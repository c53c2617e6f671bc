//! Warnings about templates that let a shell re-parse a value, each given once per kind and
//! source ([`Warner`]).

use std::collections::HashSet;

use crate::manifest::layout::{CommandSource, Layout};
use crate::manifest::problems::Row;
use crate::manifest::syntax;
use crate::manifest::template::{self, Piece};
use crate::model::problem::Problem;

/// A warning: whether it is about `--command`, its kind, and where it is.
pub(crate) type Warning = (bool, &'static str, Problem);

/// A placeholder inside quotes of its own in shell mode.
const QUOTED: &str =
    "a placeholder inside quotes of the command's own (\"{x}\" or '{x}'): values are \
     already shell-quoted, so these quotes unquote them again and the shell expands \
     `$(…)` in a value (expected {x} without quotes)";

/// A placeholder in an unquoted here-document's body in shell mode.
const HEREDOC: &str = "a placeholder in the body of a here-document whose delimiter is not quoted \
(cat <<EOF … {x} … EOF): the shell expands `$(…)` in a value there, whatever quotes it has \
(expected a quoted delimiter, <<'EOF', or the value as an argument)";

/// A shell run with `-c` whose script holds a placeholder.
const NESTED: &str =
    "a shell run with -c and a placeholder in its arguments (sh -c '… {x} …'): that \
     shell parses the value again, so `$(…)` in a value runs (expected the value as an \
     argument of its own: sh -c '… \"$1\" …' sh {x}, or --shell)";

/// Unquoted globs in direct mode.
const GLOB: &str = "an unquoted *, ? or [ in a command run without a shell: passed to the program \
     literally, not expanded (expected shell=true or --shell for a glob, or quotes to say it is \
     meant literally)";

/// An unquoted `~` in direct mode.
const TILDE: &str = "an unquoted ~ in a command run without a shell: passed to the program \
     literally, not as the home directory (expected shell=true or --shell, or a full path)";

/// `$VAR` in direct mode.
const EXPANSION: &str = "$VAR, ${…}, $(…) or `…` in a command run without a shell: passed to the \
     program literally, not expanded (expected shell=true or --shell, or single quotes to say \
     it is meant literally)";

/// `$VAR` in an `env` value.
const ENV: &str = "$VAR in an env value: env values are not expanded, so the job gets the text as \
     it is (expected a plain value; for PATH=$PATH:/x use shell=true or --shell with \
     `export PATH=\"$PATH:/x\"; …` in the command, or a wrapper script)";

/// The warnings given so far.
#[derive(Default)]
pub(crate) struct Warner {
    pub(crate) given: Vec<Warning>,
    /// The warnings already given, by origin and kind, so each is given once.
    warned: HashSet<(bool, &'static str)>,
    /// The modes (shell or not) `--command` was checked for warnings in.
    option_checked: HashSet<bool>,
}

impl Warner {
    /// Warns, once per kind and source, about a template that lets a shell re-parse a value.
    pub(crate) fn warn(&mut self, l: &Layout, pieces: &[Piece], shell: bool, row: &Row) {
        let from_option = matches!(l.command, CommandSource::Template(_));
        // `--command` is the same for every row: check it once per mode.
        if from_option && !self.option_checked.insert(shell) {
            return;
        }
        let mut kinds = Vec::new();
        if shell && template::quoted_placeholder(pieces) {
            kinds.push(QUOTED);
        } else if shell && template::heredoc_placeholder(pieces) {
            kinds.push(HEREDOC);
        }
        if !shell {
            if template::nested_shell(pieces) {
                kinds.push(NESTED);
            }
            let found = syntax::scan(pieces);
            for (yes, kind) in [
                (found.glob, GLOB),
                (found.tilde, TILDE),
                (found.expansion, EXPANSION),
            ] {
                if yes {
                    kinds.push(kind);
                }
            }
        }
        for kind in kinds {
            self.give(from_option, kind, row, "command");
        }
    }

    /// Warns, once, that `$VAR` in the `env` column is not expanded.
    pub(crate) fn env_not_expanded(&mut self, row: &Row) {
        self.give(false, ENV, row, "env");
    }

    /// Gives warning `kind` (about `column`) unless given before for this origin.
    fn give(&mut self, from_option: bool, kind: &'static str, row: &Row, column: &str) {
        if !self.warned.insert((from_option, kind)) {
            return;
        }
        let (origin, line, column) = if from_option {
            ("--command".to_string(), None, None)
        } else {
            (
                row.problems.name.to_string(),
                Some(row.line),
                Some(column.to_string()),
            )
        };
        let p = Problem {
            origin,
            line,
            column,
            message: kind.to_string(),
        };
        self.given.push((from_option, kind, p));
    }

    /// Gives `w` (found by a row's own warner) unless one of its kind was given before.
    pub(crate) fn take(&mut self, w: Warning) {
        if self.warned.insert((w.0, w.1)) {
            self.given.push(w);
        }
    }
}
