//! Template substitution is exact for every template text and value: in direct mode a value
//! lands inside its word, never split or changed; with `shell` it is shell-quoted, so the
//! shell's own word splitting gives the value back unchanged, never a second word or an
//! injected command; and the template's own text is kept as written.
#![no_main]

use batchrun::{parse_manifest, CommandLine, ManifestOptions};
use libfuzzer_sys::fuzz_target;

/// A one-row manifest `id,shell,command,x` written with proper CSV quoting.
fn manifest(shell: bool, command: &str, value: &str) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "shell", "command", "x"]).unwrap();
    w.write_record(["a", if shell { "yes" } else { "no" }, command, value])
        .unwrap();
    w.into_inner().unwrap()
}

/// `{` and `}` doubled, as a template writes literal braces.
fn escape_braces(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

fuzz_target!(|data: &[u8]| {
    // Input: LITERAL 0xFF VALUE (0xFF never occurs in UTF-8); the literal is text of the
    // template itself, inside single quotes.
    let (lit, value) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let lit: String = String::from_utf8_lossy(lit)
        .chars()
        .filter(|&c| c != '\'' && c != '\0')
        .collect();
    let value = String::from_utf8_lossy(value);
    let quoted = format!("'{}'", escape_braces(&lit));
    let opts = ManifestOptions::default();
    // Direct mode: the value inside a word and as a word of its own.
    let direct = manifest(false, &format!("echo {quoted} pre{{x}}post {{x}}"), &value);
    if let Ok(m) = parse_manifest("fuzz.csv", &direct, false, &opts) {
        match &m.jobs.get(0).command {
            CommandLine::Direct(words) => assert_eq!(
                words,
                &[
                    "echo".to_string(),
                    lit.clone(),
                    format!("pre{value}post"),
                    value.to_string()
                ],
                "direct substitution changed the template or the value"
            ),
            other => panic!("direct row became {other:?}"),
        }
    }
    // Shell mode: the shell sees exactly the value.
    let shell = manifest(true, &format!("printf %s {quoted} {{x}}"), &value);
    if let Ok(m) = parse_manifest("fuzz.csv", &shell, false, &opts) {
        match &m.jobs.get(0).command {
            CommandLine::Shell(s) => {
                let words = shell_words::split(s).expect("a shell-quoted command parses");
                assert_eq!(
                    words,
                    ["printf", "%s", &*lit, &*value],
                    "shell substitution split or changed the template or the value: {s:?}"
                );
            }
            other => panic!("shell row became {other:?}"),
        }
    }
});
