//! Issue 18, "no silent surprises for shell users": lists that behave like xargs and GNU
//! parallel (the item appended, standard input implied, `{.} {/} {//} {/.} {#}`, `-n N`),
//! shell syntax caught in direct mode, braces that are not placeholders left alone, list
//! failures named by their item, hints for the common mistakes. A comment quoting the issue
//! marks a test that failed before the behaviour it checks was built.

use std::io::Write;
use std::process::Stdio;

use crate::util::{Run, TestEnv};

/// Runs batchrun with `input` piped to its standard input.
fn piped(t: &TestEnv, args: &[&str], input: &[u8]) -> Run {
    let mut child = t
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written on a thread: a large list must not block on a full pipe while batchrun waits.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let r = Run::wait(child, args);
    writer.join().unwrap();
    r
}

/// Runs batchrun with the file `rel` as its standard input.
fn from_file(t: &TestEnv, args: &[&str], rel: &str) -> Run {
    let child = t
        .cmd(args)
        .stdin(std::fs::File::open(t.path(rel)).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Run::wait(child, args)
}

// Issue 18, 1: "`printf 'a.txt\n' | batchrun run --lines - --command 'gzip -k'` runs `gzip -k`
// with no file and reports `succeeded`".
#[test]
fn a_template_without_the_item_gets_it_appended_as_xargs_does() {
    let t = TestEnv::new();
    t.write("a.txt", "A\n");
    t.write("b c.txt", "BC\n");
    let r = piped(
        &t,
        &["run", "--lines", "-", "--command", "gzip -k"],
        b"a.txt\nb c.txt\n",
    );
    r.code(0);
    assert!(t.path("a.txt.gz").exists() && t.path("b c.txt.gz").exists());
    // Shell-quoted under --shell, and `check` shows it; `{id}` alone does not count.
    t.write("l", "x y\n$(touch pwned)\n");
    let r = t.run(&[
        "check",
        "--lines",
        "l",
        "--shell",
        "--command",
        "echo {id}:",
    ]);
    r.code(0);
    r.stdout_has("echo 1: 'x y'")
        .stdout_has("echo 2: '$(touch pwned)'");
    let r = t.run(&["run", "--lines", "l", "--shell", "--command", "echo {id}:"]);
    r.code(0);
    r.stdout_has("1: x y\n").stdout_has("2: $(touch pwned)\n");
    assert!(!t.path("pwned").exists());
    // A template with an item form is left as it is.
    let r = t.run(&["check", "--lines", "l", "--command", "echo {/}"]);
    r.code(0);
    r.stdout_has("echo 'x y'")
        .stdout_has("echo '$(touch pwned)'");
}

// Issue 18, 5: "`batchrun run --lines --command 'wc -l {}'` with data on stdin needs an
// explicit `-`, and the error does not say so".
#[test]
fn a_list_is_read_from_standard_input_when_no_file_is_given() {
    let t = TestEnv::new();
    t.write("a", "1\n2\n");
    let r = piped(&t, &["run", "--lines", "--command", "wc -l"], b"a\n");
    r.code(0);
    r.stdout_has("2 a");
    // A regular file as stdin (`< list`) too, NUL-separated here.
    t.write("list0", "a\0a\0");
    let r = from_file(&t, &["run", "-0", "--command", "wc -l"], "list0");
    r.code(0);
    assert_eq!(r.stdout.matches("2 a").count(), 2, "{}", r.stdout);
    // A terminal or /dev/null is no list: say that one is needed.
    let r = t.run(&["run", "--lines", "--command", "wc -l"]);
    r.code(2);
    r.stderr_has("no list given, and standard input is a terminal or /dev/null");
    // Without --lines, a missing manifest is a usage error too.
    t.run(&["run", "--command", "true"]).code(2);
    // Stdin that gives nothing: as `xargs -r`, exit 0, with a warning -q does not hide.
    let r = piped(
        &t,
        &["run", "-q", "--lines", "--command", "touch ran"],
        b"\n  \n",
    );
    r.code(0);
    r.stderr_has("warning: standard input gave no item");
    assert!(!t.path("ran").exists());
}

#[test]
fn gnu_parallel_replacement_strings() {
    let t = TestEnv::new();
    let r = piped(
        &t,
        &[
            "run",
            "--lines",
            "--keep-order",
            "-j",
            "1",
            "--command",
            "echo {#} {} {.} {/} {//} {/.}",
        ],
        b"d/a.tar.gz\nb.txt\n/x\nc\n",
    );
    r.code(0);
    assert_eq!(
        r.stdout,
        "1 d/a.tar.gz d/a.tar a.tar.gz d a.tar\n2 b.txt b b.txt . b\n3 /x /x x / x\n4 c c c . c\n"
    );
    // `{%}` is not one of them: a worker slot would make commands non-deterministic; it is
    // refused, not passed on literally ({{%}} is the literal).
    t.write("l", "a\n");
    let r = t.run(&["check", "--lines", "l", "--command", "echo {%}"]);
    r.code(2);
    r.stderr_has("{%} (GNU parallel's job slot) is not supported");
    let r = t.run(&["check", "--lines", "l", "--command", "echo {{%}}"]);
    r.code(0);
    r.stdout_has("echo '{%}' a");
}

#[test]
fn max_args_gives_each_job_n_consecutive_items_one_argument_each() {
    let t = TestEnv::new();
    let r = piped(
        &t,
        &[
            "run",
            "--lines",
            "-n",
            "2",
            "--keep-order",
            "--command",
            "printf [%s] {}",
        ],
        b"a b\n\nc\nd\ne\n",
    );
    r.code(0);
    assert_eq!(r.stdout, "[a b][c][d][e]");
    // Ids are the groups' numbers; the last group may be short.
    t.write("l", "a\nb\nc\n");
    let r = t.run(&[
        "check",
        "--lines",
        "l",
        "-n",
        "2",
        "--command",
        "echo {#}: {}",
    ]);
    r.code(0);
    r.stdout_has("1   echo 1: a b").stdout_has("2   echo 2: c");
    // `{#}` is an item form: nothing is appended.
    let r = t.run(&["check", "--lines", "l", "-n", "2", "--command", "echo {#}:"]);
    r.stdout_has("1   echo 1:  ").code(0);
    // Under --shell each item is quoted on its own.
    let r = t.run(&[
        "check",
        "--lines",
        "l",
        "-n",
        "2",
        "--shell",
        "--command",
        "echo",
    ]);
    r.stdout_has("echo a b").code(0);
    // An item form inside a longer word cannot stand for several words in direct mode.
    let r = t.run(&["check", "--lines", "l", "-n", "2", "--command", "echo x{}"]);
    r.code(2);
    r.stderr_has("with -n, {} (and {.}, {/}, {//}, {/.}) inside a longer word");
    for bad in [
        &["check", "l", "-n", "2", "--command", "echo"][..],
        &["check", "--lines", "l", "-n", "0", "--command", "echo"],
        &["check", "--lines", "l", "-n", "2"],
        &[
            "check",
            "--lines",
            "l",
            "-n",
            "2",
            "--id",
            "x{}",
            "--command",
            "echo",
        ],
    ] {
        t.run(bad).code(2);
    }
}

/// The names of the import: spaces, quotes, newlines, leading dashes, non-ASCII.
fn awkward_name(i: usize) -> String {
    match i % 6 {
        0 => format!("-leading dash {i}"),
        1 => format!("sp  ace {i} "),
        2 => format!("quo'te\"s {i}"),
        3 => format!("new\nline {i}"),
        4 => format!("ünïcødé {i} 😀"),
        _ => format!("--{i}"),
    }
}

// Issue 18, "done means": a 20,000-file import through `-0`, appended `{}` and `-n 100` runs
// every file exactly once.
#[test]
fn a_twenty_thousand_file_import_runs_every_file_exactly_once() {
    let t = TestEnv::new();
    std::fs::create_dir(t.path("in")).unwrap();
    std::fs::create_dir(t.path("out")).unwrap();
    let names: Vec<String> = (0..20_000).map(awkward_name).collect();
    let mut list = Vec::new();
    for n in &names {
        std::fs::write(t.path("in").join(n), "").unwrap();
        list.extend_from_slice(n.as_bytes());
        list.push(0);
    }
    // Each job checks its files exist and writes their names, NUL-terminated, to a file of its
    // own (the item arrives as the script's arguments, appended).
    let script = r#"sh -c 'for f; do [ -f "$f" ] || exit 3; done; printf "%s\0" "$@" > "../out/$BATCHRUN_JOB_ID"' sh"#;
    let r = piped(
        &t,
        &[
            "-C",
            "in",
            "run",
            "-0",
            "-n",
            "100",
            "--report",
            "../r.json",
            "--command",
            script,
        ],
        &list,
    );
    r.code(0);
    let report = t.json("r.json");
    assert_eq!(report["counts"]["succeeded"], 200);
    let mut seen: Vec<String> = Vec::new();
    for k in 1..=200 {
        let bytes = std::fs::read(t.path(&format!("out/{k}"))).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let items: Vec<&str> = text.strip_suffix('\0').unwrap().split('\0').collect();
        assert_eq!(items.len(), 100, "job {k}");
        seen.extend(items.into_iter().map(str::to_string));
    }
    // In list order, each exactly once.
    assert_eq!(seen, names);
}

// Issue 18, 3: "An awk program (`awk '{print $2}'`), `${HOME}` in a `--shell` template, or JSON
// in a command is rejected: "placeholder {print $2} names no column"".
#[test]
fn braces_that_are_not_placeholders_are_text() {
    let t = TestEnv::new();
    t.write("data.txt", "a b c\n");
    t.write(
        "m.csv",
        "id,command,my col\n\
         awk,\"awk '{print $2}' data.txt\",x\n\
         json,\"printf %s '{\"\"a\"\": {\"\"b\"\": 1}}'\",x\n\
         spaced,echo {my col} {{id}},v w\n",
    );
    let r = t.run(&["run", "--keep-order", "-j", "1", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "b\n{\"a\": {\"b\": 1}}v w {id}\n");
    // `${…}` is the shell's, under --shell.
    t.write("l", "item\n");
    let r = t.run(&[
        "run",
        "--lines",
        "l",
        "--shell",
        "--command",
        "echo ${HOME:+home} {}",
    ]);
    r.code(0);
    r.stdout_has("home item\n");
}

#[test]
fn a_placeholder_naming_no_column_shows_both_ways_out() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command,name,month\na,echo {nmae},x,y\n");
    let r = t.run(&["check", "m.csv"]);
    r.code(2);
    r.stderr_has(
        "m.csv:2: column 'command': placeholder {nmae} names no column (expected a column, \
         nearest first: {name}, {id}, {command}, {month}; or {{nmae}} for literal braces)",
    );
}

// Issue 18, 2: "A command cell `echo hi > f` (direct mode) prints `hi > f` and succeeds".
#[test]
fn shell_syntax_in_direct_mode_is_an_error_and_globs_a_warning() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\n\
         redirect,echo hi > f\n\
         pipe,echo hi | tr a-z A-Z\n\
         and,true && touch ran\n\
         seq,echo a; touch ran\n\
         fd,ls nothing 2>/dev/null\n\
         quoted,echo '>' \"|\" \\; a'&&'b\n\
         glob,ls *.csv ~/x $HOME\n",
    );
    let r = t.run(&["run", "m.csv"]);
    r.code(2);
    for (line, words) in [
        (2, "'>'"),
        (3, "'|'"),
        (4, "'&&'"),
        (5, "'a;'"),
        (6, "'2>/dev/null'"),
    ] {
        r.stderr_has(&format!(
            "m.csv:{line}: column 'command': shell syntax {words} in a command run without a shell"
        ));
    }
    r.stderr_has("(expected shell=true or --shell to run it through /bin/sh, or quotes around it to pass it literally)");
    r.stderr_has("batchrun: 5 problems in m.csv; nothing was run");
    // One warning of each kind, once.
    r.stderr_has("an unquoted *, ? or [ in a command run without a shell");
    r.stderr_has("an unquoted ~ in a command run without a shell");
    assert_eq!(r.stderr.matches("$VAR, ${…}").count(), 1, "{}", r.stderr);
    assert!(!t.path("f").exists() && !t.path("ran").exists());
    // --command is checked once, not on every row.
    t.write("l", "a\nb\n");
    let r = t.run(&["check", "--lines", "l", "--command", "echo {} >> log"]);
    r.code(2);
    assert_eq!(
        r.stderr.matches("shell syntax '>>'").count(),
        1,
        "{}",
        r.stderr
    );
    // With --shell it is what it looks like.
    let r = t.run(&[
        "run",
        "--lines",
        "l",
        "--shell",
        "--command",
        "echo {} >> log",
    ]);
    r.code(0);
    let log = t.read("log");
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["a", "b"]);
}

// Issue 18, 4: "With a plain list, a failure is named by its row number: the summary says
// `failed 20777`, the Markdown heading `` `11` ``".
#[test]
fn list_failures_are_named_by_their_item() {
    let t = TestEnv::new();
    std::fs::create_dir(t.path("in")).unwrap();
    t.write("in/ok", "");
    let long = format!("in/{}", "x".repeat(100));
    let list = format!("in/ok\nin/a b.txt\nin/new\\nline\n{long}\n");
    t.write("l", &list);
    let r = t.run(&[
        "run",
        "--lines",
        "l",
        "--report",
        "r.md",
        "--report",
        "r.xml",
        "--joblog",
        "j.csv",
        "--command",
        "test -e",
    ]);
    r.code(1);
    r.stderr_has("batchrun: failed 2 (in/a b.txt): exit status 1");
    r.stderr_has(&format!(
        "batchrun: failed 4 (in/{}…{}): exit status 1",
        "x".repeat(26),
        "x".repeat(30)
    ));
    assert!(t.read("r.md").contains("### `2` (in/a b.txt) — failed"));
    assert!(t
        .read("r.xml")
        .contains("<testcase name=\"2 (in/a b.txt)\""));
    // The joblog keeps its 8 columns and the id alone.
    let joblog = t.read("j.csv");
    assert!(
        joblog.lines().all(|l| l.split(',').count() == 8),
        "{joblog}"
    );
    assert!(
        joblog.lines().any(|l| l.starts_with("2,failed,")),
        "{joblog}"
    );
    // With -n, the first and last items and how many.
    let r = t.run(&["run", "--lines", "l", "-n", "3", "--command", "false"]);
    r.stderr_has("batchrun: failed 1 (in/ok … in/new\\nline, 3 items): exit status 1");
}

// Issue 18, 5: "a plain command list without `--lines` gives "no 'command' column" without
// suggesting `--lines`; a header `ID,Command` is rejected without a "did you mean
// `id,command`"; with `-C proj` a missing manifest does not say it was looked for in `proj/`;
// `PATH=$PATH:/x` in the `env` column is taken literally".
#[test]
fn common_mistakes_get_a_hint() {
    let t = TestEnv::new();
    t.write("cmds.txt", "echo a\necho b\n");
    let r = t.run(&["check", "cmds.txt"]);
    r.code(2);
    r.stderr_has("did you mean --lines?");
    t.write("m.csv", "ID,Command,month\na,true,x\n");
    let r = t.run(&["check", "m.csv"]);
    r.code(2);
    r.stderr_has("column names are case-sensitive: did you mean the header `id,command,month`?");
    std::fs::create_dir(t.path("proj")).unwrap();
    let r = t.run(&["-C", "proj", "run", "nightly.csv"]);
    r.code(2);
    r.stderr_has("cannot read manifest nightly.csv (looked for proj/nightly.csv)");
    // Warned (not hidden by the job's failure), never expanded.
    t.write(
        "e.csv",
        "id,command,env\na,sh -c 'printf %s \"$X\"',X=$HOME/x\n",
    );
    let r = t.run(&["run", "e.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "$HOME/x");
    r.stderr_has("e.csv:2: column 'env': $VAR in an env value: env values are not expanded");
}

/// A pseudo-terminal: (controller, the terminal side as a file for a child's stderr).
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two descriptors it opened into the integers given; the null
    // pointers ask for no name, settings or size.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0);
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    unsafe {
        (
            std::fs::File::from_raw_fd(controller),
            std::fs::File::from_raw_fd(terminal),
        )
    }
}

// Issue 18, 6: "the progress bar is left on screen, stale, after Ctrl+C".
#[test]
fn the_progress_bar_is_cleared_before_the_summary_after_ctrl_c() {
    let t = TestEnv::new();
    let rows: String = (0..4)
        .map(|i| format!("j{i},touch started{i}; while [ ! -e go ]; do sleep 0.05; done\n"))
        .collect();
    t.write("m.csv", format!("id,command\n{rows}"));
    let (mut controller, terminal) = pty();
    let mut child = t
        .cmd(&["run", "-j", "2", "--progress", "--shell", "m.csv"])
        .stderr(terminal)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    t.wait_for_files("started", 2);
    // Read the terminal until batchrun has exited and closed it; say when the interruption
    // notice is there.
    let (noticed_tx, noticed) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut controller, &mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&all).contains("starting no new jobs") {
                let _ = noticed_tx.send(());
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    // Stop: nothing new starts; the running jobs finish once they may.
    crate::util::kill(child.id(), libc::SIGINT);
    noticed.recv().unwrap();
    t.write("go", "");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let screen = reader.join().unwrap();
    let summary = screen.rfind("4 jobs in").expect(&screen);
    let bar = screen[..summary].rfind("done,").expect(&screen);
    // Between the bar's last drawing and the summary, the bar's line is erased.
    assert!(screen[bar..summary].contains("\x1b[2K"), "{screen:?}");
}

// Issue 18, 6: "`--output-dir` writes empty `.out`/`.err` files for every job".
#[test]
fn no_empty_output_files_and_stale_ones_are_removed() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\nquiet,true\nspeaks,echo hi\ncomplains,sh -c 'echo oops >&2'\n",
    );
    // Stale files of an earlier run, for jobs that now write nothing.
    std::fs::create_dir(t.path("out")).unwrap();
    t.write("out/quiet.out", "stale");
    t.write("out/speaks.err", "stale");
    t.run(&["run", "--output-dir", "out", "m.csv"]).code(0);
    let mut files: Vec<String> = std::fs::read_dir(t.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["complains.err", "speaks.out"]);
    assert_eq!(t.read("out/speaks.out"), "hi\n");
}

// Issue 18, 6: "the man page's SYNOPSIS shows `[-C ]` without `DIR`"; "README's man-page recipe
// installs where `man` does not look unless `~/.local/bin` is on `PATH`".
#[test]
fn the_man_page_renders_and_the_documented_install_is_found_by_man() {
    let t = TestEnv::new();
    let page = t.run(&["man"]);
    page.code(0);
    let Ok(man) = which("man") else {
        eprintln!("skipped: `man` is not installed, so the page cannot be rendered here");
        return;
    };
    // The README's recipe, with the test's directory as HOME: next to ~/.cargo/bin, which is
    // on PATH after `cargo install`.
    let home = t.path("home");
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::fs::create_dir_all(home.join(".cargo/share/man/man1")).unwrap();
    let installed = home.join(".cargo/share/man/man1/batchrun.1");
    std::fs::write(&installed, &page.stdout).unwrap();
    let path = format!("{}:/usr/bin:/bin", home.join(".cargo/bin").display());
    let man_cmd = |args: &[&str]| {
        let out = std::process::Command::new(&man)
            .args(args)
            .env("HOME", &home)
            .env("PATH", &path)
            .env("MANWIDTH", "100")
            .env_remove("MANPATH")
            .output()
            .unwrap();
        assert!(out.status.success(), "man {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        man_cmd(&["-w", "batchrun"]).trim(),
        installed.display().to_string()
    );
    let text = man_cmd(&["-P", "cat", "-l", installed.to_str().unwrap()]);
    for needle in [
        "batchrun [-C DIR]",
        "MANIFEST",
        "EXIT STATUS",
        "124",
        "EXAMPLES",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}

/// The path of a program on PATH.
fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

/// The `run:` commands of a GitHub Actions workflow that call batchrun (folded `>-` blocks
/// joined), in order.
fn workflow_commands(yml: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut lines = yml.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line
            .trim_start()
            .strip_prefix("- run:")
            .or_else(|| line.trim_start().strip_prefix("run:"))
        else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let command = if rest.trim() == ">-" {
            let mut parts = Vec::new();
            while let Some(next) = lines.next_if(|l| l.len() - l.trim_start().len() > indent + 2) {
                parts.push(next.trim().to_string());
            }
            parts.join(" ")
        } else {
            rest.trim().to_string()
        };
        if command.starts_with("batchrun") {
            commands.push(command);
        }
    }
    commands
}

// Issue 18, 6: "the GitHub Actions example (`nightly-shards.yml`) runs `data/nightly.csv` from
// the repository root, so no job can start (`6 start failed, 1 skipped`)".
#[test]
fn the_github_actions_example_runs_the_demo() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let yml =
        std::fs::read_to_string(repo.join("scripts/github-actions/nightly-shards.yml")).unwrap();
    let commands = workflow_commands(&yml);
    assert_eq!(commands.len(), 2, "{commands:?}");
    // A checkout: the demo's data directory.
    let t = TestEnv::new();
    std::fs::create_dir_all(t.path("data/out")).unwrap();
    for e in std::fs::read_dir(repo.join("data")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), t.path("data").join(e.file_name())).unwrap();
        }
    }
    let bin_dir = std::path::Path::new(crate::util::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sh = |command: &str| {
        std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(t.dir.path())
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for k in 1..=4 {
        // The demo has a failing and a timing-out job by design: exit 0 or 1, never 2.
        let out = sh(&commands[0].replace("${{ matrix.shard }}", &k.to_string()));
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "shard {k}: {out:?}"
        );
    }
    let out = sh(&commands[1]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let merged = t.read("merged.md");
    for line in [
        "| succeeded | 5 |",
        "| start_failed | 0 |",
        "| skipped | 0 |",
    ] {
        assert!(merged.contains(line), "{line} missing in:\n{merged}");
    }
    assert!(t.read("merged.xml").contains("report-eu"));
}
