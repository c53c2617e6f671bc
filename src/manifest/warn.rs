//! Warnings about templates that let a shell re-parse a value, each given once per kind and
//! source ([`Warner`]).

use std::collections::HashSet;

use crate::manifest::layout::{CommandSource, Layout};
use crate::manifest::problems::Row;
use crate::manifest::template::{self, Piece};
use crate::model::problem::Problem;

/// A warning: whether it is about `--command`, its kind, and where it is.
pub(crate) type Warning = (bool, &'static str, Problem);

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
        let kind = if shell && template::quoted_placeholder(pieces) {
            "a placeholder inside quotes of the command's own (\"{x}\" or '{x}'): values are \
             already shell-quoted, so these quotes unquote them again and the shell expands \
             `$(…)` in a value (expected {x} without quotes)"
        } else if shell && template::heredoc_placeholder(pieces) {
            "a placeholder in the body of a here-document whose delimiter is not quoted \
             (cat <<EOF … {x} … EOF): the shell expands `$(…)` in a value there, whatever \
             quotes it has (expected a quoted delimiter, <<'EOF', or the value as an argument)"
        } else if !shell && template::nested_shell(pieces) {
            "a shell run with -c and a placeholder in its arguments (sh -c '… {x} …'): that \
             shell parses the value again, so `$(…)` in a value runs (expected the value as an \
             argument of its own: sh -c '… \"$1\" …' sh {x}, or --shell)"
        } else {
            return;
        };
        if !self.warned.insert((from_option, kind)) {
            return;
        }
        let (origin, line, column) = if from_option {
            ("--command".to_string(), None, None)
        } else {
            (
                row.problems.name.to_string(),
                Some(row.line),
                Some("command".to_string()),
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
