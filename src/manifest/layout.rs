//! How every row becomes a job ([`Layout`]): the columns, the setting columns among them,
//! where commands come from, and the `--id` template.

use crate::manifest::problems::Problems;
use crate::manifest::template::{self, Piece, Vars};
use crate::model::config::{InputFormat, ManifestOptions};

/// The columns with a meaning of their own (settings), where they are.
#[derive(Debug, Default)]
pub(crate) struct SettingColumns {
    pub(crate) id: Option<usize>,
    command: Option<usize>,
    pub(crate) shell: Option<usize>,
    pub(crate) timeout: Option<usize>,
    pub(crate) retries: Option<usize>,
    pub(crate) retry_on: Option<usize>,
    pub(crate) after: Option<usize>,
    pub(crate) group: Option<usize>,
    pub(crate) cwd: Option<usize>,
    pub(crate) env: Option<usize>,
}

impl SettingColumns {
    /// Finds the setting columns; with `--vars-only` there are none.
    fn find(columns: &[String], vars_only: bool) -> Self {
        if vars_only {
            return SettingColumns::default();
        }
        let col = |name: &str| columns.iter().position(|c| c == name);
        SettingColumns {
            id: col("id"),
            command: col("command"),
            shell: col("shell"),
            timeout: col("timeout"),
            retries: col("retries"),
            retry_on: col("retry_on"),
            after: col("after"),
            group: col("group"),
            cwd: col("cwd"),
            env: col("env"),
        }
    }
}

/// Where each row's command comes from.
#[derive(Debug)]
pub(crate) enum CommandSource {
    /// `--command`.
    Template(Vec<Piece>),
    /// The `command` column: a template per row.
    Column(usize),
    /// A plain list without `--command`: the item is a shell command, taken as it is.
    Item,
    /// Nowhere (a problem already says why).
    Invalid,
}

/// How every row becomes a job: the columns, the settings among them and the templates.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The header's names (a plain list: one, the empty name of `{}`).
    pub(crate) columns: Vec<String>,
    /// The setting columns.
    pub(crate) cols: SettingColumns,
    /// The variables' names, for messages.
    pub(crate) var_names: Vec<String>,
    /// Where commands come from.
    pub(crate) command: CommandSource,
    /// `--id`, parsed.
    pub(crate) id_template: Option<Vec<Piece>>,
    pub(crate) opts: ManifestOptions,
    /// `--command`'s words in direct mode, split once for every row (see
    /// [`template::split_words`]).
    pub(crate) template_words: std::sync::OnceLock<Result<Vec<String>, String>>,
    /// Which of a plain list's variables ([`template::ITEM_FORMS`], then
    /// [`template::JOB_NUMBER`]) its templates use, found once ([`Layout::list_uses`]): not for
    /// each of the million jobs a stop builds again.
    list_wanted: std::sync::OnceLock<[bool; LIST_VARS]>,
}

/// How many variables a plain list's job may have besides `{id}`: the item forms and `{#}`.
const LIST_VARS: usize = template::ITEM_FORMS.len() + 1;

impl Layout {
    /// Resolves the command source and the `--id` template, reporting their problems.
    pub(crate) fn new(
        columns: Vec<String>,
        header_line: Option<u64>,
        opts: &ManifestOptions,
        problems: &mut Problems<'_>,
    ) -> Self {
        let cols = SettingColumns::find(&columns, opts.vars_only);
        let mut var_names: Vec<String> = columns
            .iter()
            .filter(|c| !c.is_empty() || opts.input != InputFormat::Table)
            .cloned()
            .collect();
        if !columns.iter().any(|c| c == "id") {
            var_names.insert(0, "id".to_string());
        }
        let mut layout = Layout {
            columns,
            cols,
            var_names,
            command: CommandSource::Invalid,
            id_template: None,
            opts: opts.clone(),
            template_words: std::sync::OnceLock::new(),
            list_wanted: std::sync::OnceLock::new(),
        };
        layout.command = layout.command_source(header_line, problems);
        layout.id_template = layout.id_source(header_line, problems);
        layout
    }

    pub(crate) fn is_var(&self, name: &str) -> bool {
        name == "id"
            || self.columns.iter().any(|c| c == name)
            || (self.is_list() && (template::is_item_form(name) || name == template::JOB_NUMBER))
    }

    /// Whether every row's command runs without a shell (no `--shell`, no `shell` column):
    /// `--command` is then checked for shell syntax once, not on every row.
    pub(crate) fn always_direct(&self) -> bool {
        !self.opts.shell && self.cols.shell.is_none()
    }

    /// Reports the shell operators of a `--command` run without a shell; true if any.
    fn direct_problem(&self, pieces: &[Piece], problems: &mut Problems<'_>) -> bool {
        let found = crate::manifest::syntax::scan(pieces);
        match crate::manifest::syntax::operators_problem(&found) {
            Some(m) => {
                problems.option("--command", m);
                true
            }
            None => false,
        }
    }

    /// Whether the input is a plain list (`--lines`, `--null`).
    pub(crate) fn is_list(&self) -> bool {
        self.opts.input != InputFormat::Table
    }

    /// Whether a list's item forms stand for several items each (`-n N`, N > 1).
    pub(crate) fn multi(&self) -> bool {
        self.is_list() && self.opts.items_per_job() > 1
    }

    /// `--command` for a plain list: the item appended as the last argument when the template
    /// has no item form (as xargs and GNU parallel do), and with `-n N` in direct mode every
    /// item form a word of its own.
    fn list_template(&self, mut pieces: Vec<Piece>, problems: &mut Problems<'_>) -> CommandSource {
        let text = self.opts.command_template.as_deref().unwrap_or("");
        if text.replace("{{%}}", "").contains("{%}") {
            problems.option(
                "--command",
                "{%} (GNU parallel's job slot) is not supported: it would make commands, and \
                 with them --resume, depend on timing (expected {#}, the job's number, or \
                 {{%}} for the literal text)"
                    .to_string(),
            );
            return CommandSource::Invalid;
        }
        let uses_item = pieces.iter().any(
            |p| matches!(p, Piece::Var(n) if template::is_item_form(n) || n == template::JOB_NUMBER),
        );
        if !uses_item {
            pieces.push(Piece::Lit(" ".to_string()));
            pieces.push(Piece::Var(String::new()));
        }
        if self.multi() && !self.opts.shell && !template::item_forms_alone(&pieces) {
            problems.option(
                "--command",
                "with -n, {} (and {.}, {/}, {//}, {/.}) inside a longer word cannot stand for \
                 several items (expected each as a word of its own, or --shell)"
                    .to_string(),
            );
            return CommandSource::Invalid;
        }
        CommandSource::Template(pieces)
    }

    fn command_source(
        &self,
        header_line: Option<u64>,
        problems: &mut Problems<'_>,
    ) -> CommandSource {
        let is_var = |n: &str| self.is_var(n);
        match (&self.opts.command_template, self.cols.command) {
            (Some(_), Some(_)) => {
                problems.push(
                    header_line,
                    Some("command"),
                    "present together with --command (expected one or the other)",
                );
                CommandSource::Invalid
            }
            (Some(t), None) => match template::checked(t, &is_var, &self.var_names) {
                Ok(p) if self.always_direct() && self.direct_problem(&p, problems) => {
                    CommandSource::Invalid
                }
                Ok(p) if self.is_list() => self.list_template(p, problems),
                Ok(p) => CommandSource::Template(p),
                Err(message) => {
                    problems.option("--command", message);
                    CommandSource::Invalid
                }
            },
            (None, _) if self.opts.input != InputFormat::Table => CommandSource::Item,
            (None, Some(c)) => CommandSource::Column(c),
            (None, None) if header_line.is_none() => CommandSource::Invalid,
            (None, None) => {
                problems.push(header_line, None, self.no_command_message());
                CommandSource::Invalid
            }
        }
    }

    /// "no 'command' column", with what the header suggests was meant: setting names in
    /// another case (`ID,Command`: did you mean `id,command`?), or a plain list (one column:
    /// `--lines`?).
    fn no_command_message(&self) -> String {
        const SETTINGS: [&str; 9] = [
            "id", "command", "shell", "timeout", "retries", "after", "group", "cwd", "env",
        ];
        let setting = |c: &str| {
            let lower = c.trim().to_ascii_lowercase();
            SETTINGS.contains(&lower.as_str()).then_some(lower)
        };
        let base = "no 'command' column (expected a 'command' column, or the --command option";
        if self
            .columns
            .iter()
            .any(|c| setting(c).as_deref() == Some("command"))
        {
            let fixed: Vec<String> = self
                .columns
                .iter()
                .map(|c| setting(c).unwrap_or_else(|| c.clone()))
                .collect();
            return format!(
                "{base}; column names are case-sensitive: did you mean the header `{}`?)",
                fixed.join(",")
            );
        }
        if self.columns.len() == 1 {
            return format!(
                "{base}; a list of commands or file names, one a line, with no header needs \
                 --lines: did you mean --lines?)"
            );
        }
        format!("{base})")
    }

    fn id_source(
        &self,
        header_line: Option<u64>,
        problems: &mut Problems<'_>,
    ) -> Option<Vec<Piece>> {
        let text = self.opts.id_template.as_ref()?;
        if self.cols.id.is_some() {
            problems.push(
                header_line,
                Some("id"),
                "present together with --id (expected one or the other)",
            );
            return None;
        }
        let is_col = |n: &str| self.columns.iter().any(|c| c == n);
        let known: Vec<String> = self
            .var_names
            .iter()
            .filter(|n| is_col(n))
            .cloned()
            .collect();
        template::checked(text, &is_col, &known)
            .map_err(|m| problems.option("--id", m))
            .ok()
    }

    /// A row's variables: every column, and `id` (the job's id, unless `--vars-only` made a
    /// column named `id` a variable); for a plain list, the item forms of its items and `{#}`
    /// (`number`, the job's 1-based number).
    pub(crate) fn vars<'a>(&'a self, fields: &[&'a str], id: &'a str, number: usize) -> Vars<'a> {
        if self.is_list() {
            return list_vars(fields, id, number, self.list_wanted());
        }
        let mut vars = Vars::with_capacity(self.columns.len() + 1);
        vars.extend(
            self.columns
                .iter()
                .map(String::as_str)
                .zip(fields.iter().map(|f| std::borrow::Cow::Borrowed(*f))),
        );
        if !(self.opts.vars_only && self.columns.iter().any(|c| c == "id")) {
            vars.insert("id", std::borrow::Cow::Borrowed(id));
        }
        vars
    }
}

impl Layout {
    /// [`list_uses`](Self::list_uses) of each of a plain list's variables, in
    /// [`list_vars`]'s order.
    fn list_wanted(&self) -> &[bool; LIST_VARS] {
        self.list_wanted.get_or_init(|| {
            let mut wanted = [false; LIST_VARS];
            let names = template::ITEM_FORMS
                .into_iter()
                .chain([template::JOB_NUMBER]);
            for (w, name) in wanted.iter_mut().zip(names) {
                *w = self.list_uses(name);
            }
            wanted
        })
    }

    /// Whether a plain list's templates (`--command`, `--id`) may use the variable `name`:
    /// only those are made for each job (a stop or `--resume` builds a million).
    fn list_uses(&self, name: &str) -> bool {
        let uses = |t: &[Piece]| t.iter().any(|p| matches!(p, Piece::Var(n) if n == name));
        let templates_only = self.cols.cwd.is_none() && self.cols.env.is_none();
        let command = match &self.command {
            CommandSource::Template(t) => uses(t),
            CommandSource::Item | CommandSource::Invalid => false,
            CommandSource::Column(_) => true,
        };
        !templates_only || command || self.id_template.as_deref().is_some_and(uses)
    }
}

/// The variables of a plain list's job that `wanted` marks (each item form of its items,
/// several items separated by NUL bytes; then `{#}`), and `{id}`.
fn list_vars<'a>(
    items: &[&'a str],
    id: &'a str,
    number: usize,
    wanted: &[bool; LIST_VARS],
) -> Vars<'a> {
    let mut vars = Vars::with_capacity(8);
    let forms = template::ITEM_FORMS.into_iter().zip(wanted);
    for form in forms.filter_map(|(f, &w)| w.then_some(f)) {
        let value = match items {
            [one] => template::item_form(form, one),
            many => std::borrow::Cow::Owned(
                many.iter()
                    .map(|i| template::item_form(form, i))
                    .collect::<Vec<_>>()
                    .join("\0"),
            ),
        };
        vars.insert(form, value);
    }
    if wanted[LIST_VARS - 1] {
        let number = std::borrow::Cow::Owned(number.to_string());
        vars.insert(template::JOB_NUMBER, number);
    }
    vars.insert("id", std::borrow::Cow::Borrowed(id));
    vars
}
