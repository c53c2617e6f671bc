//! A plain list's job's command key and shown command without its
//! [`JobSpec`](crate::model::job::JobSpec): a stop settles a million jobs that never ran, and
//! the joblog wants each one's key; `--dry-run --resume` shows a million commands.

use std::fmt::Write;

use crate::manifest::layout::{CommandSource, Layout};
use crate::manifest::row::row_id;
use crate::manifest::template::{self, Piece};
use crate::model::job::KeyHasher;

/// The `--command` template's words and pieces, when a plain list's job runs them directly
/// with one item, no working directory and no extra environment (a list's job unless
/// `--shell` or `-n N` says otherwise); `None` for any other: build the job.
fn plain_template(l: &Layout) -> Option<(&[String], &[Piece])> {
    let CommandSource::Template(pieces) = &l.command else {
        return None;
    };
    let plain = l.is_list() && !l.multi() && l.always_direct();
    if !plain || l.cols.cwd.is_some() || l.cols.env.is_some() {
        return None;
    }
    let words = l
        .template_words
        .get_or_init(|| template::split_words(pieces))
        .as_ref()
        .ok()?;
    Some((words, pieces))
}

/// Gives `f` each word of the [`plain_template`]'s job `index` of one item, `item`, filled as
/// the job built from its row would have it.
fn each_word(
    l: &Layout,
    (words, pieces): (&[String], &[Piece]),
    index: usize,
    item: &str,
    f: &mut dyn FnMut(&str),
) {
    // What `Layout::vars` gives a list's job: its item forms, `{#}` and `{id}` (any other
    // name has no value).
    let id = std::cell::OnceCell::new();
    let value = |name: &str, out: &mut String| {
        if template::is_item_form(name) {
            out.push_str(&template::item_form(name, item));
        } else if name == template::JOB_NUMBER {
            let _ = write!(out, "{}", index + 1);
        } else if name == "id" {
            out.push_str(id.get_or_init(|| row_id(l, index, &[item])));
        }
    };
    let mut word = String::new();
    for w in words {
        if template::has_marker(w) {
            word.clear();
            template::fill_marked_with(w, pieces, &mut word, &value);
            f(&word);
        } else {
            f(w);
        }
    }
}

/// The [`command_key`](crate::model::job::command_key) of the plain list's job `index` of one
/// item, `item`, made from the `--command` template's words filled straight into the hasher:
/// the same bytes as the job built from its row would give. `None` where the job must be
/// built ([`plain_template`]).
pub(crate) fn list_command_key(l: &Layout, index: usize, item: &str) -> Option<u64> {
    let template = plain_template(l)?;
    let mut h = KeyHasher::direct(template.0.len());
    each_word(l, template, index, item, &mut |w| h.field(w.as_bytes()));
    Some(h.finish_plain())
}

/// The plain list's job `index` of one item, `item`, as
/// [`CommandLine::display`](crate::model::job::CommandLine::display) shows it, made from the
/// `--command` template's words. `None` where the job must be built ([`plain_template`]).
pub(crate) fn list_display(l: &Layout, index: usize, item: &str) -> Option<String> {
    let template = plain_template(l)?;
    let mut shown = String::new();
    each_word(l, template, index, item, &mut |w| {
        if !shown.is_empty() {
            shown.push(' ');
        }
        shown.push_str(&shell_words::quote(w));
    });
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::problems::Problems;
    use crate::model::config::{InputFormat, ManifestOptions};
    use crate::model::job::command_key;

    /// Items a template may meet: quotes, spaces, shell syntax, paths, braces, non-ASCII.
    const ITEMS: &[u8] = b"a b\nsay \"hi\"\nit's\nback\\slash\n$(x);\ttab\n\xc3\xa9t\xc3\xa9\n,comma\n{}\nx/y.tar.gz\n/\n.hidden\ndir/\ncr\r\n  lead\n\n  \nlast";

    /// Every job's key made both ways: from its template's words, and from the job built
    /// from its row; `fast` says whether the first applies.
    fn both_ways(opts: &ManifestOptions, text: &[u8], fast: bool) {
        let m = crate::manifest::parse("m.txt", text, false, opts).expect("a valid list");
        let layout = Layout::new(vec![String::new()], None, opts, &mut Problems::new(""));
        assert!(m.jobs.len() > 5);
        for i in 0..m.jobs.len() {
            let built = command_key(&m.jobs.get(i));
            assert_eq!(m.jobs.command_key(i), built, "job {i} of {opts:?}");
            let item = &m.jobs.items(i).expect("a list's job")[0];
            let direct = list_command_key(&layout, m.jobs.index(i), item);
            assert_eq!(direct, fast.then_some(built), "{item:?} with {opts:?}");
            // The command as `--dry-run` and the JSON report show it, made the same way.
            let shown = m.jobs.get(i).command.display();
            let direct = list_display(&layout, m.jobs.index(i), item);
            assert_eq!(
                direct.as_ref(),
                fast.then_some(&shown),
                "{item:?} with {opts:?}"
            );
            assert_eq!(m.jobs.command(i), shown);
            let given = m.jobs.shown_command(i).map(std::borrow::Cow::into_owned);
            assert_eq!(given, fast.then_some(shown), "{item:?} with {opts:?}");
        }
    }

    /// A list of lines run with `command`.
    fn lines(command: &str) -> ManifestOptions {
        ManifestOptions {
            input: InputFormat::Lines,
            command_template: Some(command.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_list_jobs_key_is_the_built_jobs() {
        let awkward = "echo {} {.} {/} {//} {/.} x{}y '{}' \"a {} b\" {#} {id} '' \"\" {{}}";
        for command in ["/bin/true", awkward, "{}", "a'{/}'b{#}", "x"] {
            both_ways(&lines(command), ITEMS, true);
            let with_id = ManifestOptions {
                id_template: Some("job-{}".into()),
                ..lines(command)
            };
            both_ways(
                &with_id,
                b"a.1\nb_2\nc-3\nd:4\ne@5\nf+6\nx.tar.gz\n.hidden\n",
                true,
            );
            let null = ManifestOptions {
                input: InputFormat::Null,
                ..lines(command)
            };
            both_ways(&null, &ITEMS.replace_newlines(), true);
            // Other jobs are built.
            let shell = ManifestOptions {
                shell: true,
                ..lines(command)
            };
            both_ways(&shell, ITEMS, false);
            let two = ManifestOptions {
                max_args: 2,
                ..lines(command)
            };
            if ["/bin/true", "{}", "x"].contains(&command) {
                both_ways(&two, ITEMS, false);
            }
        }
        let no_command = ManifestOptions {
            command_template: None,
            ..lines("x")
        };
        both_ways(&no_command, ITEMS, false);
    }

    #[test]
    fn an_item_that_is_not_utf8_is_refused_before_any_key() {
        let opts = lines("echo {}");
        assert!(crate::manifest::parse("m.txt", b"ok\n\xff\xfe\n", false, &opts).is_err());
    }

    trait Nul {
        fn replace_newlines(&self) -> Vec<u8>;
    }

    impl Nul for [u8] {
        /// The items separated by NUL bytes, as `--null` reads them.
        fn replace_newlines(&self) -> Vec<u8> {
            self.iter()
                .map(|&b| if b == b'\n' { 0 } else { b })
                .collect()
        }
    }
}
