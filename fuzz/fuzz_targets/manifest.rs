//! Manifest parsing and planning on arbitrary bytes: never a panic, whatever the input.
//!
//! The first byte picks the options: bit 0 TSV, bit 1 a `--command` template (the input's
//! first line), bit 2 a `--limit` on group `g`.
#![no_main]

use batchrun::manifest::{self, ManifestOptions};
use batchrun::plan::Plan;
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
    let limits = if flags & 4 != 0 {
        vec![("g".to_string(), 1)]
    } else {
        Vec::new()
    };
    let Ok(m) = manifest::parse("fuzz.csv", rest, flags & 1 != 0, &opts) else {
        return;
    };
    if let Ok(plan) = Plan::new(m, &limits) {
        for i in plan.start_order() {
            let _ = plan.jobs[i].command.display();
        }
    }
});
