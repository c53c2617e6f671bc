//! Manifest parsing and planning on arbitrary bytes: never a panic, whatever the input.
//!
//! The first byte picks the options: bit 0 TSV, bit 1 a `--command` template (the input's
//! first line), bit 2 a `--limit` on group `g`, bit 3 a `--lines` list, bit 4 a `--null` list.
//! Every job of a valid plan is then built again from its row, as a run does when it starts
//! it: that must neither panic nor change the job's id.
#![no_main]

use batchrun::{parse_manifest, InputFormat, ManifestOptions, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut opts = ManifestOptions::default();
    if flags & 2 != 0 {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        opts.command_template = Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        rest = &rest[(end + 1).min(rest.len())..];
    }
    if flags & 8 != 0 {
        opts.input = InputFormat::Lines;
    } else if flags & 16 != 0 {
        opts.input = InputFormat::Null;
    }
    let limits = if flags & 4 != 0 {
        vec![("g".to_string(), 1)]
    } else {
        Vec::new()
    };
    let Ok(m) = parse_manifest("fuzz.csv", rest, flags & 1 != 0, &opts) else {
        return;
    };
    if let Ok(plan) = Plan::new(m, &limits) {
        for i in plan.start_order() {
            let job = plan.jobs.get(i);
            assert_eq!(job.id, plan.jobs.id(i));
            let _ = job.command.display();
        }
    }
});
