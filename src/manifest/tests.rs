//! Tests of the manifest: rows to jobs, every problem reported, plain lists, templates and
//! options, warnings, the size limit, and rows read again.

use super::*;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::job::CommandLine;
use crate::util::duration::parse_duration;

fn parse_ok(text: &str) -> Manifest {
    parse("m.csv", text.as_bytes(), false, &ManifestOptions::default())
        .unwrap_or_else(|p| panic!("{p:?}"))
}

fn problems(text: &str) -> Vec<String> {
    parse("m.csv", text.as_bytes(), false, &ManifestOptions::default())
        .unwrap_err()
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn basic_rows_bom_crlf_comments_blank_lines() {
    let m = parse_ok(
        "\u{feff}id,command\r\n# a comment\r\n\r\na,echo hi\r\nb,\"printf '%s' 'x y'\"\r\n",
    );
    assert_eq!(m.jobs.len(), 2);
    assert_eq!(m.jobs.get(0).id, "a");
    assert_eq!(m.jobs.get(0).line, 4);
    assert_eq!(
        m.jobs.get(1).command,
        CommandLine::Direct(vec!["printf".into(), "%s".into(), "x y".into()])
    );
}

#[test]
fn ids_default_to_row_numbers() {
    let m = parse_ok("command\ntrue\nfalse\n");
    assert_eq!(m.jobs.ids().collect::<Vec<_>>(), ["1", "2"]);
}

#[test]
fn placeholders_direct_mode_never_split() {
    let m = parse_ok("id,file,command\nx,a b;$(rm -rf /),echo {file} pre{id}post {{lit}}\n");
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Direct(vec![
            "echo".into(),
            "a b;$(rm -rf /)".into(),
            "prexpost".into(),
            "{lit}".into()
        ])
    );
}

#[test]
fn placeholders_shell_mode_are_quoted() {
    let m = parse_ok("id,file,shell,command\nx,'; touch pwned',true,cat {file}\n");
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Shell("cat ''\\''; touch pwned'\\'''".into())
    );
}

#[test]
fn every_problem_is_reported() {
    let p = problems(
        "id,command,timeout,retries,shell\n\
         a,true,5x,1,true\n\
         a,true,1s,-1,maybe\n\
         b c,,1s,1,no\n\
         d,echo {nope},,,\n\
         e,true\n",
    );
    let joined = p.join("\n");
    assert!(
        joined.contains("m.csv:2: column 'timeout': '5x' is not a duration"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:3: column 'id': duplicate id 'a'"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:3: column 'retries': '-1' is not a whole number"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:3: column 'shell': 'maybe' is not a boolean"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:4: column 'id': id 'b c' contains ' '"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:4: column 'command': empty command"),
        "{joined}"
    );
    assert!(
        joined.contains("m.csv:5: column 'command': placeholder {nope} names no column"),
        "{joined}"
    );
    assert!(joined.contains("m.csv:6: 2 fields (expected 5"), "{joined}");
    assert_eq!(p.len(), 8, "{joined}");
}

#[test]
fn unbalanced_quote_and_missing_command_column() {
    let p = problems("id,command\na,\"echo hi\nb,true\n");
    assert!(p[0].contains("m.csv:2: unbalanced quote"), "{p:?}");
    let p = problems("id,cmd\na,true\n");
    assert_eq!(
        p,
        ["m.csv:1: no 'command' column (expected a 'command' column, or the --command option)"]
    );
}

/// A comment after the last record is not part of it: a quote in the comment does not make a
/// well-formed last record look unbalanced (a table with quotes is read by the csv reader).
#[test]
fn a_quote_in_a_comment_after_the_last_record_is_not_unbalanced() {
    for (text, jobs) in [
        (
            "id,command\na,\"echo \"\"hi\"\"\"\nb,/bin/true\n# one \" quote\n",
            2,
        ),
        (
            "id,command\na,\"echo x\"\n# one \" quote\nb,/bin/true\n# two \" quotes\"\"\n",
            2,
        ),
        ("id,command\na,\"echo x\"\n\n# one \" quote\n\n", 1),
    ] {
        assert_eq!(parse_ok(text).jobs.len(), jobs, "{text:?}");
    }
    // A last record whose quote never closes is still found, comments after it or not.
    let p = problems("id,command\na,true\nb,\"echo hi\n# a comment\n");
    assert!(p[0].contains("m.csv:3: unbalanced quote"), "{p:?}");
}

#[test]
fn invalid_utf8_names_the_column() {
    let p = parse(
        "m.csv",
        b"id,command\na,echo \xff\n",
        false,
        &ManifestOptions::default(),
    )
    .unwrap_err();
    assert_eq!(p[0].line, Some(2));
    assert_eq!(p[0].column.as_deref(), Some("command"));
}

#[test]
fn tsv_is_tab_separated_and_unquoted() {
    let m = parse(
        "m.tsv",
        b"id\tcommand\na\techo \"x\ty\"\n",
        true,
        &ManifestOptions::default(),
    );
    // A tab inside quotes still separates fields in TSV.
    assert!(m.is_err());
    let m = parse(
        "m.tsv",
        b"id\tcommand\na\techo 'x, y'\n",
        true,
        &ManifestOptions::default(),
    )
    .unwrap();
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Direct(vec!["echo".into(), "x, y".into()])
    );
}

#[test]
fn command_template_option() {
    let opts = ManifestOptions {
        command_template: Some("load --table {table} {file}".into()),
        ..Default::default()
    };
    let m = parse("m.csv", b"file,table\na.csv,sales\n", false, &opts).unwrap();
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Direct(vec![
            "load".into(),
            "--table".into(),
            "sales".into(),
            "a.csv".into()
        ])
    );
    let p = parse("m.csv", b"command,file\ntrue,a\n", false, &opts).unwrap_err();
    assert!(p[0]
        .to_string()
        .contains("column 'command': present together with --command"));
}

#[test]
fn env_cwd_and_defaults() {
    let opts = ManifestOptions {
        default_timeout: Some(Duration::from_secs(9)),
        default_retries: 2,
        ..Default::default()
    };
    let m = parse(
        "m.csv",
        b"id,command,env,cwd,timeout,after,group\nr,true,MONTH=2026-11 'TITLE=Sales {id}',/tmp/{id},,a b,db\n",
        false,
        &opts,
    )
    .unwrap();
    let j = &m.jobs.get(0);
    assert_eq!(
        j.env,
        [
            ("MONTH".into(), "2026-11".into()),
            ("TITLE".into(), "Sales r".into())
        ]
    );
    assert_eq!(j.cwd, Some(PathBuf::from("/tmp/r")));
    assert_eq!(j.timeout, Some(Duration::from_secs(9)));
    assert_eq!(j.retries, 2);
    assert_eq!(j.after, ["a", "b"]);
    assert_eq!(j.group.as_deref(), Some("db"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("soon").is_err());
}

#[test]
fn zero_jobs_is_valid() {
    assert!(parse_ok("id,command\n").jobs.is_empty());
}

fn with(opts: ManifestOptions, text: &[u8]) -> Result<Manifest, Vec<String>> {
    parse("m.txt", text, false, &opts).map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
}

#[test]
fn plain_lists() {
    let lines = ManifestOptions {
        input: InputFormat::Lines,
        command_template: Some("wc -l {} x{id}".into()),
        ..Default::default()
    };
    let m = with(lines.clone(), b"a b.csv\r\n\n  \n$(x);.csv\n").unwrap();
    assert_eq!(
        m.jobs.iter().map(|j| j.command.clone()).collect::<Vec<_>>(),
        [
            CommandLine::Direct(vec![
                "wc".into(),
                "-l".into(),
                "a b.csv".into(),
                "x1".into()
            ]),
            CommandLine::Direct(vec![
                "wc".into(),
                "-l".into(),
                "$(x);.csv".into(),
                "x2".into()
            ]),
        ]
    );
    assert_eq!((m.jobs.get(1).line, m.ids_from_rows), (4, true));
    let shell = ManifestOptions {
        shell: true,
        ..lines.clone()
    };
    let m = with(shell, b"it's\n").unwrap();
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Shell("wc -l 'it'\\''s' x1".into())
    );
    let cmds = ManifestOptions {
        input: InputFormat::Lines,
        ..Default::default()
    };
    let m = with(cmds, b"echo {} > out\n").unwrap();
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Shell("echo {} > out".into())
    );
    let null = ManifestOptions {
        input: InputFormat::Null,
        ..lines
    };
    let m = with(null, b"a\nb\0\0c").unwrap();
    assert_eq!(m.jobs.len(), 2);
    assert_eq!(m.jobs.get(0).command.display(), "wc -l 'a\nb' x1");
    assert_eq!(m.jobs.get(1).line, 3);
}

#[test]
fn shell_option_and_column_override() {
    let opts = ManifestOptions {
        shell: true,
        ..Default::default()
    };
    let m = with(opts, b"command,shell\necho a > f,\necho b '>' g,no\n").unwrap();
    assert_eq!(
        m.jobs.get(0).command,
        CommandLine::Shell("echo a > f".into())
    );
    assert_eq!(
        m.jobs.get(1).command,
        CommandLine::Direct(vec!["echo".into(), "b".into(), ">".into(), "g".into()])
    );
}

#[test]
fn built_ids_are_checked_and_all_reported() {
    let opts = ManifestOptions {
        id_template: Some("{table}-{day}".into()),
        ..Default::default()
    };
    let m = with(
        opts.clone(),
        b"table,day,command\nsales,1,true\nstock,1,true\n",
    )
    .unwrap();
    assert_eq!(m.jobs.get(1).id, "stock-1");
    assert!(!m.ids_from_rows);
    let p = with(
        opts.clone(),
        b"table,day,command\nsales,1,true\nsales,1,true\na b,2,true\n\n",
    )
    .unwrap_err();
    assert_eq!(
        p,
        [
            "m.txt:3: column 'id': --id: duplicate id 'sales-1' (expected a unique id; first used on line 2)",
            "m.txt:4: column 'id': --id: id 'a b-2' contains ' ' (expected letters, digits and . _ - : @ +)",
        ]
    );
    let empty = ManifestOptions {
        id_template: Some("{t}".into()),
        ..Default::default()
    };
    assert_eq!(
        with(empty, b"t,command\n,true\n").unwrap_err(),
        ["m.txt:2: column 'id': --id: empty id (expected a unique job name)"]
    );
    let p = with(opts, b"id,table,command\na,b,true\n").unwrap_err();
    assert!(
        p[0].contains("column 'id': present together with --id"),
        "{p:?}"
    );
}

#[test]
fn vars_only_makes_settings_variables() {
    let opts = ManifestOptions {
        command_template: Some("echo {env} {cwd} {shell} {id}".into()),
        vars_only: true,
        ..Default::default()
    };
    let m = with(opts, b"id,env,cwd,shell\nx y,LD_PRELOAD=evil,/,true\n").unwrap();
    let j = &m.jobs.get(0);
    assert_eq!(j.id, "1");
    assert!(j.env.is_empty() && j.cwd.is_none());
    assert_eq!(
        j.command,
        CommandLine::Direct(vec![
            "echo".into(),
            "LD_PRELOAD=evil".into(),
            "/".into(),
            "true".into(),
            "x y".into()
        ])
    );
}

#[test]
fn nul_bytes_are_rejected() {
    let p = problems("id,x,command,env\na,\0,echo {x},\nb,,echo \0,\nc,\0,true,K={x}\n");
    assert_eq!(
        p,
        [
            "m.csv:2: column 'command': a value in the command holds a NUL byte (expected text without NUL: no process can receive one)",
            "m.csv:3: column 'command': the command holds a NUL byte (expected text without NUL: no process can receive one)",
            "m.csv:4: column 'env': the value of K holds a NUL byte (expected text without NUL: no process can receive one)",
        ]
    );
}

#[test]
fn absurd_durations_are_problems() {
    let p = problems("id,command,timeout\na,true,300000000000y\nb,true,18446744073709551615s\n");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("'300000000000y' is too long (expected at most 10y"),
        "{p:?}"
    );
}

#[test]
fn warnings_for_values_a_shell_reparses() {
    let opts = ManifestOptions {
        command_template: Some("sh -c 'echo {x}'".into()),
        ..Default::default()
    };
    let m = with(opts, b"x\na\nb\n").unwrap();
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0]
        .to_string()
        .starts_with("--command: a shell run with -c"));
    let m = parse_ok(
        "id,x,shell,command\na,1,yes,echo \"{x}\"\nb,2,yes,echo '{x}'\nc,3,no,echo \"{x}\"\n",
    );
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(m.warnings[0]
        .to_string()
        .starts_with("m.csv:2: column 'command': a placeholder inside quotes"));
}

#[test]
fn manifest_size_is_capped() {
    for map in [false, true] {
        let e = read_source_bytes("/dev/zero", map).unwrap_err();
        assert!(e.to_string().contains("larger than 256 MiB"), "{e}");
    }
}

/// What `check`'s table shows of a job is the same whether the job is built whole or in the
/// short way of plain commands, for every kind of row.
#[test]
fn table_jobs_show_what_whole_jobs_show() {
    let text = "id,command,timeout,retries,group,after,shell,env,cwd\n\
        a,/bin/echo 1,30s,,,,,,\n\
        b,  echo   two  spaces ,90s,3,g1,a,,K=v,/tmp\n\
        c,echo 'quoted x',,,,a b,,,\n\
        d,echo a=b 50% ~x,1h 2m,,g2,,,,\n\
        e,echo {id},,,,,,,\n\
        f,echo $HOME | wc,5,,,,yes,,\n\
        g,true,,,,,no,,\n\
        h,echo \"dq\",250ms,1,g1,  a  ,,,\n\
        i,./run.sh a-b_c.d/e f:g+h@i^j,,,,,,,\n\
        j,echo x ,,,,,,,\n\
        k,echo x,,,,,no,,\n";
    for opts in [
        ManifestOptions::default(),
        ManifestOptions {
            default_timeout: Some(Duration::from_secs(7)),
            default_retries: 2,
            ..Default::default()
        },
        ManifestOptions {
            shell: true,
            ..Default::default()
        },
    ] {
        let m = parse("m.csv", text.as_bytes(), false, &opts).unwrap();
        for i in 0..m.jobs.len() {
            let (w, t) = (m.jobs.get(i), m.jobs.table_job(i));
            let shown = |j: &crate::model::job::JobSpec| {
                (
                    j.id.clone(),
                    j.command.display(),
                    j.timeout,
                    j.retries,
                    j.group.clone(),
                    j.after.clone(),
                    (j.index, j.line),
                )
            };
            assert_eq!(shown(&w), shown(&t), "row {i}");
            assert_eq!(m.jobs.command(i), w.command.display(), "row {i}");
        }
    }
}

/// A manifest mapped from its file (`check`, `--dry-run`) gives the same jobs and problems as
/// one read into memory, with its pages released as it was read.
#[test]
fn a_mapped_manifest_parses_as_a_read_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    let mut text = String::from("\u{feff}id,command,timeout\n# c\n");
    for i in 0..20_000 {
        text.push_str(&format!("j{i},echo {i} 'x y',{}s\n", i % 7 + 1));
    }
    text.push_str("j5,dup,1s\n");
    std::fs::write(&path, &text).unwrap();
    let opts = ManifestOptions::default();
    let mapped = read_source_bytes(path.to_str().unwrap(), true).unwrap();
    assert!(matches!(mapped, crate::util::bytes::Bytes::Mapped(_)));
    let read = read_source_bytes(path.to_str().unwrap(), false).unwrap();
    assert!(matches!(read, crate::util::bytes::Bytes::Owned(_)));
    let (a, pa) = parse_all("m.csv", mapped, false, &opts);
    let (b, pb) = parse_all("m.csv", read, false, &opts);
    assert_eq!(pa, pb);
    assert_eq!(pa.len(), 1, "{pa:?}"); // the duplicate id
    assert_eq!(a.jobs.len(), b.jobs.len());
    a.jobs.release();
    for i in (0..a.jobs.len()).step_by(997) {
        assert_eq!(a.jobs.get(i), b.jobs.get(i));
    }
}

/// Jobs are built again from their rows when needed: every layout gives back the job the
/// row was checked as, wherever the row is (after a byte-order mark, comments, blank lines,
/// CRLF, a quoted line break, a bad row).
#[test]
fn rows_read_again_give_the_same_jobs() {
    let opts = ManifestOptions::default();
    let text = "\u{feff}id,command,env,retries\r\n# a comment\r\n\r\na,\"echo 'x\r\ny'\",K=v,2\r\nbad,,,\r\nb,true,,\r\n";
    let (m, problems) = parse_all("m.csv", text.as_bytes().to_vec(), false, &opts);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let a = m.jobs.get(0);
    assert_eq!((a.id.as_str(), a.line, a.index, a.retries), ("a", 4, 0, 2));
    assert_eq!(a.command.display(), "echo 'x\r\ny'");
    assert_eq!(a.env, [("K".to_string(), "v".to_string())]);
    let b = m.jobs.get(1);
    assert_eq!((b.id.as_str(), b.line, b.index), ("b", 7, 2));
    let tsv = parse("m.tsv", b"id\tcommand\nx\techo \"1\"\n", true, &opts).unwrap();
    assert_eq!(tsv.jobs.get(0).command.display(), "echo 1");
    for (input, bytes) in [
        (InputFormat::Lines, &b"\n  \none\r\ntwo"[..]),
        (InputFormat::Null, &b"\0one\0two\0"[..]),
    ] {
        let o = ManifestOptions {
            input,
            command_template: Some("echo {}".into()),
            ..Default::default()
        };
        let m = parse("list", bytes, false, &o).unwrap();
        let got: Vec<String> = m.jobs.iter().map(|j| j.command.display()).collect();
        assert_eq!(got, ["echo one", "echo two"], "{input:?}");
    }
}

/// A job as read: its id, line, index and command.
type Read = (String, u64, usize, String);

/// The problems and jobs `text` gives, read as a plain table (split at line ends and commas)
/// and by the csv reader: a comment holding two quotes at the end makes a table not plain,
/// and adds no record.
fn read_both_ways(text: &str) -> [(Vec<String>, Vec<Read>); 2] {
    let csv = format!("{text}\n# \"\"\n");
    assert!(table::PlainLines::of(csv.as_bytes(), false).is_none());
    [text.to_string(), csv].map(|t| {
        let (m, found) = parse_all("m.csv", t.into_bytes(), false, &ManifestOptions::default());
        let jobs = m.jobs.iter();
        let jobs = jobs.map(|j| (j.id.clone(), j.line, j.index, j.command.display()));
        let found = found.iter().map(|p| p.to_string()).collect();
        (found, jobs.collect())
    })
}

/// A plain table (no quote, no lone `\r`) is read without the csv reader, with the same jobs,
/// lines and problems: CRLF, a byte-order mark, comments, blank lines, an empty last line, a
/// last line without its line end, a row with too many fields.
#[test]
fn a_plain_table_reads_as_the_csv_reader_reads_it() {
    let texts = [
        "\u{feff}id,command,timeout\r\n# c\r\n\r\n  \r\na,/bin/echo 1,30s\r\nb,true,bad\r\n",
        "id,command\na,true\n\n",
        "id,command\na,true\nb,false",
        "id,command\n\n\na,true\n# x,y\nb,false,extra\n c , echo  1 \n",
        "id\tcommand\na\ttrue\n",
    ];
    for text in texts {
        assert!(
            table::PlainLines::of(text.as_bytes(), false).is_some(),
            "{text:?}"
        );
        let [plain, csv] = read_both_ways(text);
        assert_eq!(plain, csv, "{text:?}");
    }
    let [(found, jobs), _] = read_both_ways(texts[0]);
    assert_eq!(jobs[0], ("a".into(), 5, 0, "/bin/echo 1".into()));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("m.csv:6: column 'timeout':"),
        "{found:?}"
    );
}

/// A quote anywhere, or a lone `\r` (a record's end for the csv reader, but no line's), and the
/// csv reader reads the table: a quoted row inside an otherwise plain file keeps its comma.
#[test]
fn a_quoted_row_or_a_lone_cr_goes_to_the_csv_reader() {
    let text = "id,command\na,true\nb,\"echo x,y\"\nc,false\n";
    assert!(table::PlainLines::of(text.as_bytes(), false).is_none());
    let m = parse_ok(text);
    assert_eq!(m.jobs.get(1).command.display(), "echo x,y");
    assert_eq!(m.jobs.get(2).line, 4);
    let text = "id,command\ra,true\rb,false\n";
    assert!(table::PlainLines::of(text.as_bytes(), false).is_none());
    assert_eq!(parse_ok(text).jobs.ids().collect::<Vec<_>>(), ["a", "b"]);
}

/// A blank first line is no header: the header is the first line that is not blank, and is
/// not checked as a row (it was, read after a blank line).
#[test]
fn a_blank_line_before_the_header_is_skipped() {
    for text in [
        "  \nid,command,timeout\na,true,30s\n",
        "  \r\nid,command\r\na,true\r\n",
    ] {
        let [plain, csv] = read_both_ways(text);
        assert_eq!(plain, csv, "{text:?}");
        assert_eq!(plain.0, Vec::<String>::new(), "{text:?}");
        assert_eq!(plain.1.len(), 1, "{text:?}");
    }
}

/// Rows are read, checked and added three batches in a pipeline: problems far into the file
/// keep their order and their lines, whichever way the table is read.
#[test]
fn problems_in_later_batches_keep_their_lines() {
    let mut text = String::from("id,command,timeout\n");
    for i in 0..9_000 {
        match i {
            3_000 => text.push_str("bad,true,soon\n"),
            6_500 => text.push_str("j7,true,1s\n"),
            8_000 => text.push_str("x,true\n"),
            _ => text.push_str(&format!("j{i},/bin/echo {i},{}s\n", i % 5 + 1)),
        }
    }
    let [plain, csv] = read_both_ways(&text);
    assert_eq!(plain.0, csv.0);
    assert!(plain.1 == csv.1, "the same jobs");
    let lines: Vec<&str> = plain.0.iter().map(|p| &p[..p.find(' ').unwrap()]).collect();
    assert_eq!(
        lines,
        ["m.csv:3002:", "m.csv:6502:", "m.csv:8002:"],
        "{:?}",
        plain.0
    );
    assert!(plain.0[1].contains("duplicate id 'j7'"), "{:?}", plain.0);
    assert_eq!(plain.1.len(), 8_997);
    assert_eq!(plain.1[8_996].1, 9_001);
}

proptest::proptest! {
    /// Any table of these bytes (no quote) reads the same, plain or by the csv reader.
    #[test]
    fn any_plain_table_reads_as_the_csv_reader_reads_it(
        body in proptest::collection::vec(
            proptest::sample::select(vec!["a", "b", "x1", ",", " ", "\t", "#", "\n", "\r\n", "\r", "30s", "{id}", "|"]),
            0..60,
        )
    ) {
        let text = format!("id,command,timeout\n{}", body.concat());
        let [plain, csv] = read_both_ways(&text);
        proptest::prop_assert_eq!(plain, csv, "{:?}", text);
    }
}

/// A row checked the short way (`row::quick_check`) has what its job built in full gives the
/// plan (retry count, plan table widths); a row with any field that needs a closer look is
/// left to the full check, which reports what is wrong.
#[test]
fn rows_checked_at_a_glance_are_checked_as_in_full() {
    let columns = "id,command,timeout,retries,group,after,cwd,env,retry_on";
    let cols: Vec<String> = columns.split(',').map(str::to_string).collect();
    let opts = ManifestOptions::default();
    let layout = layout::Layout::new(cols, Some(1), &opts, &mut problems::Problems::new("m"));
    let long = "x".repeat(80);
    let quick = [
        "a,/bin/echo 1,30s,,,,,,".to_string(),
        "b,  echo   two  spaces ,1h 2m,12,g1,a,,,".to_string(),
        format!("c,echo {long},,3,,a  b,,,"),
        "e1,/bin/true,,,gé,,,,".to_string(),
    ];
    let slow = [
        "d,/bin/true,10x,,,,,,",
        "e,/bin/true,,-1,,,,,",
        "f,/bin/true,,,,,/tmp,,",
        "g,/bin/true,,,,,,A=1,",
        "h,/bin/true,,,,,,,bogus",
        "i,echo $HOME,,,,,,,",
        "j,,,,,,,,",
    ];
    for (k, row) in quick.iter().map(String::as_str).chain(slow).enumerate() {
        let fields: Vec<&str> = row.split(',').collect();
        let got = row::quick_check(&layout, k, &fields);
        if k >= quick.len() {
            assert_eq!(got, None, "{row}");
            continue;
        }
        let text = format!("{columns}\n{row}\n");
        let m = parse_ok(&text);
        let job = m.jobs.get(0);
        let want = (job.retries, crate::model::job::plan_widths(&job));
        assert_eq!(got, Some(want), "{row}");
    }
}
