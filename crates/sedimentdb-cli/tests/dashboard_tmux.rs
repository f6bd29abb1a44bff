//! The real `sediment dashboard` in a real terminal: tmux (Debian's tmux; `scripts/test.sh`
//! installs it) runs the binary in a detached 120 x 40 session on gen.py data while a
//! writer holds the database open; the test reads the screen with `capture-pane`,
//! waits for two refreshes, switches the window with `2`, and quits with `q`, after
//! which the shell sees status 0 and the terminal is back from the alternate screen.
//!
//! Without tmux the test fails (with how to install it); it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sedimentdb::{Db, Options};

fn gen_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py")
}

/// A tmux server of its own (`-L`), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let found = Command::new("tmux").arg("-V").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is needed to drive the dashboard in a real terminal and was not found: \
             install it (Debian: apt-get install tmux; scripts/test.sh does)"
        );
        Tmux {
            socket: format!("sediment-test-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn screen(&self) -> String {
        String::from_utf8(self.run(&["capture-pane", "-p", "-t", "dash"]).stdout).unwrap()
    }

    /// Waits (up to 60 s) until the screen satisfies `ok`; returns that screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waited 60 s for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn dashboard_refreshes_switches_window_and_quits_with_q_in_tmux() {
    let tmux = Tmux::new();
    let dir = tempfile::tempdir().unwrap();
    let lp = dir.path().join("cpu.lp");
    let out = Command::new("python3")
        .arg(gen_py())
        .args([
            "--hosts", "2", "--hours", "2", "--format", "influx", "--out",
        ])
        .arg(&lp)
        .output()
        .expect("python3 runs gen.py");
    assert!(out.status.success());
    let db = dir.path().join("db");
    let out = Command::new(env!("CARGO_BIN_EXE_sediment"))
        .arg("--db")
        .arg(&db)
        .arg("import")
        .arg(&lp)
        .args(["--precision", "s"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // A writer holds the database open for the whole run.
    let writer = Db::open(&db, Options::default()).unwrap();

    let command = format!(
        "{} --db {} dashboard --refresh 1s --window 1h --now 2016-01-01T02:00:00Z; \
         echo dashboard-exit=$?; sleep 60",
        shell_quote(env!("CARGO_BIN_EXE_sediment")),
        shell_quote(db.to_str().unwrap())
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);

    let first = tmux.wait_for("the first screen", |s| s.contains(" window 1h "));
    // The default panels: the four busiest metrics (all equal here, so by name), the
    // lists, the top series of the first.
    for title in [
        "cpu_usage_guest · ",
        "cpu_usage_guest_nice · ",
        "cpu_usage_idle · ",
        "cpu_usage_iowait · ",
        "Alerts · 0 firing",
        "Newest anomalies · ",
        "Top 2 · cpu_usage_guest (mean)",
        "Recommendations",
    ] {
        assert!(first.contains(title), "{title:?} missing:\n{first}");
    }
    assert!(first.contains("to 2016-01-01 02:00:00 UTC"), "{first}");
    assert!(first.contains("· 2 series"), "{first}");

    // Two more refreshes on the 1 s interval.
    tmux.wait_for("refresh #3", |s| s.contains("refresh #3 every 1s"));

    // `2` switches to the 24 h window and refreshes.
    tmux.run(&["send-keys", "-t", "dash", "2"]);
    let day = tmux.wait_for("the 24h window", |s| s.contains(" window 24h "));
    assert!(
        day.contains("12-31 02:00"),
        "the axis starts a day back:\n{day}"
    );

    // `q` quits with status 0 and restores the terminal (the panels are gone).
    tmux.run(&["send-keys", "-t", "dash", "q"]);
    let after = tmux.wait_for("the exit status", |s| s.contains("dashboard-exit="));
    assert!(after.contains("dashboard-exit=0"), "{after}");
    assert!(!after.contains("Recommendations"), "{after}");
    writer.close().unwrap();
}
