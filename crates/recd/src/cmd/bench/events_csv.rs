//! Fast loader of a synth.py `events.csv` (`user_id,item_id,event,timestamp`, dense integer
//! ids) into a user × item [`CsrBuilder`] of summed event weights.
//!
//! Weights are those of `shared/bench/peers/als_speed.py` (view 1, click 2, add_to_cart 4,
//! purchase 8), so both tools fit the same matrix. The file is read in large blocks and each
//! block is split at line boundaries into one part per thread of the current rayon pool; the
//! parts are parsed in parallel and appended in file order. Ids are used as row and column
//! indices as they are (synth.py writes 0..U-1 and 0..I-1), exactly as als_speed.py does
//! without `--remap`. Any malformed line stops the load with its line and column.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use rayon::prelude::*;
use recd_train::CsrBuilder;

/// Bytes read per block: large enough to amortise the per-block fork/join, small enough
/// not to matter for peak memory next to the triplets.
const BLOCK_BYTES: usize = 16 << 20;

/// Longest line accepted; anything longer is not an events.csv line, and reading on would
/// only grow the buffer.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Fewer bytes than any synth.py line (`0,0,view,1704067200` plus newline is 20).
const MIN_LINE_BYTES: usize = 16;

/// Which field (0-based) of a line holds each column we need.
#[derive(Debug, Clone, Copy)]
struct Layout {
    user: usize,
    item: usize,
    event: usize,
    n_fields: usize,
}

/// A problem at a line of one part; turned into a message with the absolute line number.
#[derive(Debug)]
struct LineError {
    /// 0-based line within the part.
    line_in_part: usize,
    /// 1-based field number.
    column: usize,
    field: &'static str,
    reason: String,
}

/// What the load produced: the triplets and the number of data lines (events).
pub struct LoadedEvents {
    /// One (user, item, weight) triplet per event; duplicates are summed by the CSR build.
    pub triplets: CsrBuilder,
    /// Data lines read.
    pub n_events: usize,
}

/// Reads `path` into triplets on the current rayon pool.
pub fn load(path: &Path) -> anyhow::Result<LoadedEvents> {
    load_in_blocks(path, BLOCK_BYTES)
}

/// [`load`] with a chosen block size, so tests can make lines straddle block boundaries.
fn load_in_blocks(path: &Path, block_bytes: usize) -> anyhow::Result<LoadedEvents> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf: Vec<u8> = Vec::with_capacity(block_bytes);
    let mut carry: Vec<u8> = Vec::new();
    let mut layout: Option<Layout> = None;
    let mut lines_done = 0usize; // lines consumed so far, header included
    // Reserve for the most lines the file could hold: pages are only touched as triplets
    // arrive, so the unused part costs no memory, and the vectors never regrow (regrowth
    // would briefly hold two copies of up to 600 MB of triplets on a 50M-event file).
    let file_len = file.metadata().map_or(0, |m| m.len() as usize);
    let mut triplets = CsrBuilder::with_capacity(file_len / MIN_LINE_BYTES);
    let mut n_events = 0usize;
    loop {
        buf.clear();
        buf.append(&mut carry);
        let target = buf.len() + block_bytes;
        let eof = fill(&mut file, &mut buf, target)
            .with_context(|| format!("reading {}", path.display()))?;
        let end = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(pos) => pos + 1,
                None if buf.len() > MAX_LINE_BYTES => anyhow::bail!(
                    "{}: line {} is longer than {MAX_LINE_BYTES} bytes",
                    path.display(),
                    lines_done + 1
                ),
                // A line longer than a block: keep it all and read on.
                None => 0,
            }
        };
        carry.extend_from_slice(&buf[end..]);
        if end == 0 && !eof {
            continue;
        }
        let mut block = &buf[..end];
        if layout.is_none() {
            if block.is_empty() {
                anyhow::bail!("{}: the file is empty (no header line)", path.display());
            }
            let header_end = block
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(block.len());
            layout = Some(parse_header(&block[..header_end]).map_err(|reason| {
                anyhow::anyhow!("{}: line 1 (header): {reason}", path.display())
            })?);
            block = &block[(header_end + 1).min(block.len())..];
            lines_done = 1;
        }
        let layout = layout.expect("set above");
        let parts = split_lines(block, rayon::current_num_threads());
        let results: Vec<Result<ParsedPart, LineError>> = parts
            .par_iter()
            .map(|part| parse_part(part, layout))
            .collect();
        for result in results {
            match result {
                Ok(mut part) => {
                    triplets.append(&mut part.triplets);
                    lines_done += part.n_lines;
                    n_events += part.n_events;
                }
                Err(e) => anyhow::bail!(
                    "{}: line {}, column {} ({}): {}",
                    path.display(),
                    lines_done + e.line_in_part + 1,
                    e.column,
                    e.field,
                    e.reason
                ),
            }
        }
        if eof {
            break;
        }
    }
    Ok(LoadedEvents { triplets, n_events })
}

/// Reads until `buf` holds `target` bytes or the file ends; returns true at end of file.
fn fill(file: &mut File, buf: &mut Vec<u8>, target: usize) -> std::io::Result<bool> {
    let start = buf.len();
    buf.resize(start.max(target), 0);
    let mut filled = start;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Ok(true);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(false)
}

fn parse_header(line: &[u8]) -> Result<Layout, String> {
    let line = std::str::from_utf8(line).map_err(|_| "is not UTF-8".to_string())?;
    let names: Vec<&str> = line
        .trim_end_matches('\r')
        .split(',')
        .map(str::trim)
        .collect();
    let find = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| format!("missing column `{name}` (found: {})", names.join(",")))
    };
    Ok(Layout {
        user: find("user_id")?,
        item: find("item_id")?,
        event: find("event")?,
        n_fields: names.len(),
    })
}

/// Splits `block` (whole lines) into about `n` parts, each ending at a line boundary.
fn split_lines(block: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = block;
    for remaining in (1..=n.max(1)).rev() {
        if remaining == 1 || rest.is_empty() {
            parts.push(rest);
            break;
        }
        let guess = rest.len() / remaining;
        let cut = match rest[guess..].iter().position(|&b| b == b'\n') {
            Some(pos) => guess + pos + 1,
            None => rest.len(),
        };
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts
}

/// One part's result: triplets, lines consumed (blank ones too, for numbering) and events.
struct ParsedPart {
    triplets: CsrBuilder,
    n_lines: usize,
    n_events: usize,
}

fn parse_part(part: &[u8], layout: Layout) -> Result<ParsedPart, LineError> {
    // ~27 bytes per synth.py line; reserving avoids regrowth copies of the triplet vectors.
    let mut out = CsrBuilder::with_capacity(part.len() / 24);
    let mut n_lines = 0;
    for (line_in_part, line) in part.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // The split yields one empty piece after the final newline; blank lines are
            // tolerated the same way rather than failing a long load at the very end.
            continue;
        }
        let err = |column: usize, field: &'static str, reason: String| LineError {
            line_in_part,
            column: column + 1,
            field,
            reason,
        };
        let (mut user, mut item, mut weight) = (None, None, None);
        let mut n_fields = 0;
        for (idx, field) in line.split(|&b| b == b',').enumerate() {
            n_fields += 1;
            if idx == layout.user {
                user = Some(parse_id(field).map_err(|r| err(idx, "user_id", r))?);
            } else if idx == layout.item {
                item = Some(parse_id(field).map_err(|r| err(idx, "item_id", r))?);
            } else if idx == layout.event {
                weight = Some(event_weight(field).map_err(|r| err(idx, "event", r))?);
            }
        }
        if n_fields != layout.n_fields {
            return Err(err(
                n_fields.min(layout.n_fields),
                "line",
                format!("has {n_fields} fields, the header has {}", layout.n_fields),
            ));
        }
        // With as many fields as the header, all three were seen; the else is defensive.
        let (Some(user), Some(item), Some(weight)) = (user, item, weight) else {
            return Err(err(0, "line", "is missing a column".into()));
        };
        out.push(user, item, weight)
            .map_err(|e| err(layout.event, "event", e.to_string()))?;
        n_lines += 1;
    }
    // Lines counted for numbering must include blank ones so later parts number correctly.
    let total_lines = part.iter().filter(|&&b| b == b'\n').count()
        + usize::from(!part.is_empty() && part.last() != Some(&b'\n'));
    Ok(ParsedPart {
        triplets: out,
        n_lines: total_lines,
        n_events: n_lines,
    })
}

fn parse_id(field: &[u8]) -> Result<u32, String> {
    if field.is_empty() || field.len() > 10 {
        return Err(format!(
            "expected a dense integer id, got {:?}",
            String::from_utf8_lossy(field)
        ));
    }
    let mut value: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return Err(format!(
                "expected a dense integer id, got {:?}",
                String::from_utf8_lossy(field)
            ));
        }
        value = value * 10 + u64::from(b - b'0');
    }
    u32::try_from(value).map_err(|_| format!("id {value} does not fit in 32 bits"))
}

/// als_speed.py's weights: the confidence a single event of each kind adds.
fn event_weight(field: &[u8]) -> Result<f32, String> {
    match field {
        b"view" => Ok(1.0),
        b"click" => Ok(2.0),
        b"add_to_cart" => Ok(4.0),
        b"purchase" => Ok(8.0),
        other => Err(format!(
            "unknown event {:?}; expected view, click, add_to_cart or purchase",
            String::from_utf8_lossy(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, content.as_bytes()).unwrap();
        file
    }

    /// Loads with several block sizes and pool sizes; all must give the same matrix.
    fn check(content: &str) -> recd_train::Csr {
        let file = write(content);
        let mut first: Option<recd_train::Csr> = None;
        for (block, threads) in [(BLOCK_BYTES, 1), (64, 2), (23, 3), (40, 1)] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let loaded = pool.install(|| load_in_blocks(file.path(), block)).unwrap();
            let matrix = loaded.triplets.build();
            if let Some(first) = &first {
                assert_eq!(&matrix, first, "block {block}, threads {threads}");
            }
            first = Some(matrix);
        }
        first.unwrap()
    }

    #[test]
    fn weights_are_summed_per_pair_across_blocks() {
        let m = check(
            "user_id,item_id,event,timestamp\n\
             0,3,view,1\n1,0,click,2\n0,3,purchase,3\n\n2,1,add_to_cart,4\n0,3,view,5",
        );
        assert_eq!((m.n_rows(), m.n_cols(), m.nnz()), (3, 4, 3));
        assert_eq!(m.row(0), (&[3u32][..], &[10.0f32][..]));
        assert_eq!(m.values_sum(), 16.0);
    }

    #[test]
    fn columns_are_found_by_header_name() {
        let m = check("event,timestamp,item_id,user_id\r\nclick,1,2,1\r\n");
        assert_eq!(m.row(1), (&[2u32][..], &[2.0f32][..]));
    }

    fn error_of(content: &str) -> String {
        let file = write(content);
        let err = load_in_blocks(file.path(), 32).err().expect("must fail");
        let msg = format!("{err:#}");
        assert!(msg.contains(&file.path().display().to_string()), "{msg}");
        msg
    }

    #[test]
    fn bad_lines_are_named_by_line_and_column() {
        let head = "user_id,item_id,event,timestamp\n0,1,view,1\n";
        let msg = error_of(&format!("{head}0,1,watch,2\n"));
        assert!(msg.contains("line 3, column 3 (event)"), "{msg}");
        let msg = error_of(&format!("{head}0,1,view,1\n0,-4,view,2\n"));
        assert!(msg.contains("line 4, column 2 (item_id)"), "{msg}");
        let msg = error_of(&format!("{head}99999999999,1,view,2\n"));
        assert!(msg.contains("line 3, column 1 (user_id)"), "{msg}");
        let msg = error_of(&format!("{head}0,1,view\n"));
        assert!(msg.contains("line 3") && msg.contains("3 fields"), "{msg}");
        let msg = error_of("user,item_id,event\n0,1,view\n");
        assert!(msg.contains("line 1") && msg.contains("user_id"), "{msg}");
        assert!(error_of("").contains("empty"));
    }
}
