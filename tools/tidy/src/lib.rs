//! Tidy checks for the Weft workspace, in the spirit of rust-analyzer's `xtask/src/tidy.rs`: tests
//! that keep the crate layering and the module structure honest.
//!
//! **Layering.** `docs/ARCHITECTURE.md` has a table whose header row starts with `| crate |`; its
//! rows name the workspace's packages in dependency order, lowest layer first. Every workspace
//! member must have a row, and every dependency of a member on another member (in
//! `[dependencies]`, `[build-dependencies]` or `[target.'…'.dependencies]`) must be on a crate the
//! table lists earlier. `[dev-dependencies]` are exempt: integration tests may use a higher crate.
//!
//! **No import circles.** Within a crate, no file may reach itself through its references to other
//! files of the crate: `crate::…`, `super::…` and `self::…` paths, and paths into the modules a
//! file declares. Each reference goes to the file of the longest module path it names; one that
//! names an item a module imports (the crate root's `pub use a::Thing`) goes on to where it is
//! imported from, which is no file of the crate if that is another crate. A `mod x;` declaration
//! is ownership, not a reference. Comments, string literals and `#[cfg(test)]` items are left
//! out: unit tests are leaves compiled only in tests.
//!
//! How: `Cargo.toml` files are read with a TOML parser, Rust files with a small lexer that drops
//! comments and literals, and the checks work on that text alone. They must not know more: they
//! never build, expand macros or run anything, and do not resolve names as rustc does, so modules
//! behind `#[path]` or made by macros are beyond them. Each check is a pure function on in-memory
//! inputs ([`documented_order`], [`check_layering`], [`file_edges`], [`crate_cycles`]); [`run`]
//! applies them all to a workspace on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::fs;
use std::path::Path;

use toml::{Table, Value};

/// Where the documented crate order lives, relative to the workspace root.
pub const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

/// What [`run`] found in a workspace.
#[derive(Debug)]
pub struct Report {
    /// The workspace members, in the order of the root manifest.
    pub packages: Vec<Package>,
    /// The documented crate order, lowest layer first; empty if there is no crate table.
    pub order: Vec<String>,
    /// Layering violations, one sentence each.
    pub layering: Vec<String>,
    /// Import circles between the files of a crate.
    pub cycles: Vec<Cycle>,
}

impl Report {
    /// The crate graph, one line per crate with its workspace dependencies (dev-dependencies
    /// left out): documented crates first, in the documented order, then any the table misses.
    pub fn crate_graph(&self) -> String {
        let position: HashMap<&str, usize> = self
            .order
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .rev()
            .collect();
        let members: HashMap<&str, &Package> =
            self.packages.iter().map(|p| (p.name.as_str(), p)).collect();
        let line = |package: &Package| {
            let mut deps: Vec<&str> = package
                .dependencies
                .iter()
                .map(|d| d.package.as_str())
                .filter(|d| members.contains_key(d) && *d != package.name)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            deps.sort_by_key(|d| (position.get(d).copied().unwrap_or(usize::MAX), *d));
            let deps = if deps.is_empty() {
                "(none)".to_string()
            } else {
                deps.join(", ")
            };
            format!("{} ({}) → {deps}\n", package.name, package.dir)
        };

        let mut out = format!("Crate graph, lowest layer first, in the order of {ARCHITECTURE}:\n");
        let mut shown = HashSet::new();
        for name in &self.order {
            if !shown.insert(name.as_str()) {
                continue;
            }
            match members.get(name.as_str()) {
                Some(package) => out.push_str(&line(package)),
                None => out.push_str(&format!("{name} (not a workspace member)\n")),
            }
        }
        let missing: Vec<&Package> = self
            .packages
            .iter()
            .filter(|p| !shown.contains(p.name.as_str()))
            .collect();
        if !missing.is_empty() {
            out.push_str(&format!("Not in {ARCHITECTURE}:\n"));
            for package in missing {
                out.push_str(&line(package));
            }
        }
        out
    }
}

/// Runs every check on the workspace at `workspace_root`.
///
/// Violations are in the [`Report`]; an error means a manifest or source file could not be read
/// or parsed. A missing `docs/ARCHITECTURE.md` or crate table is a layering violation.
pub fn run(workspace_root: &Path) -> Result<Report, String> {
    let root = RootManifest::parse(&read(workspace_root, "Cargo.toml")?)
        .map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut packages = Vec::new();
    for dir in expand_members(workspace_root, &root)? {
        let manifest = read(workspace_root, &format!("{dir}/Cargo.toml"))?;
        let package = Package::parse(&dir, &manifest, &root.renames)
            .map_err(|e| format!("{dir}/Cargo.toml: {e}"))?;
        packages.push(package);
    }

    let (order, layering) = match fs::read_to_string(workspace_root.join(ARCHITECTURE)) {
        Ok(markdown) => match documented_order(&markdown) {
            Some(order) => {
                let violations = check_layering(&order, &packages);
                (order.crates, violations)
            }
            None => {
                let missing =
                    format!("{ARCHITECTURE} has no table whose header row starts with `| crate |`");
                (Vec::new(), vec![missing])
            }
        },
        Err(e) => (Vec::new(), vec![format!("cannot read {ARCHITECTURE}: {e}")]),
    };

    let mut cycles = Vec::new();
    for package in &packages {
        let files = read_sources(&workspace_root.join(&package.dir))?;
        cycles.extend(crate_cycles(&package.dir, &files));
    }
    Ok(Report {
        packages,
        order,
        layering,
        cycles,
    })
}

fn read(root: &Path, relative: &str) -> Result<String, String> {
    fs::read_to_string(root.join(relative)).map_err(|e| format!("cannot read {relative}: {e}"))
}

/// The paths of the workspace members, with `dir/*` globs expanded to the directories under `dir`
/// that hold a `Cargo.toml` (less the `exclude`d ones).
fn expand_members(workspace_root: &Path, root: &RootManifest) -> Result<Vec<String>, String> {
    let mut members = Vec::new();
    for member in &root.members {
        let Some(parent) = member.strip_suffix("/*").filter(|p| !p.contains('*')) else {
            if member.contains('*') {
                return Err(format!("unsupported glob in [workspace] members: {member}"));
            }
            members.push(member.trim_end_matches('/').to_string());
            continue;
        };
        let entries = fs::read_dir(workspace_root.join(parent))
            .map_err(|e| format!("cannot list {parent}: {e}"))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {parent}: {e}"))?;
            let dir = format!("{parent}/{}", entry.file_name().to_string_lossy());
            if entry.path().join("Cargo.toml").is_file() && !root.exclude.contains(&dir) {
                found.push(dir);
            }
        }
        found.sort();
        members.extend(found);
    }
    Ok(members)
}

/// Every `.rs` file under `crate_dir/src`, with its path relative to `crate_dir`.
fn read_sources(crate_dir: &Path) -> Result<Vec<SourceFile>, String> {
    fn walk(dir: &Path, relative: &str, out: &mut Vec<SourceFile>) -> Result<(), String> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{relative}/{name}");
            if path.is_dir() {
                walk(&path, &relative, out)?;
            } else if name.ends_with(".rs") {
                let text = fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                out.push(SourceFile {
                    path: relative,
                    text,
                });
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    let src = crate_dir.join("src");
    if src.is_dir() {
        walk(&src, "src", &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// Layering
// ---------------------------------------------------------------------------------------------

/// The crate table of `docs/ARCHITECTURE.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedOrder {
    /// Package names in the order of the table's rows, lowest layer first.
    pub crates: Vec<String>,
    /// Rows that name no package, and packages named twice.
    pub problems: Vec<String>,
}

/// Parses the first markdown table whose header row starts with `| crate |`: the first cell of
/// each body row is a backticked package name, and the rows are in dependency order, lowest layer
/// first. `None` if there is no such table.
pub fn documented_order(markdown: &str) -> Option<DocumentedOrder> {
    let mut lines = markdown.lines().map(str::trim);
    lines.find(|line| first_cell(line) == Some("crate"))?;
    let mut order = DocumentedOrder {
        crates: Vec::new(),
        problems: Vec::new(),
    };
    let mut rows = lines.take_while(|line| line.starts_with('|')).peekable();
    if rows.next_if(|line| is_separator_row(line)).is_none() {
        order.problems.push(format!(
            "the crate table in {ARCHITECTURE} has no `| --- |` row under its header"
        ));
    }
    for row in rows {
        let cell = first_cell(row).unwrap_or_default();
        match backticked_name(cell) {
            Some(name) if order.crates.iter().any(|c| c == name) => {
                order
                    .problems
                    .push(format!("{ARCHITECTURE} lists `{name}` twice"));
            }
            Some(name) => order.crates.push(name.to_string()),
            None => order.problems.push(format!(
                "the crate table in {ARCHITECTURE} has a row whose first cell, {cell:?}, is not a \
                 backticked package name"
            )),
        }
    }
    Some(order)
}

/// The trimmed text between a table row's first two `|`.
fn first_cell(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('|')?;
    let end = rest.find('|')?;
    Some(rest[..end].trim())
}

fn is_separator_row(line: &str) -> bool {
    line.split('|')
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .all(|cell| cell.contains('-') && cell.chars().all(|c| matches!(c, '-' | ':')))
}

fn backticked_name(cell: &str) -> Option<&str> {
    let name = cell.strip_prefix('`')?.strip_suffix('`')?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some(name)
}

/// What the checks need of the workspace's root `Cargo.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootManifest {
    /// `[workspace] members`: paths relative to the workspace root, possibly `dir/*` globs.
    pub members: Vec<String>,
    /// `[workspace] exclude`.
    pub exclude: Vec<String>,
    /// `[workspace.dependencies]` keys renamed with `package = "…"`: key → package name.
    pub renames: HashMap<String, String>,
}

impl RootManifest {
    /// Parses the text of a workspace's root `Cargo.toml`.
    pub fn parse(text: &str) -> Result<RootManifest, String> {
        let toml: Table = text.parse().map_err(|e| format!("{e}"))?;
        let workspace = toml.get("workspace").ok_or("no [workspace] table")?;
        let strings = |key: &str| -> Vec<String> {
            workspace
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let renames = workspace
            .get("dependencies")
            .and_then(Value::as_table)
            .map(|deps| {
                deps.iter()
                    .filter_map(|(key, dep)| {
                        let package = dep.get("package")?.as_str()?;
                        Some((key.clone(), package.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(RootManifest {
            members: strings("members"),
            exclude: strings("exclude"),
            renames,
        })
    }
}

/// A workspace member: its package name and the dependencies that the layering constrains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `[package] name`.
    pub name: String,
    /// The member's path relative to the workspace root, as in `[workspace] members`.
    pub dir: String,
    /// Dependencies from `[dependencies]`, `[build-dependencies]` and their
    /// `[target.'…'.…]` forms; never `[dev-dependencies]`.
    pub dependencies: Vec<Dependency>,
}

/// One dependency of a [`Package`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package depended on: the key, or its `package = "…"` when renamed (here or in
    /// `[workspace.dependencies]`).
    pub package: String,
    /// The table it is in, e.g. `dependencies` or `target.'cfg(unix)'.build-dependencies`.
    pub table: String,
}

/// The dependency tables the layering constrains.
const LAYERED_TABLES: [&str; 2] = ["dependencies", "build-dependencies"];

impl Package {
    /// Parses a member's `Cargo.toml`; `renames` are the root manifest's
    /// [`RootManifest::renames`], for dependencies written `key.workspace = true`.
    pub fn parse(
        dir: &str,
        text: &str,
        renames: &HashMap<String, String>,
    ) -> Result<Package, String> {
        let toml: Table = text.parse().map_err(|e| format!("{e}"))?;
        let name = toml
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .ok_or("no [package] name")?;
        let mut dependencies = Vec::new();
        let mut collect = |deps: Option<&Value>, table: String| {
            for (key, dep) in deps.and_then(Value::as_table).into_iter().flatten() {
                let package = match dep.get("package").and_then(Value::as_str) {
                    Some(package) => package,
                    None if dep.get("workspace").and_then(Value::as_bool) == Some(true) => {
                        renames.get(key).map_or(key.as_str(), String::as_str)
                    }
                    None => key.as_str(),
                };
                dependencies.push(Dependency {
                    package: package.to_string(),
                    table: table.clone(),
                });
            }
        };
        for table in LAYERED_TABLES {
            collect(toml.get(table), table.to_string());
        }
        for (cfg, target) in toml
            .get("target")
            .and_then(Value::as_table)
            .into_iter()
            .flatten()
        {
            for table in LAYERED_TABLES {
                collect(target.get(table), format!("target.'{cfg}'.{table}"));
            }
        }
        Ok(Package {
            name: name.to_string(),
            dir: dir.to_string(),
            dependencies,
        })
    }
}

/// Checks the workspace members against the documented order: every member has a row, every row
/// is a member, and every dependency on another member is on a crate documented earlier.
pub fn check_layering(order: &DocumentedOrder, packages: &[Package]) -> Vec<String> {
    let mut violations = order.problems.clone();
    let members: HashSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let position: HashMap<&str, usize> = order
        .crates
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .rev()
        .collect();

    for name in &order.crates {
        if !members.contains(name.as_str()) {
            violations.push(format!(
                "{ARCHITECTURE} lists `{name}`, which is not a workspace member"
            ));
        }
    }
    for package in packages {
        let Some(&mine) = position.get(package.name.as_str()) else {
            violations.push(format!(
                "`{}` ({}) is a workspace member but has no row in the crate table of \
                 {ARCHITECTURE}",
                package.name, package.dir
            ));
            continue;
        };
        let mut reported = HashSet::new();
        for dep in &package.dependencies {
            let name = dep.package.as_str();
            if name == package.name || !members.contains(name) {
                continue;
            }
            // A member without a row is reported on its own.
            let Some(&theirs) = position.get(name) else {
                continue;
            };
            if theirs > mine && reported.insert(name) {
                let table = if dep.table == "dependencies" {
                    String::new()
                } else {
                    format!(" (in [{}])", dep.table)
                };
                violations.push(format!(
                    "`{}` depends on `{name}`, which the documented order in {ARCHITECTURE} puts \
                     above it{table}",
                    package.name
                ));
            }
        }
    }
    violations
}

// ---------------------------------------------------------------------------------------------
// Module structure
// ---------------------------------------------------------------------------------------------

/// A Rust source file of a crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path relative to the crate's directory, with `/` separators: `src/a/b.rs`.
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// A reference from one file of a crate to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The referring file, as `crate_dir/src/…`.
    pub from: String,
    /// The file referred to.
    pub to: String,
    /// The first reference seen, e.g. `crate::service::Node`.
    pub reference: String,
}

/// Files of one crate that reach each other through their references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// A closed walk through every file of the circle; it ends where it starts.
    pub files: Vec<String>,
    /// The references along the walk, one per step.
    pub edges: Vec<Edge>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.files.join(" → "))?;
        for edge in &self.edges {
            write!(f, "\n    {} uses `{}`", edge.from, edge.reference)?;
        }
        Ok(())
    }
}

/// The import circles between the files of one crate: [`file_edges`] grouped into strongly
/// connected components (Tarjan), each with more than one file reported as a [`Cycle`].
///
/// `crate_dir` prefixes the file names in the result (`chain/node` gives
/// `chain/node/src/service.rs`).
pub fn crate_cycles(crate_dir: &str, files: &[SourceFile]) -> Vec<Cycle> {
    let edges = file_edges(crate_dir, files);
    let nodes: Vec<&str> = edges
        .iter()
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut successors = vec![Vec::new(); nodes.len()];
    let mut by_pair = HashMap::new();
    for edge in &edges {
        let (from, to) = (index[edge.from.as_str()], index[edge.to.as_str()]);
        successors[from].push(to);
        by_pair.insert((from, to), edge);
    }

    let mut cycles: Vec<Cycle> = strongly_connected_components(&successors)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let walk = closed_walk(&component, &successors);
            Cycle {
                files: walk.iter().map(|&n| nodes[n].to_string()).collect(),
                edges: walk
                    .windows(2)
                    .map(|w| by_pair[&(w[0], w[1])].clone())
                    .collect(),
            }
        })
        .collect();
    cycles.sort_by(|a, b| a.files.cmp(&b.files));
    cycles
}

/// Tarjan's strongly connected components of the graph `successors[node] = [next, …]`.
fn strongly_connected_components(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Tarjan<'a> {
        successors: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next_index: usize,
        components: Vec<Vec<usize>>,
    }

    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next_index);
            self.low[v] = self.next_index;
            self.next_index += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            let successors = self.successors;
            for &w in &successors[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(w_index) if self.on_stack[w] => self.low[v] = self.low[v].min(w_index),
                    Some(_) => {}
                }
            }
            if self.index[v] == Some(self.low[v]) {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                self.components.push(component);
            }
        }
    }

    let n = successors.len();
    let mut tarjan = Tarjan {
        successors,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next_index: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if tarjan.index[v].is_none() {
            tarjan.visit(v);
        }
    }
    tarjan.components
}

/// A closed walk through every node of a strongly connected `component` (sorted): from its first
/// node, the shortest way to each node not yet passed, then back.
fn closed_walk(component: &[usize], successors: &[Vec<usize>]) -> Vec<usize> {
    let members: HashSet<usize> = component.iter().copied().collect();
    let shortest = |from: usize, to: usize| -> Vec<usize> {
        let mut previous = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            for &w in &successors[v] {
                if members.contains(&w) && w != from && !previous.contains_key(&w) {
                    previous.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        // Strongly connected: `to` is reachable. Walk back from it.
        let mut path = vec![to];
        while let Some(&v) = path.last().and_then(|v| previous.get(v)) {
            if v == from {
                break;
            }
            path.push(v);
        }
        path.reverse();
        path
    };

    let start = component[0];
    let mut walk = vec![start];
    let mut passed = HashSet::from([start]);
    for &node in component {
        if passed.insert(node) {
            let current = *walk.last().unwrap_or(&start);
            let path = shortest(current, node);
            passed.extend(path.iter().copied());
            walk.extend(path);
        }
    }
    let current = *walk.last().unwrap_or(&start);
    walk.extend(shortest(current, start));
    walk
}

/// The references between the files of one crate, one [`Edge`] per pair of files (self
/// references left out), sorted.
///
/// `src/lib.rs` (else `src/main.rs`) is the crate root and the other files under `src/` are its
/// modules by their paths (`src/a.rs` or `src/a/mod.rs` is `a`, `src/a/b.rs` is `a::b`). Each
/// other binary root (`src/bin/x.rs`, `src/bin/x/main.rs`, and `src/main.rs` beside a
/// `src/lib.rs`) is a crate of its own, made of the modules it declares.
pub fn file_edges(crate_dir: &str, files: &[SourceFile]) -> Vec<Edge> {
    let scans: BTreeMap<&str, Scan> = files
        .iter()
        .map(|f| (f.path.as_str(), Scan::of(&f.text)))
        .collect();
    let label = |path: &str| {
        if crate_dir.is_empty() {
            path.to_string()
        } else {
            format!("{crate_dir}/{path}")
        }
    };
    let mut edges: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for target in Target::all(&scans) {
        target.collect_edges(&scans, &mut edges);
    }
    edges
        .into_iter()
        .map(|((from, to), reference)| Edge {
            from: label(from),
            to: label(to),
            reference,
        })
        .collect()
}

/// One crate (library or binary) of a package: module path → file.
struct Target<'s> {
    modules: BTreeMap<Vec<String>, &'s str>,
}

impl<'s> Target<'s> {
    /// The library (or sole binary) crate and each other binary crate of a package.
    fn all(scans: &BTreeMap<&'s str, Scan>) -> Vec<Target<'s>> {
        let has = |path: &str| scans.contains_key(path);
        let main_root = ["src/lib.rs", "src/main.rs"].into_iter().find(|&p| has(p));
        let mut other_roots: Vec<&str> = Vec::new();
        if main_root == Some("src/lib.rs") && has("src/main.rs") {
            other_roots.push("src/main.rs");
        }
        for &path in scans.keys() {
            if let Some(bin) = path.strip_prefix("src/bin/") {
                let is_root = match bin.split_once('/') {
                    None => true,
                    Some((_, rest)) => rest == "main.rs",
                };
                if is_root {
                    other_roots.push(path);
                }
            }
        }

        let mut targets = Vec::new();
        let mut claimed = HashSet::new();
        for root in other_roots {
            if let Some((&root, _)) = scans.get_key_value(root) {
                let target = Target::declared(root, scans);
                claimed.extend(target.modules.values().copied());
                targets.push(target);
            }
        }
        if let Some((&root, _)) = main_root.and_then(|r| scans.get_key_value(r)) {
            targets.push(Target::by_path(root, scans, &claimed));
        }
        targets
    }

    /// The crate rooted at `root`, its modules mapped from their paths under `src/`, less
    /// `src/bin/`, the files of other crates and the modules declared only `#[cfg(test)]`.
    fn by_path(
        root: &'s str,
        scans: &BTreeMap<&'s str, Scan>,
        claimed: &HashSet<&'s str>,
    ) -> Target<'s> {
        let mut modules = BTreeMap::new();
        for &path in scans.keys() {
            if path == root {
                modules.insert(Vec::new(), path);
                continue;
            }
            if claimed.contains(path) || path.starts_with("src/bin/") {
                continue;
            }
            let Some(module) = path
                .strip_prefix("src/")
                .and_then(|p| p.strip_suffix(".rs"))
            else {
                continue;
            };
            let mut module: Vec<String> = module.split('/').map(String::from).collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            if !module.is_empty() {
                modules.insert(module, path);
            }
        }
        let test_only: Vec<Vec<String>> = modules
            .keys()
            .filter_map(|module| {
                let (name, parent) = module.split_last()?;
                let parent_scan = &scans[modules.get(parent)?];
                parent_scan.test_mods.contains(name).then(|| module.clone())
            })
            .collect();
        modules.retain(|module, _| !test_only.iter().any(|t| module.starts_with(t)));
        Target { modules }
    }

    /// The crate rooted at `root`, made of the modules declared with `mod x;` from it down.
    fn declared(root: &'s str, scans: &BTreeMap<&'s str, Scan>) -> Target<'s> {
        let mut modules = BTreeMap::from([(Vec::new(), root)]);
        let mut queue = VecDeque::from([(root, Vec::<String>::new(), true)]);
        while let Some((path, module, owns_directory)) = queue.pop_front() {
            let (parent_dir, file) = path.rsplit_once('/').unwrap_or(("", path));
            let dir = if owns_directory {
                parent_dir.to_string()
            } else {
                format!("{parent_dir}/{}", file.trim_end_matches(".rs"))
            };
            for (inline, name) in &scans[path].mods {
                let mut sub = dir.clone();
                for segment in inline.iter().chain([name]) {
                    sub = format!("{sub}/{segment}");
                }
                let candidates = [format!("{sub}.rs"), format!("{sub}/mod.rs")];
                let Some((&child, _)) = candidates
                    .iter()
                    .find_map(|c| scans.get_key_value(c.as_str()))
                else {
                    continue;
                };
                let mut child_module = module.clone();
                child_module.extend(inline.iter().cloned());
                child_module.push(name.clone());
                if !modules.contains_key(&child_module) {
                    modules.insert(child_module.clone(), child);
                    queue.push_back((child, child_module, child.ends_with("/mod.rs")));
                }
            }
        }
        Target { modules }
    }

    fn collect_edges(
        &self,
        scans: &BTreeMap<&'s str, Scan>,
        edges: &mut BTreeMap<(&'s str, &'s str), String>,
    ) {
        for (module, &path) in &self.modules {
            for reference in &scans[path].paths {
                let mut current = module.clone();
                current.extend(reference.inline.iter().cloned());
                let Some((base, rest)) = self.start(&current, &reference.segments) else {
                    continue;
                };
                let Some(target) = self.resolve(base, rest, scans, 0) else {
                    continue;
                };
                let target = self.file_of(target);
                if target != path {
                    edges
                        .entry((path, target))
                        .or_insert_with(|| reference.to_string());
                }
            }
        }
    }

    /// Where a path starts, seen from module `current`: the module its first segments name
    /// (`crate`, `self`, `super`, or a child module) and the segments after them. `None` for a
    /// path that does not start in this crate.
    fn start<'p>(
        &self,
        current: &[String],
        segments: &'p [String],
    ) -> Option<(Vec<String>, &'p [String])> {
        let (first, mut rest) = segments.split_first()?;
        let mut base = current.to_vec();
        match first.as_str() {
            "crate" => base.clear(),
            "self" => {}
            "super" => rest = segments,
            child => {
                base.push(child.to_string());
                if !self.modules.contains_key(&base) {
                    return None;
                }
                base.pop();
                rest = segments;
            }
        }
        while let Some((_, after)) = rest.split_first().filter(|(s, _)| *s == "super") {
            base.pop()?;
            rest = after;
        }
        Some((base, rest))
    }

    /// The module that `rest`, read from module `base`, lands in: the longest module path it
    /// names; for a name that is not a module, the module its `use` imports it from, if any.
    /// `None` if that `use` imports it from outside the crate.
    fn resolve(
        &self,
        base: Vec<String>,
        rest: &[String],
        scans: &BTreeMap<&'s str, Scan>,
        depth: usize,
    ) -> Option<Vec<String>> {
        let mut module = base;
        let mut rest = rest;
        while let Some((segment, after)) = rest.split_first() {
            module.push(segment.clone());
            if !self.modules.contains_key(&module) {
                module.pop();
                break;
            }
            rest = after;
        }
        let (Some(name), Some(path)) = (rest.first(), self.modules.get(&module)) else {
            return Some(module);
        };
        if depth > 8 {
            return Some(module);
        }
        let scan = &scans[path];
        if let Some(import) = scan.imports.iter().find(|i| i.name.as_ref() == Some(name)) {
            let (base, rest) = self.start(&module, &import.segments)?;
            return self.resolve(base, rest, scans, depth + 1);
        }
        if scan.items.contains(name) {
            return Some(module);
        }
        // Glob imports from this crate: the one whose module has the name, else the only one.
        let globs: Vec<Vec<String>> = scan
            .imports
            .iter()
            .filter(|i| i.name.is_none())
            .filter_map(|i| self.start(&module, &i.segments))
            .filter_map(|(base, rest)| self.resolve(base, rest, scans, depth + 1))
            .filter(|m| *m != module && self.modules.contains_key(m))
            .collect();
        let provides = |m: &Vec<String>| {
            let scan = &scans[self.modules[m]];
            scan.items.contains(name) || scan.imports.iter().any(|i| i.name.as_ref() == Some(name))
        };
        let provider = globs
            .iter()
            .find(|m| provides(m))
            .or(match globs.as_slice() {
                [only] => Some(only),
                _ => None,
            });
        match provider {
            Some(provider) => self.resolve(provider.clone(), &rest[..1], scans, depth + 1),
            None => Some(module),
        }
    }

    /// The file of `module`, or of its nearest ancestor that has one (for inline modules).
    fn file_of(&self, mut module: Vec<String>) -> &'s str {
        loop {
            if let Some(&path) = self.modules.get(&module) {
                return path;
            }
            if module.pop().is_none() {
                return self.modules.get(&Vec::new()).copied().unwrap_or_default();
            }
        }
    }
}

/// What the module check needs of one file, read from its tokens after comments, literals and
/// `#[cfg(test)]` items are gone.
#[derive(Debug, Default)]
struct Scan {
    /// Every path of the form `a::b…` (including each leaf of a `use` tree).
    paths: Vec<PathRef>,
    /// `mod name;` declarations, each with the inline modules it sits in.
    mods: Vec<(Vec<String>, String)>,
    /// `mod name;` declarations gated by `#[cfg(test)]`.
    test_mods: Vec<String>,
    /// The leaves of the file's top-level `use` declarations.
    imports: Vec<UseLeaf>,
    /// The names of the items the file defines at its top level.
    items: HashSet<String>,
}

/// A path in a file, with the inline modules (`mod x { … }`) it sits in.
#[derive(Debug, Clone)]
struct PathRef {
    inline: Vec<String>,
    segments: Vec<String>,
    glob: bool,
}

impl fmt::Display for PathRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.segments.join("::"),
            if self.glob { "::*" } else { "" }
        )
    }
}

/// A leaf of a `use` tree: `use a::{b::C as D, e::*}` has `a::b::C` named `D` and `a::e` glob.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UseLeaf {
    segments: Vec<String>,
    /// The name it brings into scope; `None` for a glob.
    name: Option<String>,
}

/// Keywords that introduce a named item (`struct Name`, `macro_rules! name`, …).
const ITEM_KEYWORDS: [&str; 10] = [
    "struct",
    "enum",
    "union",
    "trait",
    "type",
    "fn",
    "const",
    "static",
    "mod",
    "macro_rules",
];

impl Scan {
    fn of(source: &str) -> Scan {
        let (tokens, test_mods) = without_test_items(tokenize(source));
        let mut scan = Scan {
            test_mods,
            ..Scan::default()
        };
        // Inline modules we are in, each with the brace depth inside it.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0;
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                Token::Punct('{') => depth += 1,
                Token::Punct('}') => {
                    if inline.last().is_some_and(|(_, d)| *d == depth) {
                        inline.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                // `pub(in crate::a)` restricts visibility; it imports nothing.
                Token::Ident(pub_)
                    if pub_ == "pub"
                        && tokens.get(i + 1) == Some(&Token::Punct('('))
                        && ident_at(&tokens, i + 2) == Some("in") =>
                {
                    i = matching(&tokens, i + 1) + 1;
                    continue;
                }
                Token::Ident(mod_) if mod_ == "mod" => {
                    if let Some(name) = ident_at(&tokens, i + 1) {
                        if depth == 0 {
                            scan.items.insert(name.to_string());
                        }
                        match tokens.get(i + 2) {
                            Some(Token::Punct(';')) => {
                                scan.mods.push((names(&inline), name.to_string()));
                                i += 3;
                            }
                            Some(Token::Punct('{')) => {
                                depth += 1;
                                inline.push((name.to_string(), depth));
                                i += 3;
                            }
                            _ => i += 2,
                        }
                        continue;
                    }
                }
                Token::Ident(use_) if use_ == "use" => {
                    let mut leaves = Vec::new();
                    i = parse_use_tree(&tokens, i + 1, &[], &mut leaves);
                    for leaf in leaves {
                        scan.paths.push(PathRef {
                            inline: names(&inline),
                            segments: leaf.segments.clone(),
                            glob: leaf.name.is_none(),
                        });
                        if depth == 0 {
                            scan.imports.push(leaf);
                        }
                    }
                    continue;
                }
                Token::Ident(_)
                    if tokens.get(i + 1) == Some(&Token::PathSep) && starts_path(&tokens, i) =>
                {
                    let mut leaves = Vec::new();
                    i = parse_use_tree(&tokens, i, &[], &mut leaves);
                    scan.paths.extend(leaves.into_iter().map(|leaf| PathRef {
                        inline: names(&inline),
                        glob: leaf.name.is_none(),
                        segments: leaf.segments,
                    }));
                    continue;
                }
                Token::Ident(keyword)
                    if depth == 0 && ITEM_KEYWORDS.contains(&keyword.as_str()) =>
                {
                    let at = if keyword == "macro_rules" {
                        i + 2
                    } else {
                        i + 1
                    };
                    if let Some(name) = ident_at(&tokens, at) {
                        scan.items.insert(name.to_string());
                    }
                }
                _ => {}
            }
            i += 1;
        }
        scan
    }
}

/// The names of the inline modules we are in, outermost first.
fn names(inline: &[(String, usize)]) -> Vec<String> {
    inline.iter().map(|(name, _)| name.clone()).collect()
}

/// Whether the identifier at `i` begins a path (is not `x.a` or `…::a`).
fn starts_path(tokens: &[Token], i: usize) -> bool {
    i == 0 || !matches!(tokens[i - 1], Token::PathSep | Token::Punct('.' | '$'))
}

/// Parses a `use` tree (or a plain path) starting at `i`, appending its leaves to `out` with
/// `prefix` before them; returns the index after it.
fn parse_use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<UseLeaf>,
) -> usize {
    let mut segments = prefix.to_vec();
    if tokens.get(i) == Some(&Token::PathSep) {
        // `::name` is an external crate.
        segments.push("::".to_string());
        i += 1;
    }
    loop {
        match tokens.get(i) {
            Some(Token::Ident(segment)) => {
                segments.push(segment.clone());
                i += 1;
                if tokens.get(i) == Some(&Token::PathSep) {
                    i += 1;
                    continue;
                }
                let alias = match (ident_at(tokens, i), ident_at(tokens, i + 1)) {
                    (Some("as"), Some(alias)) => {
                        i += 2;
                        Some(alias.to_string())
                    }
                    _ => None,
                };
                if segments.len() > 1 && segments.last().is_some_and(|s| s == "self") {
                    segments.pop();
                }
                let name = alias.or_else(|| segments.last().cloned());
                out.push(UseLeaf { segments, name });
                return i;
            }
            Some(Token::Punct('*')) => {
                out.push(UseLeaf {
                    segments,
                    name: None,
                });
                return i + 1;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                while i < tokens.len() {
                    match tokens[i] {
                        Token::Punct('}') => return i + 1,
                        Token::Punct(',') => i += 1,
                        _ => {
                            let next = parse_use_tree(tokens, i, &segments, out);
                            // Skip what the tree parser did not take, up to `,` or `}`.
                            i = if next > i { next } else { i + 1 };
                        }
                    }
                }
                return i;
            }
            // A path cut short (`a::<T>`, `a::b::` before something else): keep what we have.
            _ => {
                if segments.len() > prefix.len() {
                    let name = segments.last().cloned();
                    out.push(UseLeaf { segments, name });
                }
                return i;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lexing
// ---------------------------------------------------------------------------------------------

/// A token of Rust source. Comments are dropped, and literals kept without their text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier or keyword; `r#x` is `x` and `$crate` is `crate`.
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A string, character or number literal.
    Literal,
    /// A lifetime or loop label.
    Lifetime,
}

fn ident_at(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Ident(ident)) => Some(ident),
        _ => None,
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits Rust source into tokens, dropping comments (`//`, `///`, `//!`, nested `/* */`) and
/// the text of literals (strings, raw strings, byte and C strings, characters, numbers).
fn tokenize(source: &str) -> Vec<Token> {
    let s: Vec<char> = source.chars().collect();
    let at = |i: usize| s.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        match (c, at(i + 1)) {
            (c, _) if c.is_whitespace() => i += 1,
            ('/', Some('/')) => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            ('/', Some('*')) => i = block_comment_end(&s, i),
            ('"', _) => {
                i = quoted_end(&s, i + 1, '"');
                tokens.push(Token::Literal);
            }
            ('\'', Some('\\')) => {
                i = quoted_end(&s, i + 1, '\'');
                tokens.push(Token::Literal);
            }
            ('\'', Some(_)) if at(i + 2) == Some('\'') => {
                i += 3;
                tokens.push(Token::Literal);
            }
            ('\'', _) => {
                i += 1;
                while at(i).is_some_and(is_ident_continue) {
                    i += 1;
                }
                tokens.push(Token::Lifetime);
            }
            (c, next) if is_ident_start(c) => {
                if let Some(end) = prefixed_literal_end(&s, i) {
                    i = end;
                    tokens.push(Token::Literal);
                    continue;
                }
                if c == 'r' && next == Some('#') && at(i + 2).is_some_and(is_ident_start) {
                    i += 2;
                }
                let start = i;
                while at(i).is_some_and(is_ident_continue) {
                    i += 1;
                }
                tokens.push(Token::Ident(s[start..i].iter().collect()));
            }
            (c, _) if c.is_ascii_digit() => {
                i += 1;
                while let Some(c) = at(i) {
                    let fraction = c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit());
                    if !(is_ident_continue(c) || fraction) {
                        break;
                    }
                    i += 1;
                }
                tokens.push(Token::Literal);
            }
            (':', Some(':')) => {
                i += 2;
                tokens.push(Token::PathSep);
            }
            ('$', _)
                if s[i + 1..].starts_with(&['c', 'r', 'a', 't', 'e'])
                    && !at(i + 6).is_some_and(is_ident_continue) =>
            {
                i += 6;
                tokens.push(Token::Ident("crate".to_string()));
            }
            (c, _) => {
                i += 1;
                tokens.push(Token::Punct(c));
            }
        }
    }
    tokens
}

/// The index after a (possibly nested) block comment starting at `i`.
fn block_comment_end(s: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < s.len() {
        if s[i] == '/' && s.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    s.len()
}

/// The index after the closing `quote` of a literal whose text starts at `i`, with `\` escapes.
fn quoted_end(s: &[char], mut i: usize, quote: char) -> usize {
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// The index after a literal with a prefix (`b"…"`, `b'…'`, `r"…"`, `r#"…"#`, `br"…"`, `c"…"`,
/// `cr"…"`) starting at `i`, if there is one.
fn prefixed_literal_end(s: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(s[j], 'b' | 'c') {
        j += 1;
    }
    let raw = s.get(j) == Some(&'r');
    if raw {
        j += 1;
    }
    if j == i {
        return None;
    }
    if !raw {
        return match s.get(j) {
            Some('"') => Some(quoted_end(s, j + 1, '"')),
            Some('\'') if s[i] == 'b' => Some(quoted_end(s, j + 1, '\'')),
            _ => None,
        };
    }
    let hashes_start = j;
    while s.get(j) == Some(&'#') {
        j += 1;
    }
    let hashes = j - hashes_start;
    if s.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < s.len() {
        if s[j] == '"' && (1..=hashes).all(|k| s.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(s.len())
}

/// The index of the bracket closing the one at `open`, or `tokens.len()` if it is unclosed.
fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Drops the items gated by `#[cfg(test)]` (or `#[cfg(all(test, …))]`), and everything if the
/// file opens with `#![cfg(test)]`. Also returns the names of the `mod x;` declarations dropped.
fn without_test_items(tokens: Vec<Token>) -> (Vec<Token>, Vec<String>) {
    let is_punct = |i: usize, c: char| tokens.get(i) == Some(&Token::Punct(c));
    let mut i = 0;
    while is_punct(i, '#') && is_punct(i + 1, '!') && is_punct(i + 2, '[') {
        let end = matching(&tokens, i + 2);
        if is_test_only(&tokens[(i + 3).min(end)..end]) {
            return (Vec::new(), Vec::new());
        }
        i = end + 1;
    }

    let mut kept = Vec::with_capacity(tokens.len());
    let mut test_mods = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_punct(i, '#') && is_punct(i + 1, '[') {
            let end = matching(&tokens, i + 1);
            if is_test_only(&tokens[(i + 2).min(end)..end]) {
                let item_end = item_end(&tokens, end + 1);
                let item = &tokens[(end + 1).min(item_end)..item_end];
                if let Some(name) = declared_module(item) {
                    test_mods.push(name.to_string());
                }
                i = item_end;
                continue;
            }
        }
        kept.push(tokens[i].clone());
        i += 1;
    }
    (kept, test_mods)
}

/// Whether the inside of an attribute (`cfg(test)`) gates on `test`.
fn is_test_only(attribute: &[Token]) -> bool {
    match attribute {
        [
            Token::Ident(cfg),
            Token::Punct('('),
            predicate @ ..,
            Token::Punct(')'),
        ] if cfg == "cfg" => cfg_needs_test(predicate),
        _ => false,
    }
}

/// Whether a `cfg` predicate holds only in test builds: `test`, or `all(…)` with such a part.
fn cfg_needs_test(predicate: &[Token]) -> bool {
    match predicate {
        [Token::Ident(test)] => test == "test",
        [
            Token::Ident(all),
            Token::Punct('('),
            parts @ ..,
            Token::Punct(')'),
        ] if all == "all" => {
            let mut depth = 0usize;
            let mut start = 0;
            let mut needs_test = false;
            for (i, token) in parts.iter().enumerate() {
                match token {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') => depth = depth.saturating_sub(1),
                    Token::Punct(',') if depth == 0 => {
                        needs_test |= cfg_needs_test(&parts[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            needs_test || cfg_needs_test(&parts[start..])
        }
        _ => false,
    }
}

/// The index after the item (or statement, field, variant) starting at `i`: after its `;` or
/// `,`, after its `{ … }` body, or at the bracket that closes what it sits in.
fn item_end(tokens: &[Token], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < tokens.len() {
        match tokens[i] {
            Token::Punct('{') if depth == 0 => return (matching(tokens, i) + 1).min(tokens.len()),
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') if depth == 0 => return i,
            Token::Punct(')' | ']' | '}') => depth -= 1,
            Token::Punct(';' | ',') if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    tokens.len()
}

/// The name of `mod name;` if `item` is such a declaration (after its visibility).
fn declared_module(item: &[Token]) -> Option<&str> {
    let at = item
        .iter()
        .position(|t| *t == Token::Ident("mod".to_string()))?;
    match &item[at..] {
        [_, Token::Ident(name), Token::Punct(';')] => Some(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[&str]) -> Package {
        Package {
            name: name.to_string(),
            dir: format!("crates/{name}"),
            dependencies: deps
                .iter()
                .map(|d| Dependency {
                    package: d.to_string(),
                    table: "dependencies".to_string(),
                })
                .collect(),
        }
    }

    fn order(names: &[&str]) -> DocumentedOrder {
        DocumentedOrder {
            crates: names.iter().map(|n| n.to_string()).collect(),
            problems: vec![],
        }
    }

    fn files(files: &[(&str, &str)]) -> Vec<SourceFile> {
        files
            .iter()
            .map(|(path, text)| SourceFile {
                path: path.to_string(),
                text: text.to_string(),
            })
            .collect()
    }

    fn edges(sources: &[(&str, &str)]) -> Vec<(String, String)> {
        file_edges("c", &files(sources))
            .into_iter()
            .map(|e| (e.from, e.to))
            .collect()
    }

    fn edge(from: &str, to: &str) -> (String, String) {
        (format!("c/src/{from}"), format!("c/src/{to}"))
    }

    // --- documented order -----------------------------------------------------------------

    #[test]
    fn the_first_crate_table_gives_the_order() {
        let markdown = "\
# Architecture

| name | what |
| --- | --- |
| `not-this` | a table of something else |

| crate | path | what it is |
| --- | --- | --- |
| `weft-types` | `chain/types` | ids |
| `weft-state` | `chain/state` | state |
| contracts | `contracts/counter` | examples |
| `weft-types` | again | |

| crate | path |
| --- | --- |
| `later-table` | ignored |
";
        let order = documented_order(markdown).unwrap();
        assert_eq!(order.crates, ["weft-types", "weft-state"]);
        assert_eq!(order.problems.len(), 2, "{:?}", order.problems);
        assert!(order.problems[0].contains("\"contracts\""));
        assert!(order.problems[1].contains("`weft-types` twice"));
    }

    #[test]
    fn no_crate_table_is_none() {
        assert_eq!(
            documented_order("# Architecture\n\n| name |\n| --- |\n| `x` |\n"),
            None
        );
    }

    // --- manifests ------------------------------------------------------------------------

    #[test]
    fn manifests_give_members_names_and_layered_dependencies() {
        let root = RootManifest::parse(
            r#"
[workspace]
members = ["a", "b"]
[workspace.dependencies]
short = { path = "a", package = "weft-a" }
"#,
        )
        .unwrap();
        assert_eq!(root.members, ["a", "b"]);
        let b = Package::parse(
            "b",
            r#"
[package]
name = "weft-b"
[dependencies]
short.workspace = true
serde = "1"
[build-dependencies]
renamed = { path = "../c", package = "weft-c" }
[target.'cfg(unix)'.dependencies]
weft-d = { path = "../d" }
[dev-dependencies]
weft-e = { path = "../e" }
"#,
            &root.renames,
        )
        .unwrap();
        assert_eq!(b.name, "weft-b");
        let mut deps: Vec<(&str, &str)> = b
            .dependencies
            .iter()
            .map(|d| (d.package.as_str(), d.table.as_str()))
            .collect();
        deps.sort();
        assert_eq!(
            deps,
            [
                ("serde", "dependencies"),
                ("weft-a", "dependencies"),
                ("weft-c", "build-dependencies"),
                ("weft-d", "target.'cfg(unix)'.dependencies"),
            ]
        );
    }

    // --- layering -------------------------------------------------------------------------

    #[test]
    fn a_dependency_on_a_crate_above_is_a_violation() {
        let packages = [
            package("weft-types", &[]),
            package("weft-p2p", &["weft-types", "weft-node", "serde"]),
            package("weft-node", &["weft-types", "weft-p2p"]),
        ];
        let violations =
            check_layering(&order(&["weft-types", "weft-p2p", "weft-node"]), &packages);
        assert_eq!(
            violations,
            [
                "`weft-p2p` depends on `weft-node`, which the documented order in \
              docs/ARCHITECTURE.md puts above it"
            ]
        );
    }

    #[test]
    fn an_upward_build_dependency_names_its_table() {
        let mut low = package("low", &[]);
        low.dependencies.push(Dependency {
            package: "high".into(),
            table: "build-dependencies".into(),
        });
        let violations = check_layering(&order(&["low", "high"]), &[low, package("high", &[])]);
        assert_eq!(violations.len(), 1);
        assert!(violations[0].ends_with("puts above it (in [build-dependencies])"));
    }

    #[test]
    fn a_member_missing_from_the_table_is_a_violation() {
        let packages = [
            package("weft-types", &[]),
            package("weft-cli", &["weft-types"]),
        ];
        let violations = check_layering(&order(&["weft-types", "weft-gone"]), &packages);
        assert_eq!(
            violations,
            [
                "docs/ARCHITECTURE.md lists `weft-gone`, which is not a workspace member",
                "`weft-cli` (crates/weft-cli) is a workspace member but has no row in the crate \
                 table of docs/ARCHITECTURE.md",
            ]
        );
    }

    #[test]
    fn an_upward_dev_dependency_is_no_violation() {
        let root = RootManifest::default();
        let low = Package::parse(
            "low",
            "[package]\nname = \"low\"\n[dev-dependencies]\nhigh = { path = \"../high\" }\n",
            &root.renames,
        )
        .unwrap();
        let violations =
            check_layering(&order(&["low", "high"]), &[low, package("high", &["low"])]);
        assert_eq!(violations, Vec::<String>::new());
    }

    #[test]
    fn table_problems_are_violations() {
        let order = DocumentedOrder {
            crates: vec!["a".into()],
            problems: vec!["bad row".into()],
        };
        assert_eq!(check_layering(&order, &[package("a", &[])]), ["bad row"]);
    }

    // --- module references ----------------------------------------------------------------

    #[test]
    fn crate_paths_both_ways_are_a_cycle() {
        let cycles = crate_cycles(
            "chain/node",
            &files(&[
                ("src/lib.rs", "pub mod service;\npub mod tangle;\n"),
                ("src/service.rs", "pub fn f() { crate::tangle::g(); }\n"),
                (
                    "src/tangle.rs",
                    "pub fn g() { let _ = crate::service::f; }\n",
                ),
            ]),
        );
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].to_string(),
            "chain/node/src/service.rs → chain/node/src/tangle.rs → chain/node/src/service.rs\n    \
             chain/node/src/service.rs uses `crate::tangle::g`\n    \
             chain/node/src/tangle.rs uses `crate::service::f`"
        );
    }

    #[test]
    fn use_groups_are_references() {
        let cycles = crate_cycles(
            "c",
            &files(&[
                ("src/lib.rs", "mod a;\nmod b;\nmod d;\n"),
                ("src/a.rs", "use crate::{d, b::{self, Thing as Other}};\n"),
                ("src/b.rs", "use crate::{a::X, d::Y};\n"),
                ("src/d.rs", "pub struct Y;\n"),
            ]),
        );
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].files, ["c/src/a.rs", "c/src/b.rs", "c/src/a.rs"]);
    }

    #[test]
    fn super_paths_resolve_from_the_files_module() {
        let sources = [
            ("src/lib.rs", "mod net;\n"),
            (
                "src/net/mod.rs",
                "mod peer;\nmod sync;\npub use self::peer::Peer;\n",
            ),
            (
                "src/net/peer.rs",
                "use super::sync::Request;\npub struct Peer;\n",
            ),
            (
                "src/net/sync.rs",
                "pub struct Request(super::super::net::peer::Peer);\n",
            ),
        ];
        let edges = edges(&sources);
        assert!(
            edges.contains(&edge("net/peer.rs", "net/sync.rs")),
            "{edges:?}"
        );
        assert!(
            edges.contains(&edge("net/sync.rs", "net/peer.rs")),
            "{edges:?}"
        );
        let cycles = crate_cycles("c", &files(&sources));
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].files,
            [
                "c/src/net/peer.rs",
                "c/src/net/sync.rs",
                "c/src/net/peer.rs"
            ]
        );
    }

    #[test]
    fn a_longer_cycle_is_walked_through_every_file() {
        let cycles = crate_cycles(
            "c",
            &files(&[
                ("src/lib.rs", "mod a; mod b; mod d;"),
                ("src/a.rs", "use crate::b::B;"),
                ("src/b.rs", "use crate::d::D; pub struct B;"),
                ("src/d.rs", "use crate::a::A; pub struct D;"),
            ]),
        );
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].files,
            ["c/src/a.rs", "c/src/b.rs", "c/src/d.rs", "c/src/a.rs"]
        );
        assert_eq!(cycles[0].edges.len(), 3);
    }

    #[test]
    fn comments_strings_and_test_items_are_not_references() {
        let edges = edges(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            (
                "src/a.rs",
                r##"
//! Unlike [`crate::b::B`], this is about a.
/// See `crate::b::B`.
/* crate::b::B /* nested crate::b::B */ crate::b::B */
pub fn f() -> &'static str {
    let _ = 'x';
    let _ = '"';
    let _ = b"crate::b::B";
    let _ = r#"crate::b::B " crate::b::B"#;
    "crate::b::B \" crate::b::B"
}

#[cfg(test)]
mod tests {
    use crate::b::Double;
    fn g() { crate::b::B::new(); }
}

#[cfg(all(test, feature = "x"))]
use crate::b::Other;
"##,
            ),
            (
                "src/b.rs",
                "pub struct B;\n#[cfg(test)]\npub struct Double(crate::a::A);\n",
            ),
        ]);
        assert_eq!(edges, Vec::<(String, String)>::new());
    }

    #[test]
    fn a_test_only_file_is_not_scanned() {
        let edges = edges(&[
            ("src/lib.rs", "mod a;\n#[cfg(test)]\nmod support;\n"),
            ("src/a.rs", "pub struct A;\n"),
            ("src/support.rs", "use crate::a::A;\n"),
            ("src/other.rs", "#![cfg(test)]\nuse crate::a::A;\n"),
        ]);
        assert_eq!(edges, Vec::<(String, String)>::new());
    }

    #[test]
    fn a_root_reexport_is_an_edge_to_its_module() {
        let edges = edges(&[
            (
                "src/lib.rs",
                "mod a;\nmod b;\npub use a::{Thing, other::*};\n",
            ),
            ("src/a.rs", "pub struct Thing;\n"),
            ("src/b.rs", "fn f(_: crate::Thing) {}\n"),
        ]);
        assert_eq!(edges, [edge("b.rs", "a.rs"), edge("lib.rs", "a.rs")]);
    }

    #[test]
    fn a_name_the_root_imports_from_another_crate_is_no_edge() {
        let edges = edges(&[
            (
                "src/lib.rs",
                "mod b;\npub use borsh::{self, BorshSerialize};\n",
            ),
            (
                "src/b.rs",
                "fn f<T: crate::BorshSerialize>(_: T) { let _ = crate::borsh::to_vec; }\n",
            ),
        ]);
        assert_eq!(edges, Vec::<(String, String)>::new());
    }

    #[test]
    fn a_root_glob_reexport_is_an_edge_to_its_module() {
        let edges = edges(&[
            (
                "src/lib.rs",
                "mod a;\nmod b;\nmod d;\npub use a::*;\npub use d::*;\n",
            ),
            ("src/a.rs", "pub struct Thing;\n"),
            ("src/b.rs", "use crate::{Other, Thing};\n"),
            ("src/d.rs", "pub enum Other {}\n"),
        ]);
        assert_eq!(
            edges,
            [
                edge("b.rs", "a.rs"),
                edge("b.rs", "d.rs"),
                edge("lib.rs", "a.rs"),
                edge("lib.rs", "d.rs"),
            ]
        );
    }

    #[test]
    fn a_root_item_is_an_edge_to_the_root_and_the_roots_uses_count() {
        let sources = [
            (
                "src/lib.rs",
                "mod a;\npub const LIMIT: u32 = 1;\npub fn g() { a::f() }\n",
            ),
            ("src/a.rs", "pub fn f() { let _ = crate::LIMIT; }\n"),
        ];
        assert_eq!(
            edges(&sources),
            [edge("a.rs", "lib.rs"), edge("lib.rs", "a.rs")]
        );
        assert_eq!(crate_cycles("c", &files(&sources)).len(), 1);
    }

    #[test]
    fn declaring_a_module_is_not_a_reference() {
        let edges = edges(&[
            ("src/lib.rs", "pub mod a;\npub(crate) mod b;\n"),
            ("src/a.rs", "pub(in crate::a) fn f() { crate::b::g() }\n"),
            ("src/b.rs", "pub(crate) fn g() { super::a::f() }\n"),
        ]);
        assert_eq!(edges, [edge("a.rs", "b.rs"), edge("b.rs", "a.rs")]);
    }

    #[test]
    fn inline_modules_and_macros_resolve_in_place() {
        let edges = edges(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            (
                "src/a.rs",
                "mod inner { use super::A; }\npub struct A;\n\
                 macro_rules! m { () => { $crate::b::B } }\n",
            ),
            ("src/b.rs", "pub struct B;\n"),
        ]);
        assert_eq!(edges, [edge("a.rs", "b.rs")]);
    }

    #[test]
    fn binaries_are_crates_of_their_own() {
        let edges = edges(&[
            ("src/lib.rs", "mod a;\n"),
            ("src/a.rs", "pub struct A;\n"),
            ("src/main.rs", "mod cli;\nfn main() { cli::run() }\n"),
            ("src/cli.rs", "pub fn run() { let _ = crate::main; }\n"),
            ("src/bin/tool.rs", "fn main() { crate::a::f() }\n"),
            (
                "src/bin/big/main.rs",
                "mod part;\nfn main() { part::f() }\n",
            ),
            ("src/bin/big/part.rs", "pub fn f() { super::main() }\n"),
        ]);
        assert_eq!(
            edges,
            [
                edge("bin/big/main.rs", "bin/big/part.rs"),
                edge("bin/big/part.rs", "bin/big/main.rs"),
                edge("cli.rs", "main.rs"),
                edge("main.rs", "cli.rs"),
            ]
        );
    }

    #[test]
    fn the_lexer_keeps_lifetimes_paths_and_raw_identifiers_apart() {
        let tokens = tokenize("fn f<'a>(x: &'a r#type) -> '\\'' { crate::x::<u8>(1.5, 0x1F) }");
        assert!(tokens.contains(&Token::Lifetime));
        assert!(tokens.contains(&Token::Ident("type".into())));
        assert_eq!(tokens.iter().filter(|t| **t == Token::PathSep).count(), 2);
        assert_eq!(tokens.iter().filter(|t| **t == Token::Literal).count(), 3);
    }
}
