//! Crash test: SIGKILL a process that is appending, then check nothing acknowledged is lost.
//!
//! The child is this test binary itself, re-executed to run only `crash::child_appender`
//! (which does nothing unless `CHILD_DIR_VAR` is set). It appends from several threads in
//! batches of varying size and prints one `ACK` line per acknowledged append the moment
//! `append` returns. The parent kills it mid-stream, reopens the log, and checks that every
//! acknowledged record is at its offset with exactly the content the child wrote.
//!
//! SIGKILL tests process death, not power loss: the page cache survives, so this checks the
//! offsets, framing, recovery and acknowledgement order, not the fsyncs themselves.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use recd_store::{EventLog, FileLog, LogConfig, Offset};
use recd_types::Record;

use super::{read_all, record, segment_files};

const CHILD_DIR_VAR: &str = "RECD_CRASH_CHILD_DIR";
const CHILD_ROUND_VAR: &str = "RECD_CRASH_CHILD_ROUND";
const N_CHILD_THREADS: u32 = 4;
/// Small segments so that rolls happen while the child is being killed.
const SEGMENT_BYTES: u64 = 256 << 10;
/// Batch sizes cycled through by the child: single events up to bulk imports.
const BATCH_SIZES: [u64; 6] = [1, 3, 17, 1, 64, 250];

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        ..LogConfig::default()
    }
}

fn writer_name(round: u32, thread: u32) -> String {
    format!("r{round}-t{thread}")
}

/// The child side: appends until killed. A no-op unless run by `acknowledged_appends_survive_sigkill`.
#[test]
fn child_appender() {
    let Ok(dir) = std::env::var(CHILD_DIR_VAR) else {
        return;
    };
    let round: u32 = std::env::var(CHILD_ROUND_VAR)
        .expect("round set by the parent")
        .parse()
        .expect("round is a number");
    let log = Arc::new(FileLog::open(&dir, config()).expect("child opens the log"));
    let started = Instant::now();
    let threads: Vec<_> = (0..N_CHILD_THREADS)
        .map(|thread| {
            let log = log.clone();
            std::thread::spawn(move || {
                let name = writer_name(round, thread);
                let mut seq = 0;
                // A bound in case the parent died without killing us.
                for call in 0.. {
                    if started.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                    let n = BATCH_SIZES[(call + thread as usize) % BATCH_SIZES.len()];
                    let batch: Vec<Record> = (seq..seq + n).map(|s| record(&name, s)).collect();
                    let offset = log.append(&batch).expect("child append");
                    // One write per line so that a kill never leaves half a line behind a whole one.
                    let line = format!("ACK {round} {thread} {seq} {offset} {n}\n");
                    std::io::stdout()
                        .lock()
                        .write_all(line.as_bytes())
                        .expect("stdout");
                    seq += n;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("child thread");
    }
}

/// One acknowledged append as the child reported it.
#[derive(Debug, Clone, Copy)]
struct Ack {
    round: u32,
    thread: u32,
    first_seq: u64,
    offset: Offset,
    n: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut fields = line.strip_prefix("ACK ")?.split(' ');
    let mut next = || fields.next()?.trim().parse::<u64>().ok();
    Some(Ack {
        round: next()? as u32,
        thread: next()? as u32,
        first_seq: next()?,
        offset: next()?,
        n: next()?,
    })
}

/// Runs one child on `dir`, kills it once it has made real progress, and returns its acks.
fn run_and_kill_child(dir: &std::path::Path, round: u32) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "--exact",
            "crash::child_appender",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_VAR, dir)
        .env(CHILD_ROUND_VAR, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let lines = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines count: a line cut by the kill was never fully reported.
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if line.ends_with('\n')
                && let Some(ack) = parse_ack(&line)
            {
                let _ = tx.send(ack);
            }
            line.clear();
        }
    });
    let mut acks = Vec::new();
    let started = Instant::now();
    // Kill after at least a second and a good number of acknowledgements, so the kill lands
    // in the middle of steady full-speed appending.
    while started.elapsed() < Duration::from_millis(1200) || acks.len() < 200 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(ack) => acks.push(ack),
            Err(e) => panic!("child stopped acknowledging after {} acks: {e}", acks.len()),
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child should have been killed, got {status}"
    );
    lines.join().expect("line reader");
    acks.extend(rx.try_iter());
    acks
}

/// Checks that every acknowledged record is at its offset, and that the whole log reads.
fn check_acks(log: &FileLog, acks: &[Ack]) {
    let end = log.end_offset();
    let mut expected: HashMap<Offset, (u32, u32, u64)> = HashMap::new();
    for ack in acks {
        assert!(
            ack.offset + ack.n <= end,
            "acknowledged {ack:?} but the log ends at {end}"
        );
        for k in 0..ack.n {
            expected.insert(ack.offset + k, (ack.round, ack.thread, ack.first_seq + k));
        }
    }
    let mut n_checked = 0;
    for (offset, got) in read_all(log, 0) {
        if let Some(&(round, thread, seq)) = expected.get(&offset) {
            assert_eq!(
                got,
                record(&writer_name(round, thread), seq),
                "offset {offset}"
            );
            n_checked += 1;
        }
    }
    assert_eq!(
        n_checked,
        expected.len(),
        "some acknowledged offsets were not read back"
    );
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all_acks = Vec::new();
    for round in 0..3 {
        let acks = run_and_kill_child(dir.path(), round);
        assert!(acks.len() >= 200, "round {round}: only {} acks", acks.len());
        let acks_this_round = acks.len();
        all_acks.extend(acks);

        // Recovery's warnings (a kill in the middle of a write leaves a torn tail) go to the
        // test output, shown with `--nocapture`.
        let subscriber = tracing_subscriber::fmt().with_test_writer().finish();
        let log =
            tracing::subscriber::with_default(subscriber, || FileLog::open(dir.path(), config()))
                .expect("reopen after the kill");
        check_acks(&log, &all_acks);
        eprintln!(
            "round {round}: {} appends acknowledged before the kill, log ends at {}",
            acks_this_round,
            log.end_offset()
        );
        // The log takes new appends where it ends, and they survive another reopen.
        let end = log.end_offset();
        let name = format!("parent-{round}");
        let batch: Vec<Record> = (0..10).map(|s| record(&name, s)).collect();
        assert_eq!(log.append(&batch).expect("append after recovery"), end);
        drop(log);
        let log = FileLog::open(dir.path(), config()).expect("reopen after appending");
        assert_eq!(log.end_offset(), end + 10);
        let tail: Vec<Record> = read_all(&log, end).into_iter().map(|(_, r)| r).collect();
        assert_eq!(tail, batch);
    }
    assert!(
        segment_files(dir.path()).len() > 1,
        "expected the child to roll segments"
    );
}
