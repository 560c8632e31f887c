//! Memory of a process tree, measured fairly: PSS (proportional set size, from
//! `/proc/<pid>/smaps_rollup`) summed over the root and all its descendants, so pages shared
//! between processes (libraries, shared memory between the app and its WebKit children) count
//! once in total, not once per process as RSS sums do. Where it goes is read from
//! `/proc/<pid>/smaps`, per mapping, grouped into the parts that matter for a webview app.

use std::collections::HashMap;

/// A process of a tree, from /proc.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub comm: String,
    pub rss_kb: u64,
    pub pss_kb: u64,
}

/// The footprint of a process tree at one moment.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    pub procs: Vec<Proc>,
    /// PSS by part (see [`part_of`]), largest first.
    pub by_part: Vec<(&'static str, u64)>,
}

impl Footprint {
    /// Reads the tree below `root` now.
    pub fn of_tree(root: u32) -> Self {
        let procs = process_tree(root);
        let mut parts: HashMap<&'static str, u64> = HashMap::new();
        for p in &procs {
            for (part, kb) in pss_by_part(p.pid) {
                *parts.entry(part).or_default() += kb;
            }
        }
        let mut by_part: Vec<_> = parts.into_iter().filter(|(_, kb)| *kb > 0).collect();
        by_part.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Footprint { procs, by_part }
    }

    pub fn pss_kb(&self) -> u64 {
        self.procs.iter().map(|p| p.pss_kb).sum()
    }

    pub fn rss_kb(&self) -> u64 {
        self.procs.iter().map(|p| p.rss_kb).sum()
    }

    /// "app 80.1, WebKitWebProcess 60.2 …; by part: WebKit 30.1, heap 20.0 …" (MiB, PSS).
    pub fn describe(&self) -> String {
        let mut by_name: HashMap<&str, u64> = HashMap::new();
        for p in &self.procs {
            *by_name.entry(p.comm.as_str()).or_default() += p.pss_kb;
        }
        let mut names: Vec<_> = by_name.into_iter().collect();
        names.sort_by_key(|(_, kb)| std::cmp::Reverse(*kb));
        let names: Vec<String> = names
            .iter()
            .map(|(n, kb)| format!("{n} {:.1}", mib(*kb)))
            .collect();
        let parts: Vec<String> = self
            .by_part
            .iter()
            .map(|(n, kb)| format!("{n} {:.1}", mib(*kb)))
            .collect();
        format!(
            "{} process(es), MiB PSS by process: {}; by mapping: {}; summed RSS {:.1} MiB",
            self.procs.len(),
            names.join(", "),
            parts.join(", "),
            mib(self.rss_kb())
        )
    }
}

/// KiB → MiB.
pub fn mib(kb: u64) -> f64 {
    // u64 → f64 loses nothing for any realistic memory size.
    #[allow(clippy::cast_precision_loss)]
    let kb = kb as f64;
    kb / 1024.0
}

/// Which part of a webview app a mapping belongs to, by its pathname in `smaps`.
pub fn part_of(pathname: &str) -> &'static str {
    let file = pathname.rsplit('/').next().unwrap_or(pathname);
    if pathname.is_empty() || pathname.starts_with("[stack") || pathname == "[anon]" {
        "anonymous"
    } else if pathname == "[heap]" {
        "heap"
    } else if file.starts_with("libwebkit2gtk") || file.starts_with("libWPE") {
        "WebKit"
    } else if file.starts_with("libjavascriptcoregtk") {
        "JavaScriptCore"
    } else if file.starts_with("libLLVM")
        || file.starts_with("libgallium")
        || file.contains("_dri")
        || file.starts_with("libGL")
        || file.starts_with("libEGL")
        || file.starts_with("libgbm")
        || file.starts_with("libglapi")
    {
        "Mesa/llvmpipe"
    } else if file.starts_with("libgtk")
        || file.starts_with("libgdk")
        || file.starts_with("libglib")
        || file.starts_with("libgio")
        || file.starts_with("libgobject")
        || file.starts_with("libcairo")
        || file.starts_with("libpango")
        || file.starts_with("libharfbuzz")
        || file.starts_with("libicu")
    {
        "GTK/GLib/ICU"
    } else if file.starts_with("libgst") {
        "GStreamer"
    } else if pathname.starts_with("/memfd:")
        || pathname.starts_with("/dev/shm")
        || pathname.starts_with("/SYSV")
    {
        "shared memory"
    } else if file.contains(".so") {
        "other libraries"
    } else if pathname.starts_with('/') && !pathname.contains("/fonts/") {
        "program files"
    } else if pathname.contains("/fonts/") {
        "fonts"
    } else {
        "other"
    }
}

/// PSS of one process by [`part_of`], from `/proc/<pid>/smaps` (empty when unreadable).
fn pss_by_part(pid: u32) -> HashMap<&'static str, u64> {
    let mut parts: HashMap<&'static str, u64> = HashMap::new();
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return parts;
    };
    let mut current = "other";
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Pss:") {
            let kb: u64 = kb
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            *parts.entry(current).or_default() += kb;
        } else if is_mapping_header(line) {
            // address perms offset dev inode [pathname…]
            let pathname = line.splitn(6, char::is_whitespace).nth(5).unwrap_or("");
            current = part_of(pathname.trim());
        }
    }
    parts
}

/// `7f3a…-7f3b… r-xp …`: a mapping's first line (the others are `Key: value`).
fn is_mapping_header(line: &str) -> bool {
    line.split_whitespace().next().is_some_and(|range| {
        range.contains('-') && range.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    })
}

/// `root` and all its descendants (from /proc/*/stat), with VmRSS and PSS.
pub fn process_tree(root: u32) -> Vec<Proc> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        };
        let comm = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .map(|v| v.trim().to_owned());
        if let Some(comm) = comm {
            let rss_kb = field(&status, "VmRSS:").unwrap_or(0);
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            let pss_kb = field(&rollup, "Pss:").unwrap_or(0);
            out.push(Proc {
                pid,
                comm,
                rss_kb,
                pss_kb,
            });
        }
        if let Some(kids) = children.get(&pid) {
            queue.extend(kids);
        }
    }
    out
}

/// The parent PID from /proc/<pid>/stat (`pid (comm) state ppid …`; comm may hold spaces).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_own_process_with_its_pss_and_parts() {
        let me = std::process::id();
        let footprint = Footprint::of_tree(me);
        assert_eq!(footprint.procs.first().map(|p| p.pid), Some(me));
        assert!(footprint.procs[0].rss_kb > 0);
        assert!(footprint.pss_kb() > 0);
        assert!(footprint.pss_kb() <= footprint.rss_kb());
        let parts: u64 = footprint.by_part.iter().map(|(_, kb)| kb).sum();
        // smaps and smaps_rollup are read at slightly different moments.
        assert!(parts.abs_diff(footprint.pss_kb()) < footprint.pss_kb() / 5 + 1024);
        assert!(parent_of(me).is_some());
    }

    #[test]
    fn mappings_are_sorted_into_parts() {
        assert_eq!(part_of(""), "anonymous");
        assert_eq!(part_of("[heap]"), "heap");
        assert_eq!(
            part_of("/usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0.13.7"),
            "WebKit"
        );
        assert_eq!(
            part_of("/usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0"),
            "JavaScriptCore"
        );
        assert_eq!(
            part_of("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"),
            "Mesa/llvmpipe"
        );
        assert_eq!(
            part_of("/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so"),
            "Mesa/llvmpipe"
        );
        assert_eq!(
            part_of("/memfd:WebKitSharedMemory (deleted)"),
            "shared memory"
        );
        assert_eq!(
            part_of("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            "other libraries"
        );
        assert!(is_mapping_header(
            "7f3a10000000-7f3a10021000 rw-p 00000000 00:00 0"
        ));
        assert!(!is_mapping_header("Pss:                 4 kB"));
    }
}
