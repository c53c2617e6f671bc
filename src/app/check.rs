//! `check`'s plan table and `--dry-run`'s list of commands, written on every core a bounded
//! batch at a time.

use std::borrow::Cow;
use std::io::Write;

use crate::model::config::RunConfig;
use crate::model::error::Error;
use crate::model::job::{duration_text, plan_widths, widest};
use crate::model::job::{JobSpec, TABLE_COMMAND};
use crate::output::console;
use crate::output::in_order::{write_in_order, PIECE};
use crate::plan::Plan;
use crate::util::text::plural;

/// Jobs whose texts are made before they are written, a batch at a time.
const BATCH: usize = 16 * 1024;

/// The cells of a job's row in the plan table; long commands are cut to keep the table
/// readable (`--dry-run` prints them whole).
fn plan_cells(j: &JobSpec) -> [Cow<'_, str>; 6] {
    let mut command = j.command.display();
    if command.chars().count() > TABLE_COMMAND {
        command = command.chars().take(TABLE_COMMAND - 1).collect::<String>() + "…";
    }
    [
        Cow::Borrowed(j.id.as_str()),
        Cow::Owned(command),
        j.timeout
            .map_or(Cow::Borrowed("-"), |t| Cow::Owned(duration_text(t))),
        match j.retries {
            r @ 0..=9 => Cow::Borrowed(&"0123456789"[r as usize..r as usize + 1]),
            r => Cow::Owned(r.to_string()),
        },
        Cow::Borrowed(j.group.as_deref().unwrap_or("-")),
        if j.after.is_empty() {
            Cow::Borrowed("-")
        } else {
            Cow::Owned(j.after.join(" "))
        },
    ]
}

/// Appends one line of the plan table to `l`: every cell but the last padded to its column's
/// width and followed by two spaces, no blank at the end.
fn table_line<S: AsRef<str>>(cells: &[S], widths: &[usize; 6], l: &mut String) {
    let start = l.len();
    for (k, (cell, &wd)) in cells.iter().zip(widths).enumerate() {
        let cell = cell.as_ref();
        l.push_str(cell);
        if k + 1 < cells.len() {
            let n = crate::model::job::cell_width(cell);
            const SPACES: &str = "                                ";
            let mut pad = wd.saturating_sub(n) + 2;
            while pad > 0 {
                let k = pad.min(SPACES.len());
                l.push_str(&SPACES[..k]);
                pad -= k;
            }
        }
    }
    l.truncate(start + l[start..].trim_end().len());
    l.push('\n');
}

/// Writes the `check` plan table to `w`: the column widths from the plan (measured as the
/// manifest was read), or a first pass over the rows; then the lines. No row is held once
/// written.
pub fn write_plan_table(w: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
    let order = plan.start_order();
    let header = ["ID", "COMMAND", "TIMEOUT", "RETRIES", "GROUP", "AFTER"];
    let measured = plan.table_widths.unwrap_or_else(|| {
        let pieces: Vec<&[usize]> = order.chunks(PIECE).collect();
        crate::util::par::scope(order.len(), |par| {
            par.map(&pieces, |piece| {
                piece
                    .iter()
                    .map(|&i| plan_widths(&plan.jobs.get(i)))
                    .fold([0; 6], widest)
            })
        })
        .into_iter()
        .fold([0; 6], widest)
    });
    let widths = widest(header.map(str::len), measured);
    let mut head = String::new();
    table_line(&header, &widths, &mut head);
    w.write_all(head.as_bytes())?;
    let at = |k: usize| order[k];
    write_in_order(
        w,
        &plan.jobs,
        (order.len(), BATCH),
        at,
        |i, l: &mut String| {
            if !plan
                .jobs
                .table_cells(i, &mut |cells| table_line(cells, &widths, l))
            {
                table_line(&plan_cells(&plan.jobs.table_job(i)), &widths, l);
            }
        },
    )?;
    drop(order);
    writeln!(
        w,
        "\n{} in {}{}; start order shown (manifest order, as far as `after` allows)",
        plural(plan.jobs.len(), "job"),
        plan.manifest,
        plan.shard
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default()
    )?;
    let mut members = vec![0usize; plan.groups.len()];
    for g in (0..plan.jobs.len()).filter_map(|i| plan.group(i)) {
        members[g] += 1;
    }
    for (g, name) in plan.groups.iter().enumerate() {
        writeln!(
            w,
            "group {name}: {}, {}",
            plural(members[g], "job"),
            match plan.group_limits[g] {
                Some(n) => format!("at most {n} at once"),
                None => "no limit".to_string(),
            }
        )?;
    }
    write_loads(w, plan)
}

/// With `--balance-from`: every shard's jobs and expected total time, this one marked.
fn write_loads(w: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
    let (Some(b), Some(this)) = (&plan.balance, plan.shard) else {
        return Ok(());
    };
    writeln!(
        w,
        "balanced by the durations in the report with SHA-256 {}; expected total time per shard:",
        b.sha256
    )?;
    for (k, &(jobs, ms)) in b.loads.iter().enumerate().skip(1) {
        let time = humantime::format_duration(std::time::Duration::from_millis(ms));
        let mark = if k == this.index as usize {
            "  <- this shard"
        } else {
            ""
        };
        writeln!(
            w,
            "shard {k}/{}: {}, {time}{mark}",
            this.count,
            plural(jobs, "job")
        )?;
    }
    Ok(())
}

/// `--dry-run`: prints the command of every job that would run, in start order; with
/// `--resume`, says on stderr how many would be resumed.
pub(crate) fn dry_run(plan: &Plan, rc: &RunConfig) -> Result<(), Error> {
    let joblog = rc.joblog.as_deref().filter(|_| rc.resume);
    let resumed = crate::app::resume::from_joblog(plan, joblog).map_err(Error::from)?;
    let order: Vec<usize> = plan
        .start_order()
        .into_iter()
        .filter(|&i| !resumed[i])
        .collect();
    console::stream_stdout(|w| {
        let at = |k: usize| order[k];
        write_in_order(
            w,
            &plan.jobs,
            (order.len(), BATCH),
            at,
            |i, text: &mut String| {
                text.push_str(&plan.jobs.command(i));
                text.push('\n');
            },
        )
    });
    if let Some(path) = joblog {
        let n = resumed.iter().filter(|&&r| r).count();
        console::would_be_resumed(n, resumed.len(), path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::job::plan_widths;

    #[test]
    fn plan_widths_are_the_cells_widths() {
        let text = "id,command,timeout,retries,group,after,shell\n\
            a,echo 'x y' \"é\",90s,12,gé,,\n\
            b,true,,0,,a,\n\
            c,echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,1h 2m,,,a b,\n\
            d,echo $HOME | wc,,,,,true\n";
        let m =
            crate::manifest::parse("m.csv", text.as_bytes(), false, &Default::default()).unwrap();
        for j in m.jobs.iter() {
            let cells = plan_cells(&j).map(|c| c.chars().count());
            assert_eq!(plan_widths(&j), cells, "{}", j.id);
        }
    }

    /// The cells made straight from a row's fields are those of the job it makes, for every
    /// row they are made for; the other rows are built.
    #[test]
    fn cells_made_from_the_fields_are_the_jobs_cells() {
        let long = "x".repeat(70);
        let text = format!(
            "id,command,timeout,retries,group,after,shell\n\
            a,/bin/echo 1,30s,,,,\n\
            b,  echo   two  spaces ,90s,3,g1,a,\n\
            c,echo {long},,12,,a  b,\n\
            d,true,,,,,no\n\
            e, x y ,1500ms,,,,\n\
            f,echo ok,1h 2m,,g2,  a   b ,\n\
            g,echo a=b ~x,,,,,\n"
        );
        for opts in [
            Default::default(),
            crate::model::config::ManifestOptions {
                default_timeout: Some(std::time::Duration::from_secs(7)),
                ..Default::default()
            },
            crate::model::config::ManifestOptions {
                shell: true,
                ..Default::default()
            },
        ] {
            let shell = opts.shell;
            let m = crate::manifest::parse("m.csv", text.as_bytes(), false, &opts).unwrap();
            let mut made = 0;
            for i in 0..m.jobs.len() {
                let mut cells = None;
                m.jobs
                    .table_cells(i, &mut |c| cells = Some(c.map(str::to_string)));
                let want = plan_cells(&m.jobs.table_job(i)).map(Cow::into_owned);
                if let Some(cells) = cells {
                    assert_eq!(cells, want, "row {i}");
                    made += 1;
                }
            }
            assert_eq!(made, if shell { 0 } else { 5 });
            for i in 0..m.jobs.len() {
                if let Some(shown) = m.jobs.shown_command(i) {
                    assert_eq!(shown, m.jobs.get(i).command.display(), "row {i}");
                }
            }
        }
    }

    #[test]
    fn the_table_is_the_same_with_widths_measured_or_not() {
        let text = "id,command,timeout\na,echo 'x y',90s\nlonger-id,true,\n";
        let m =
            crate::manifest::parse("m.csv", text.as_bytes(), false, &Default::default()).unwrap();
        let measured = Plan::new(m, &[]).unwrap();
        assert!(measured.table_widths.is_some());
        let unmeasured = Plan {
            table_widths: None,
            ..measured.clone()
        };
        let table = |p: &Plan| {
            let mut out = Vec::new();
            write_plan_table(&mut out, p).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(table(&measured), table(&unmeasured));
        assert!(table(&measured).starts_with("ID         COMMAND     TIMEOUT  RETRIES  GROUP  AFTER\na          echo 'x y'  1m 30s   0        -      -\n"), "{}", table(&measured));
    }
}
