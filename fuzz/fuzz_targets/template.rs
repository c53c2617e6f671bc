//! Template substitution is exact for every value: in direct mode a value lands inside its
//! word, never split or changed; with `shell` it is shell-quoted, so the shell's own word
//! splitting gives the value back unchanged, never a second word or an injected command.
#![no_main]

use batchrun::manifest::{self, CommandLine, ManifestOptions};
use libfuzzer_sys::fuzz_target;

/// A one-row manifest `id,shell,command,x` written with proper CSV quoting.
fn manifest(shell: bool, command: &str, value: &str) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "shell", "command", "x"]).unwrap();
    w.write_record(["a", if shell { "yes" } else { "no" }, command, value])
        .unwrap();
    w.into_inner().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let opts = ManifestOptions::default();
    // Direct mode: the value inside a word and as a word of its own.
    let direct = manifest(false, "echo pre{x}post {x}", &value);
    if let Ok(m) = manifest::parse("fuzz.csv", &direct, false, &opts) {
        match &m.jobs[0].command {
            CommandLine::Direct(words) => assert_eq!(
                words,
                &["echo".to_string(), format!("pre{value}post"), value.to_string()],
                "direct substitution changed the value"
            ),
            other => panic!("direct row became {other:?}"),
        }
    }
    // Shell mode: the shell sees exactly the value.
    let shell = manifest(true, "printf %s {x}", &value);
    if let Ok(m) = manifest::parse("fuzz.csv", &shell, false, &opts) {
        match &m.jobs[0].command {
            CommandLine::Shell(s) => {
                let words = shell_words::split(s).expect("a shell-quoted command parses");
                assert_eq!(
                    words,
                    ["printf", "%s", &*value],
                    "shell substitution split or changed the value: {s:?}"
                );
            }
            other => panic!("shell row became {other:?}"),
        }
    }
});
