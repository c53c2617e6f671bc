//! The shape of the source tree: no import cycles between source files, every import pointing
//! down the layer table of `src/lib.rs`'s module doc (which README.md repeats), and no source
//! file over 700 lines besides its tests.
//!
//! Imports are read as text, the way `../shared/tools/module-cycles.py` reads them, so the two
//! agree on what a cycle is: each `.rs` file is a module (`src/a/b.rs` is `a::b`, `src/a/mod.rs`
//! is `a`, `lib.rs` the crate root, `main.rs` a module of its own); every `crate::`, `super::` or
//! `self::` path (in `main.rs`, `batchrun::` too), with a `use a::{b, c}` group taken one part at
//! a time, names the deepest module that is a prefix of it; comments, block comments and
//! `#[cfg(test)]` items are left out; paths to the crate root do not count.
//!
//! The layer table is the lines `L<n>  name name ...` of the `/*! ... */` block that opens
//! `src/lib.rs` (a `|` or `/` between names is allowed). A file of top-level module X may import
//! top-level module Y ≠ X only if Y is on a lower layer than X; `lib.rs` is exempt. Every
//! top-level module (`src/X.rs` or `src/X/`, `main` for `main.rs`) must be in the table, and
//! every table line must also be a line of README.md (leading and trailing spaces aside).
//!
//! The checker works on a list of (path under `src/`, text), so the tests below can feed it small
//! trees; `source_tree_is_layered` runs it on the real one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Longest a source file may be, its `#[cfg(test)]` items not counted.
const MAX_LINES: usize = 700;

const RULE_CYCLE: &str = "no two source files import each other in a circle";
const RULE_DOWN: &str = "a module imports only modules on lower layers";
const RULE_SIBLING: &str = "modules on the same layer do not import each other";
const RULE_TABLE: &str = "every top-level module has one layer in the table of src/lib.rs";
const RULE_README: &str = "README.md repeats the layer table of src/lib.rs line for line";

/// A module path: `["a", "b"]` for `src/a/b.rs`, `[]` for `lib.rs`, `["<main>"]` for `main.rs`.
type Key = Vec<String>;

/// One `crate::`/`super::`/`self::` path in a file.
#[derive(Debug)]
struct Reference {
    /// 1-based line in the original file.
    line: usize,
    /// The path as written, one group part at a time: `crate::report::Summary`.
    shown: String,
    /// The absolute module path it names (not yet resolved to a file), without empty parts.
    path: Vec<String>,
}

/// A source file, read.
struct Source {
    /// Path under `src/`, with `/` separators.
    rel: String,
    key: Key,
    /// Its paths, comments and `#[cfg(test)]` items left out.
    refs: Vec<Reference>,
    /// Lines of the file outside `#[cfg(test)]` items.
    counted_lines: usize,
}

impl Source {
    /// `src/…` as messages show it.
    fn shown(&self) -> String {
        format!("src/{}", self.rel)
    }

    /// The top-level module the file belongs to (`main` for `main.rs`); `None` for `lib.rs`.
    fn top(&self) -> Option<&str> {
        match self.key.first().map(String::as_str) {
            None => None,
            Some("<main>") => Some("main"),
            Some(top) => Some(top),
        }
    }
}

/// The module path of a file under `src/`, as module-cycles.py computes it.
fn module_key(rel: &str) -> Key {
    let mut parts: Vec<String> = rel
        .strip_suffix(".rs")
        .unwrap_or(rel)
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        Vec::new()
    } else if parts == ["main"] {
        vec!["<main>".to_string()]
    } else {
        parts
    }
}

/// Text with the original line of each of its bytes.
struct Lined {
    text: String,
    line_of: Vec<usize>,
}

impl Lined {
    fn push(&mut self, s: &str, line: usize) {
        self.text.push_str(s);
        self.line_of.extend(std::iter::repeat_n(line, s.len()));
    }

    /// The original line of byte `i` (the last line past the end).
    fn line_at(&self, i: usize) -> usize {
        self.line_of
            .get(i)
            .or(self.line_of.last())
            .copied()
            .unwrap_or(1)
    }
}

/// Removes block comments: each `/*` up to the first `*/` after it (not nested), as
/// `re.sub(r"/\*.*?\*/", "", text, flags=re.S)` does.
fn without_block_comments(text: &str) -> Lined {
    let mut out = Lined {
        text: String::with_capacity(text.len()),
        line_of: Vec::with_capacity(text.len()),
    };
    let mut line = 1;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(comment) = rest.strip_prefix("/*") {
            if let Some(end) = comment.find("*/") {
                let skipped = &rest[..2 + end + 2];
                line += skipped.matches('\n').count();
                i += skipped.len();
                continue;
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(&rest[..c.len_utf8()], line);
        if c == '\n' {
            line += 1;
        }
        i += c.len_utf8();
    }
    out
}

/// What is left of a file for reading imports, and which original lines are test code.
struct Stripped {
    code: Lined,
    /// Original line numbers inside `#[cfg(test)]` items.
    test_lines: BTreeSet<usize>,
}

/// Drops block comments, `#[cfg(test)]` items (the attribute's line, then lines up to the one
/// that closes the first brace opened, or a first line ending in `;`) and `//` comments, line
/// by line as module-cycles.py does.
fn strip(text: &str) -> Stripped {
    let bs = without_block_comments(text);
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, b) in bs.text.bytes().enumerate() {
        if b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    lines.push((start, bs.text.len()));
    let line_text = |n: usize| &bs.text[lines[n].0..lines[n].1];

    let mut code = Lined {
        text: String::new(),
        line_of: Vec::new(),
    };
    let mut test_lines = BTreeSet::new();
    let mut kept_any = false;
    let mut i = 0;
    while i < lines.len() {
        if line_text(i).trim_start().starts_with("#[cfg(test)]") {
            let (mut j, mut depth, mut started) = (i + 1, 0i64, false);
            while j < lines.len() {
                let l = line_text(j);
                depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
                if l.contains('{') {
                    started = true;
                }
                if (started && depth <= 0) || (!started && l.trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            let last = j.min(lines.len() - 1);
            let first_line = bs.line_at(lines[i].0);
            let last_line = bs.line_at(lines[last].1.max(lines[last].0));
            test_lines.extend(first_line..=last_line);
            i = j + 1;
            continue;
        }
        let (s, e) = lines[i];
        let l = &bs.text[s..e];
        let keep = l.find("//").unwrap_or(l.len());
        if kept_any {
            code.push("\n", bs.line_at(s.saturating_sub(1)));
        }
        kept_any = true;
        for (k, c) in l[..keep].char_indices() {
            code.push(&l[k..k + c.len_utf8()], bs.line_of[s + k]);
        }
        i += 1;
    }
    Stripped { code, test_lines }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The paths of `code`, as module-cycles.py's
/// `\b(crate|super|self)((?:::IDENT)*)(::\{([^;]*?)\})?` finds them; `here` is the file's own
/// module path (empty for lib.rs and main.rs); `extra_root` is a further word meaning `crate`.
fn references(code: &Lined, here: &[String], extra_root: Option<&str>) -> Vec<Reference> {
    let text = code.text.as_str();
    let bytes = text.as_bytes();
    let mut refs = Vec::new();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < text.len() {
        let at_boundary = !prev.is_some_and(is_word);
        let keyword = ["crate", "super", "self"]
            .into_iter()
            .chain(extra_root)
            .find(|k| at_boundary && text[i..].starts_with(k));
        let Some(keyword) = keyword else {
            let c = text[i..].chars().next().unwrap();
            prev = Some(c);
            i += c.len_utf8();
            continue;
        };
        let roots: Vec<String> = match keyword {
            "super" => here[..here.len().saturating_sub(1)].to_vec(),
            "self" => here.to_vec(),
            _ => Vec::new(),
        };
        // (?:::IDENT)*
        let mut pos = i + keyword.len();
        let mut base = Vec::new();
        while bytes[pos..].starts_with(b"::")
            && bytes.get(pos + 2).is_some_and(|&b| is_ident_start(b))
        {
            let start = pos + 2;
            let mut end = start + 1;
            while end < bytes.len() && is_ident(bytes[end]) {
                end += 1;
            }
            base.push(text[start..end].to_string());
            pos = end;
        }
        // (::\{([^;]*?)\})?
        let mut group = None;
        if bytes[pos..].starts_with(b"::{") {
            let inner = pos + 3;
            if let Some(close) = text[inner..].find(['}', ';']) {
                if bytes[inner + close] == b'}' {
                    group = Some((inner, inner + close));
                    pos = inner + close + 1;
                }
            }
        }
        let shown_base = std::iter::once(keyword.to_string())
            .chain(base.iter().cloned())
            .collect::<Vec<_>>()
            .join("::");
        match group {
            None => refs.push(Reference {
                line: code.line_at(i),
                shown: shown_base,
                path: roots.iter().chain(&base).cloned().collect(),
            }),
            Some((start, end)) => {
                let mut part_start = start;
                for part in text[start..end].split(',') {
                    let offset = part_start;
                    part_start += part.len() + 1;
                    // re.sub(r"\{.*", "", part): each line loses everything from its first `{`.
                    let cut: Vec<&str> = part
                        .split('\n')
                        .map(|l| l.split('{').next().unwrap_or(""))
                        .collect();
                    let cut = cut.join("\n");
                    let trimmed = cut.trim();
                    if trimmed.is_empty() {
                        continue;
                    }
                    let lead = part.len() - part.trim_start().len();
                    let words: Vec<String> = trimmed
                        .split("::")
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect();
                    let shown_words: Vec<&str> = words.iter().map(|w| w.trim()).collect();
                    refs.push(Reference {
                        line: code.line_at(offset + lead),
                        shown: format!("{shown_base}::{}", shown_words.join("::")),
                        path: roots.iter().chain(&base).chain(&words).cloned().collect(),
                    });
                }
            }
        }
        prev = text[..pos].chars().next_back();
        i = pos;
    }
    refs
}

/// Reads every file of the tree.
fn read_tree(files: &[(&str, &str)]) -> Vec<Source> {
    let mut sources: Vec<Source> = files
        .iter()
        .map(|&(rel, text)| {
            let key = module_key(rel);
            let stripped = strip(text);
            let here: &[String] = if key.first().map(String::as_str) == Some("<main>") {
                &[]
            } else {
                &key
            };
            let extra_root = (rel == "main.rs").then_some("batchrun");
            let total = text.lines().count();
            Source {
                rel: rel.to_string(),
                refs: references(&stripped.code, here, extra_root),
                counted_lines: total - stripped.test_lines.len().min(total),
                key,
            }
        })
        .collect();
    sources.sort_by(|a, b| a.rel.cmp(&b.rel));
    sources
}

/// One import between two files: the first reference that makes it and how many there are.
struct Edge<'a> {
    first: &'a Reference,
    count: usize,
}

/// The file each reference of each file resolves to: the deepest module that is a prefix of
/// its path; references to the file itself and to the crate root are left out.
fn resolved(sources: &[Source]) -> Vec<Vec<(usize, &Reference)>> {
    let by_key: BTreeMap<&[String], usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.as_slice(), i))
        .collect();
    sources
        .iter()
        .enumerate()
        .map(|(from, s)| {
            s.refs
                .iter()
                .filter_map(|r| {
                    let to = (0..=r.path.len())
                        .rev()
                        .find_map(|n| by_key.get(&r.path[..n]).copied())?;
                    (to != from && !sources[to].key.is_empty()).then_some((to, r))
                })
                .collect()
        })
        .collect()
}

/// The imports between files, keyed by (importing file, imported file).
fn edges<'a>(refs: &[Vec<(usize, &'a Reference)>]) -> BTreeMap<(usize, usize), Edge<'a>> {
    let mut edges: BTreeMap<(usize, usize), Edge<'a>> = BTreeMap::new();
    for (from, list) in refs.iter().enumerate() {
        for &(to, r) in list {
            edges
                .entry((from, to))
                .and_modify(|e| e.count += 1)
                .or_insert(Edge { first: r, count: 1 });
        }
    }
    edges
}

/// Tarjan's strongly connected components with more than one file.
fn components(n: usize, edges: &BTreeMap<(usize, usize), Edge>) -> Vec<Vec<usize>> {
    struct State {
        next: usize,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], st: &mut State) {
        st.index[v] = Some(st.next);
        st.low[v] = st.next;
        st.next += 1;
        st.stack.push(v);
        st.on_stack[v] = true;
        for &w in &adj[v] {
            match st.index[w] {
                None => {
                    visit(w, adj, st);
                    st.low[v] = st.low[v].min(st.low[w]);
                }
                Some(iw) if st.on_stack[w] => st.low[v] = st.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(st.low[v]) == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort_unstable();
                st.out.push(comp);
            }
        }
    }
    let mut adj = vec![Vec::new(); n];
    for &(from, to) in edges.keys() {
        adj[from].push(to);
    }
    let mut st = State {
        next: 0,
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on_stack: vec![false; n],
        out: Vec::new(),
    };
    for v in 0..n {
        if st.index[v].is_none() {
            visit(v, &adj, &mut st);
        }
    }
    st.out.sort();
    st.out
}

/// ``src/a.rs:3: `crate::b::X` (src/a.rs -> src/b.rs, and 2 more references)``.
fn edge_text(sources: &[Source], from: usize, to: usize, e: &Edge) -> String {
    let more = match e.count {
        1 => String::new(),
        2 => ", and 1 more reference".to_string(),
        n => format!(", and {} more references", n - 1),
    };
    format!(
        "{}:{}: `{}` ({} -> {}{more})",
        sources[from].shown(),
        e.first.line,
        e.first.shown,
        sources[from].shown(),
        sources[to].shown()
    )
}

/// Every import cycle, each with the imports that close it.
fn import_cycles(sources: &[Source]) -> Vec<String> {
    let refs = resolved(sources);
    let edges = edges(&refs);
    components(sources.len(), &edges)
        .into_iter()
        .map(|comp| {
            let files: Vec<String> = comp.iter().map(|&i| sources[i].shown()).collect();
            let mut text = format!(
                "import cycle through {} files: {} (rule: {RULE_CYCLE}); the imports:",
                comp.len(),
                files.join(", ")
            );
            let mut inside: Vec<(&(usize, usize), &Edge)> = edges
                .iter()
                .filter(|((from, to), _)| comp.contains(from) && comp.contains(to))
                .collect();
            inside.sort_by_key(|&(&(from, _), e)| (from, e.first.line));
            for (&(from, to), e) in inside {
                text.push_str("\n    ");
                text.push_str(&edge_text(sources, from, to, e));
            }
            text
        })
        .collect()
}

/// One line of the layer table.
struct TableLine {
    /// 1-based line in lib.rs.
    line: usize,
    layer: u32,
    names: Vec<String>,
    /// The line without surrounding whitespace.
    text: String,
}

/// A table line: `L<n>  name name ...`, names separated by spaces, `|` or `/`.
fn parse_table_line(line: &str) -> Option<(u32, Vec<String>)> {
    let rest = line.trim_start().strip_prefix('L')?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let layer = rest[..digits].parse().ok()?;
    let names = &rest[digits..];
    let names_start = names.trim_start();
    if names_start.len() == names.len() {
        return None;
    }
    let first = names_start.chars().next()?;
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || " _|/".contains(c);
    if !(first.is_ascii_lowercase() || first == '_') || !names_start.chars().all(allowed) {
        return None;
    }
    let names = names_start
        .split([' ', '|', '/'])
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    Some((layer, names))
}

/// The layer table of lib.rs's opening `/*! ... */` block, and the problems with the block.
fn layer_table(lib: Option<&str>) -> (Vec<TableLine>, Vec<String>) {
    let Some(lib) = lib else {
        return (
            Vec::new(),
            vec![format!("src/lib.rs: missing (rule: {RULE_TABLE})")],
        );
    };
    let skipped = lib.len() - lib.trim_start().len();
    let doc = lib
        .trim_start()
        .strip_prefix("/*!")
        .and_then(|d| d.find("*/").map(|end| &d[..end]));
    let Some(doc) = doc else {
        return (
            Vec::new(),
            vec![format!(
                "src/lib.rs:1: no `/*! ... */` module doc opens the file, so there is no layer \
                 table (rule: {RULE_TABLE})"
            )],
        );
    };
    let first_line = lib[..skipped].matches('\n').count() + 1;
    let mut table = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        let line_no = first_line + n;
        if let Some((layer, names)) = parse_table_line(line) {
            table.push(TableLine {
                line: line_no,
                layer,
                names,
                text: line.trim().to_string(),
            });
        } else {
            let t = line.trim_start();
            let looks_like_one = t.starts_with('L')
                && t[1..].starts_with(|c: char| c.is_ascii_digit())
                && t[1..]
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .starts_with(char::is_whitespace);
            if looks_like_one {
                problems.push(format!(
                    "src/lib.rs:{line_no}: `{}` is not a layer table line `L<n>  name name ...` \
                     (lowercase module names, separated by spaces, `|` or `/`) \
                     (rule: {RULE_TABLE})",
                    line.trim()
                ));
            }
        }
    }
    if table.is_empty() {
        problems.push(format!(
            "src/lib.rs:{first_line}: the module doc has no layer table lines `L<n>  name name ...` \
             (rule: {RULE_TABLE})"
        ));
    }
    (table, problems)
}

/// Imports that go up or sideways in the layer table, top-level modules the table lacks, and
/// table lines README.md lacks.
fn layer_violations(sources: &[Source], lib: Option<&str>, readme: &str) -> Vec<String> {
    let (table, mut problems) = layer_table(lib);
    let mut layer_of: BTreeMap<&str, (u32, usize)> = BTreeMap::new();
    for t in &table {
        for name in &t.names {
            if let Some(&(other, other_line)) = layer_of.get(name.as_str()) {
                problems.push(format!(
                    "src/lib.rs:{}: `{name}` is on L{} here and on L{other} at line {other_line} \
                     (rule: {RULE_TABLE})",
                    t.line, t.layer
                ));
            } else {
                layer_of.insert(name, (t.layer, t.line));
            }
        }
    }
    // Where each top-level module lives: `src/X.rs`, `src/X/` or both.
    let mut tops: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for s in sources {
        if let Some(top) = s.top() {
            let place = match s.rel.split_once('/') {
                Some((dir, _)) => format!("src/{dir}/"),
                None => s.shown(),
            };
            tops.entry(top).or_default().insert(place);
        }
    }
    for (top, places) in &tops {
        if !layer_of.contains_key(top) {
            let places: Vec<&str> = places.iter().map(String::as_str).collect();
            problems.push(format!(
                "{}: top-level module `{top}` is on no layer of the table in src/lib.rs \
                 (rule: {RULE_TABLE})",
                places.join(", ")
            ));
        }
    }
    let refs = resolved(sources);
    for (from, list) in refs.iter().enumerate() {
        let Some(x) = sources[from].top() else {
            continue; // lib.rs only declares and re-exports
        };
        let mut seen = BTreeSet::new();
        for &(to, r) in list {
            let Some(y) = sources[to].top() else { continue };
            let (Some(&(lx, _)), Some(&(ly, _))) = (layer_of.get(x), layer_of.get(y)) else {
                continue; // reported above
            };
            if x == y || ly < lx || !seen.insert((r.line, y)) {
                continue;
            }
            let (what, rule) = if ly == lx {
                (format!("`{x}` and `{y}` are both on L{lx}"), RULE_SIBLING)
            } else {
                (format!("`{x}` is on L{lx}, `{y}` on L{ly}"), RULE_DOWN)
            };
            problems.push(format!(
                "{}:{}: `{}` imports `{y}` into `{x}`: {what} (rule: {rule})",
                sources[from].shown(),
                r.line,
                r.shown
            ));
        }
    }
    let readme_lines: BTreeSet<&str> = readme.lines().map(str::trim).collect();
    for t in &table {
        if !readme_lines.contains(t.text.as_str()) {
            problems.push(format!(
                "README.md: lacks the line `{}` of the layer table (src/lib.rs:{}) \
                 (rule: {RULE_README})",
                t.text, t.line
            ));
        }
    }
    problems
}

/// Files over [`MAX_LINES`] lines, their `#[cfg(test)]` items not counted.
fn long_files(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter(|s| s.counted_lines > MAX_LINES)
        .map(|s| {
            format!(
                "{}: {} lines besides its #[cfg(test)] items (rule: a source file has at most \
                 {MAX_LINES} lines besides its tests)",
                s.shown(),
                s.counted_lines
            )
        })
        .collect()
}

/// Every problem of a source tree, given as (path under `src/`, text), and its README.
fn check(files: &[(&str, &str)], readme: &str) -> Vec<String> {
    let sources = read_tree(files);
    let lib = files.iter().find(|(rel, _)| *rel == "lib.rs").map(|f| f.1);
    let mut problems = import_cycles(&sources);
    problems.extend(layer_violations(&sources, lib, readme));
    problems.extend(long_files(&sources));
    problems
}

/// Every `.rs` file under `dir`, as (path relative to `root`, text).
fn read_rs_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_rs_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((rel, text));
        }
    }
}

#[test]
fn source_tree_is_layered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    read_rs_files(&root.join("src"), &root.join("src"), &mut files);
    assert!(!files.is_empty(), "no source files under src/");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(r, t)| (r.as_str(), t.as_str()))
        .collect();
    let problems = check(&files, &readme);
    assert!(
        problems.is_empty(),
        "{} problems with the shape of src/:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A lib.rs whose module doc holds `table`.
fn lib_with(table: &str, mods: &str) -> String {
    format!("/*!\nThe crate.\n\n```text\n{table}\n```\n*/\n{mods}")
}

/// The problems that name `rule`.
fn with_rule(problems: &[String], rule: &str) -> Vec<String> {
    problems
        .iter()
        .filter(|p| p.contains(&format!("(rule: {rule})")))
        .cloned()
        .collect()
}

#[test]
fn a_two_file_cycle_is_found_with_both_imports() {
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "//! A.\n\nuse crate::b::B;\n\npub struct A(B);\n"),
        (
            "b.rs",
            "pub struct B;\n\nfn f() -> crate::a::A {\n    todo!()\n}\n",
        ),
    ];
    let problems = import_cycles(&read_tree(&files));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert!(
        p.starts_with("import cycle through 2 files: src/a.rs, src/b.rs"),
        "{p}"
    );
    assert!(p.contains(&format!("(rule: {RULE_CYCLE})")), "{p}");
    assert!(
        p.contains("src/a.rs:3: `crate::b::B` (src/a.rs -> src/b.rs)"),
        "{p}"
    );
    assert!(
        p.contains("src/b.rs:3: `crate::a::A` (src/b.rs -> src/a.rs)"),
        "{p}"
    );
}

#[test]
fn a_three_file_cycle_through_a_use_group_is_found() {
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n"),
        ("a.rs", "use crate::b::Y;\npub struct X;\n"),
        ("b.rs", "use super::c::Z;\npub struct Y;\n"),
        (
            "c.rs",
            "use crate::{\n    a::X,\n    b::Y,\n};\npub struct Z;\n",
        ),
        ("d.rs", "use crate::{a::X, c::Z};\n"),
    ];
    let problems = import_cycles(&read_tree(&files));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert!(
        p.starts_with("import cycle through 3 files: src/a.rs, src/b.rs, src/c.rs"),
        "{p}"
    );
    assert!(
        p.contains("src/a.rs:1: `crate::b::Y` (src/a.rs -> src/b.rs)"),
        "{p}"
    );
    assert!(
        p.contains("src/b.rs:1: `super::c::Z` (src/b.rs -> src/c.rs)"),
        "{p}"
    );
    assert!(
        p.contains("src/c.rs:2: `crate::a::X` (src/c.rs -> src/a.rs)"),
        "{p}"
    );
    assert!(
        p.contains("src/c.rs:3: `crate::b::Y` (src/c.rs -> src/b.rs)"),
        "{p}"
    );
    assert!(
        !p.contains("src/d.rs"),
        "d imports the cycle but is not in it: {p}"
    );
}

/// A tree on four layers: `base` (L0), `mid` and `side` (L1), `top` (L2), `main` (L3).
const TABLE: &str = "L3  main\nL2  top\nL1  mid | side\nL0  base";

/// The README of [`TABLE`].
fn readme() -> String {
    format!("# Design\n\n```\n{TABLE}\n```\n")
}

/// A clean tree on [`TABLE`], with `(path, text)` replaced or added.
fn tree_with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let lib = lib_with(
        TABLE,
        "pub mod base;\npub mod mid;\npub mod side;\npub mod top;\n",
    );
    let mut files: Vec<(&'static str, String)> = vec![
        ("lib.rs", lib),
        (
            "main.rs",
            "use batchrun::top::run;\nfn main() { run() }\n".into(),
        ),
        ("base.rs", "pub fn now() {}\n".into()),
        ("mid.rs", "pub mod deep;\nuse crate::base::now;\n".into()),
        (
            "mid/deep.rs",
            "use crate::base;\nuse super::Thing;\npub struct Thing;\n".into(),
        ),
        ("side.rs", "use crate::{base::now, base};\n".into()),
        (
            "top.rs",
            "use crate::{mid, side};\npub fn run() {}\n".into(),
        ),
    ];
    for &(path, text) in changes {
        match files.iter_mut().find(|f| f.0 == path) {
            Some(f) => f.1 = text.to_string(),
            None => files.push((path, text.to_string())),
        }
    }
    files
}

fn check_tree(files: &[(&'static str, String)], readme: &str) -> Vec<String> {
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    check(&files, readme)
}

#[test]
fn a_clean_tree_passes() {
    let files = tree_with(&[(
        "base.rs",
        "//! Uses nothing: crate::top in a comment, /* crate::mid */ in a block comment.\n\
         /* a block\n   comment: use crate::side; */\n\
         pub fn now() {}\n\
         #[cfg(test)]\n\
         mod tests {\n    use crate::top::run;\n    use super::*;\n}\n\
         #[cfg(test)]\n\
         use crate::mid::deep;\n",
    )]);
    let problems = check_tree(&files, &readme());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn an_upward_import_is_named_with_its_file_line_and_rule() {
    let files = tree_with(&[(
        "base.rs",
        "pub fn now() {}\n\nuse crate::mid::deep::Thing;\n",
    )]);
    let problems = check_tree(&files, &readme());
    let down = with_rule(&problems, RULE_DOWN);
    assert_eq!(
        down,
        [
            "src/base.rs:3: `crate::mid::deep::Thing` imports `mid` into `base`: `base` is on L0, \
          `mid` on L1 (rule: a module imports only modules on lower layers)"
        ],
        "{problems:#?}"
    );
    // The import closes a cycle too (mid -> base -> mid/deep -> mid), reported as one.
    assert_eq!(with_rule(&problems, RULE_CYCLE).len(), 1, "{problems:#?}");
}

#[test]
fn main_counts_batchrun_paths_as_crate_paths() {
    let mut files = tree_with(&[]);
    files[0].1 = lib_with(
        "L1  top\nL0  base main",
        "pub mod base;\npub mod mid;\npub mod side;\npub mod top;\n",
    );
    let problems = check_tree(&files, "L1  top\nL0  base main\n");
    let down = with_rule(&problems, RULE_DOWN);
    assert!(
        down.iter().any(|p| p.starts_with(
            "src/main.rs:1: `batchrun::top::run` imports `top` into `main`: `main` is on L0"
        )),
        "{problems:#?}"
    );
}

#[test]
fn an_import_between_modules_of_one_layer_is_refused() {
    let files = tree_with(&[("mid.rs", "pub mod deep;\nuse crate::side::Other;\n")]);
    let problems = check_tree(&files, &readme());
    let sibling = with_rule(&problems, RULE_SIBLING);
    assert_eq!(
        sibling,
        [
            "src/mid.rs:2: `crate::side::Other` imports `side` into `mid`: `mid` and `side` are \
          both on L1 (rule: modules on the same layer do not import each other)"
        ],
        "{problems:#?}"
    );
}

#[test]
fn a_module_missing_from_the_table_is_named() {
    let files = tree_with(&[("extra/mod.rs", "pub mod more;\n"), ("extra/more.rs", "\n")]);
    let problems = check_tree(&files, &readme());
    assert_eq!(
        with_rule(&problems, RULE_TABLE),
        [
            "src/extra/: top-level module `extra` is on no layer of the table in src/lib.rs \
             (rule: every top-level module has one layer in the table of src/lib.rs)"
        ],
        "{problems:#?}"
    );
}

#[test]
fn a_table_line_the_readme_lacks_and_a_malformed_line_are_named() {
    let mut files = tree_with(&[]);
    files[0].1 = lib_with(
        "L3  main\nL2  top\nL1  mid | side\nL0  base\nL9  app → run",
        "pub mod base;\n",
    );
    let problems = check_tree(&files, "L3  main\n  L2  top  \nL0 base\n");
    assert_eq!(
        with_rule(&problems, RULE_README),
        [
            "README.md: lacks the line `L1  mid | side` of the layer table (src/lib.rs:7) \
             (rule: README.md repeats the layer table of src/lib.rs line for line)",
            "README.md: lacks the line `L0  base` of the layer table (src/lib.rs:8) \
             (rule: README.md repeats the layer table of src/lib.rs line for line)",
        ],
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(
            "src/lib.rs:9: `L9  app → run` is not a layer table line `L<n>  name name ...`"
        )),
        "{problems:#?}"
    );
}

#[test]
fn a_long_file_is_named_and_its_test_module_is_not_counted() {
    let body = |n: usize| "fn f() {}\n".repeat(n);
    let tests = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        "    fn t() {}\n".repeat(500)
    );
    let ok = format!("{}{tests}", body(MAX_LINES));
    let long = format!("{}{tests}", body(MAX_LINES + 1));
    let files = [
        ("lib.rs", ""),
        ("ok.rs", ok.as_str()),
        ("long.rs", long.as_str()),
    ];
    let sources = read_tree(&files);
    assert_eq!(
        long_files(&sources),
        ["src/long.rs: 701 lines besides its #[cfg(test)] items (rule: a source file has at most \
          700 lines besides its tests)"]
    );
}

#[test]
fn references_follow_module_cycles_py() {
    let code = strip(
        "use crate::{a::{b, c}, d::E};\n\
         use self::x;\n\
         pub(super) fn f() -> super::y::Z { my_crate::q(); selfish(); todo!() }\n\
         let s = \"http://crate::w\";\n\
         use crate::p::{q; r};\n",
    )
    .code;
    let here = vec!["m".to_string(), "n".to_string()];
    let refs: Vec<(usize, String, String)> = references(&code, &here, None)
        .into_iter()
        .map(|r| (r.line, r.shown, r.path.join("::")))
        .collect();
    let expect = [
        // The group ends at its first `}`: `a::{b` counts as `a`, ` c` as `c`; `d::E` is past it.
        (1, "crate::a", "a"),
        (1, "crate::c", "c"),
        (2, "self::x", "m::n::x"),
        (3, "super", "m"),
        (3, "super::y::Z", "m::y::Z"),
        (3, "self", "m::n"),
        // `//` starts a comment even inside a string.
        (5, "crate::p", "p"),
    ];
    let got: Vec<(usize, &str, &str)> = refs
        .iter()
        .map(|(l, s, p)| (*l, s.as_str(), p.as_str()))
        .collect();
    assert_eq!(got, expect);
}
