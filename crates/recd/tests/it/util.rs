//! Helpers shared by the end-to-end tests: run the real binary, find the shared datasets or
//! generate a stand-in for them.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs the real `recd` binary with `args`, quiet logs, and returns its output.
pub fn recd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recd"))
        .args(args)
        .env("RUST_LOG", "warn,redis=error")
        .output()
        .expect("the recd binary runs")
}

/// Runs `recd` and fails the test with its stderr unless it exits 0; returns stdout.
pub fn recd_ok(args: &[&str]) -> String {
    let output = recd(args);
    assert!(
        output.status.success(),
        "recd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs `recd`, expects a non-zero exit, and returns stderr.
pub fn recd_err(args: &[&str]) -> String {
    let output = recd(args);
    assert!(
        !output.status.success(),
        "recd {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("stderr is UTF-8")
}

/// `../shared` beside the workspace (where CI clones it), or `$RECD_SHARED_DIR` when set (point
/// it at a missing directory to run the tests as on a machine without `../shared`).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("RECD_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).to_path_buf(),
    }
}

/// `../shared/bench` (the protocol's `split.py` and `evaluate.py`), if it is there.
pub fn shared_bench() -> Option<PathBuf> {
    let bench = shared_dir().join("bench");
    (bench.join("split.py").is_file() && bench.join("evaluate.py").is_file()).then_some(bench)
}

/// The MovieLens 100K files.
pub fn ml100k(file: &str) -> PathBuf {
    let path = shared_dir().join("datasets/ml-100k").join(file);
    assert!(path.is_file(), "missing dataset file {}", path.display());
    path
}

/// Sizes of the generated stand-in for ml-100k: the same numbers of users, items and events.
const GEN_USERS: usize = 943;
const GEN_ITEMS: usize = 1682;
const GEN_EVENTS: usize = 100_000;
/// The generated event window: the 60 days before 2024-03-01, i.e. 2024-01-01 .. 2024-02-29.
const GEN_END: &str = "2024-03-01";
const GEN_DAYS: &str = "60";

/// The data the end-to-end tests run on: MovieLens 100K from `../shared/datasets/ml-100k`
/// when it is there, otherwise data from `recd gen` of the same size (generic CSV files).
pub struct Dataset {
    /// Whether this is ml-100k (tests then also assert facts about particular films).
    pub is_ml100k: bool,
    /// Events file.
    pub events: PathBuf,
    /// Items file.
    pub items: PathBuf,
    /// Users file.
    pub users: PathBuf,
    /// The `--format` of all three.
    pub format: &'static str,
    /// Number of events.
    pub n_events: usize,
    /// Number of users.
    pub n_users: usize,
    /// Number of items.
    pub n_items: usize,
    /// Keeps generated files for the test binary's lifetime.
    _generated: Option<tempfile::TempDir>,
}

/// One event of the dataset's events file.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// User id.
    pub user: String,
    /// Item id ("" for a search).
    pub item: String,
    /// Event type (`rating` for every ml-100k row).
    pub kind: String,
    /// Rating, on rating events.
    pub value: Option<f64>,
    /// Time in milliseconds.
    pub timestamp_ms: i64,
}

impl EventRow {
    /// A positive signal for training (`recd_train::EventWeights`' rule): a rating of at
    /// least 3 or any interest (view, click, add_to_cart, purchase, like).
    pub fn is_positive(&self) -> bool {
        match self.kind.as_str() {
            "rating" => self.value.is_some_and(|v| v >= 3.0),
            "view" | "click" | "add_to_cart" | "purchase" | "like" => true,
            _ => false,
        }
    }

    /// Relevant in the offline protocol: a rating of at least 4 (PROTOCOL.md); on generated
    /// data also the events as strong as that for `recd train` (confidence >= 4: add_to_cart,
    /// purchase, like).
    pub fn is_relevant(&self) -> bool {
        match self.kind.as_str() {
            "rating" => self.value.is_some_and(|v| v >= 4.0),
            "add_to_cart" | "purchase" | "like" => true,
            _ => false,
        }
    }
}

/// One item of the dataset's items file.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    /// Item id.
    pub id: String,
    /// Title as imported.
    pub title: String,
    /// Category as imported (ml-100k: the first genre).
    pub category: Option<String>,
    /// Tags as imported (ml-100k: the genres).
    pub tags: Vec<String>,
}

/// ml-100k's genres in `u.genre` order; `unknown` is neither tag nor category.
const ML_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// The dataset of this test binary run, found or generated once; says on stderr which.
pub fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let ml = shared_dir().join("datasets/ml-100k");
        let data = if ml.join("u.data").is_file() {
            Dataset {
                is_ml100k: true,
                events: ml100k("u.data"),
                items: ml100k("u.item"),
                users: ml100k("u.user"),
                format: "ml100k",
                n_events: 100_000,
                n_users: 943,
                n_items: 1682,
                _generated: None,
            }
        } else {
            let dir = tempfile::tempdir().unwrap();
            let (users, items, events) = (
                GEN_USERS.to_string(),
                GEN_ITEMS.to_string(),
                GEN_EVENTS.to_string(),
            );
            recd_ok(&[
                "gen",
                "--users",
                &users,
                "--items",
                &items,
                "--events",
                &events,
                "--seed",
                "1",
                "--end",
                GEN_END,
                "--days",
                GEN_DAYS,
                "--out",
                arg(dir.path()),
            ]);
            Dataset {
                is_ml100k: false,
                events: dir.path().join("events.csv"),
                items: dir.path().join("items.csv"),
                users: dir.path().join("users.csv"),
                format: "csv",
                n_events: GEN_EVENTS,
                n_users: GEN_USERS,
                n_items: GEN_ITEMS,
                _generated: Some(dir),
            }
        };
        // Straight to stderr, not through the test harness's capture: shown once per run.
        let _ = writeln!(
            std::io::stderr(),
            "datasets: {}",
            if data.is_ml100k {
                format!("ml-100k from {}", ml.display())
            } else {
                format!("generated by recd gen ({} absent)", ml.display())
            }
        );
        data
    })
}

impl Dataset {
    /// `recd import` of all three files into `data`; returns stdout.
    pub fn import(&self, data: &Path) -> String {
        recd_ok(&[
            "import",
            "--data-dir",
            arg(data),
            "--events",
            arg(&self.events),
            "--items",
            arg(&self.items),
            "--users",
            arg(&self.users),
            "--format",
            self.format,
        ])
    }

    /// `recd import` of the items and users files into `data`; returns stdout.
    pub fn import_catalog(&self, data: &Path) -> String {
        recd_ok(&[
            "import",
            "--data-dir",
            arg(data),
            "--items",
            arg(&self.items),
            "--users",
            arg(&self.users),
            "--format",
            self.format,
        ])
    }

    /// Every event, in file order.
    pub fn event_rows(&self) -> Vec<EventRow> {
        if self.is_ml100k {
            let text = std::fs::read_to_string(&self.events).unwrap();
            text.lines()
                .filter(|line| !line.is_empty())
                .map(|line| {
                    let f: Vec<&str> = line.split('\t').collect();
                    EventRow {
                        user: f[0].to_string(),
                        item: f[1].to_string(),
                        kind: "rating".to_string(),
                        value: Some(f[2].parse().unwrap()),
                        timestamp_ms: f[3].parse::<i64>().unwrap() * 1000,
                    }
                })
                .collect()
        } else {
            events_csv(&self.events)
        }
    }

    /// Every item, in file order.
    pub fn item_rows(&self) -> Vec<ItemRow> {
        if self.is_ml100k {
            // Latin-1: each byte is the code point of the same value.
            let text: String = std::fs::read(&self.items)
                .unwrap()
                .iter()
                .map(|&b| b as char)
                .collect();
            text.lines()
                .filter(|line| !line.is_empty())
                .map(|line| {
                    let f: Vec<&str> = line.split('|').collect();
                    let tags: Vec<String> = (1..ML_GENRES.len())
                        .filter(|&g| f[5 + g] == "1")
                        .map(|g| ML_GENRES[g].to_string())
                        .collect();
                    ItemRow {
                        id: f[0].to_string(),
                        title: f[1].to_string(),
                        category: tags.first().cloned(),
                        tags,
                    }
                })
                .collect()
        } else {
            let (header, rows) = read_csv(&self.items);
            let col = |name: &str| header.iter().position(|h| h == name).unwrap();
            let (id, title, category, tags) =
                (col("item_id"), col("title"), col("category"), col("tags"));
            rows.iter()
                .map(|r| ItemRow {
                    id: r[id].to_string(),
                    title: r[title].to_string(),
                    category: (!r[category].is_empty()).then(|| r[category].to_string()),
                    tags: r[tags]
                        .split('|')
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
                .collect()
        }
    }

    /// User ids in file order.
    pub fn user_ids(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.users).unwrap();
        let lines = text.lines().skip(usize::from(!self.is_ml100k));
        let sep = if self.is_ml100k { '|' } else { ',' };
        lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split(sep).next().unwrap().to_string())
            .collect()
    }

    /// Items each user has an event with (ml-100k: rated).
    pub fn seen(&self) -> HashMap<String, HashSet<String>> {
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        for e in self.event_rows().into_iter().filter(|e| !e.item.is_empty()) {
            out.entry(e.user).or_default().insert(e.item);
        }
        out
    }

    /// Item ids by the number of users with a positive event on them (the model's
    /// popularity), most popular first, ties by id.
    pub fn by_popularity(&self) -> Vec<String> {
        let mut users: HashMap<String, HashSet<String>> = HashMap::new();
        for e in self.event_rows().into_iter().filter(EventRow::is_positive) {
            users.entry(e.item).or_default().insert(e.user);
        }
        let mut items: Vec<(usize, String)> =
            users.into_iter().map(|(i, u)| (u.len(), i)).collect();
        items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        items.into_iter().map(|(_, i)| i).collect()
    }
}

/// The events of a CSV file: generic CSV (`type`, `value`, `timestamp_ms`) or the protocol
/// CSV (`user_id,item_id,rating,timestamp`, seconds; every row a rating).
pub fn events_csv(path: &Path) -> Vec<EventRow> {
    let (header, rows) = read_csv(path);
    let col = |name: &str| header.iter().position(|h| h == name);
    let (u, i) = (col("user_id").unwrap(), col("item_id").unwrap());
    let typed = col("type").map(|t| (t, col("value").unwrap(), col("timestamp_ms").unwrap()));
    let (rating, seconds) = (col("rating"), col("timestamp"));
    rows.iter()
        .map(|r| {
            let (kind, value, timestamp_ms) = match typed {
                Some((t, v, ts)) => (
                    r[t].to_string(),
                    (!r[v].is_empty()).then(|| r[v].parse().unwrap()),
                    r[ts].parse().unwrap(),
                ),
                None => (
                    "rating".to_string(),
                    Some(r[rating.unwrap()].parse().unwrap()),
                    r[seconds.unwrap()].parse::<i64>().unwrap() * 1000,
                ),
            };
            EventRow {
                user: r[u].to_string(),
                item: r[i].to_string(),
                kind,
                value,
                timestamp_ms,
            }
        })
        .collect()
}

/// A CSV file's header and rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

/// The world of [`small_data`]: `recd gen` flags before the destination.
const SMALL_WORLD: [&str; 9] = [
    "gen", "--users", "300", "--items", "200", "--events", "20000", "--seed", "1",
];

/// A small generated data dir (300 users, 200 items, 20,000 events), with a trained model
/// when `train`: enough for tests of the binary's plumbing (logs, metrics), fast to make.
pub fn small_data(data: &Path, train: bool) {
    let d = arg(data);
    recd_ok(&[&SMALL_WORLD[..], &["--data-dir", d]].concat());
    if train {
        recd_ok(&["train", "--data-dir", d]);
    }
}

/// The data of [`small_data`] imported through the running `server` (`recd gen --out` into
/// `dir`, then `recd import --server`): for a server whose events go to a bus.
pub fn small_data_through(server: &Server, dir: &Path) {
    recd_ok(&[&SMALL_WORLD[..], &["--out", arg(dir)]].concat());
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let url = format!("http://{}", server.addr);
    recd_ok(&[
        "import",
        "--server",
        &url,
        "--events",
        &file("events.csv"),
        "--items",
        &file("items.csv"),
        "--users",
        &file("users.csv"),
        "--format",
        "csv",
    ]);
}

/// A path as the `&str` the command line wants.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A running `recd serve` on a free loopback port, killed on drop if the test did not stop it.
pub struct Server {
    child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts `recd serve --data-dir DIR --listen 127.0.0.1:0 EXTRA..` and waits for /readyz.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            "--data-dir",
            arg(data_dir),
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::spawn(&args, &[])
    }

    /// Starts `recd ARGS` (a serving command) with `envs` added to its environment, reads the
    /// address from its first line and waits for /readyz.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_recd"))
            .args(args)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "warn,redis=error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("recd serve starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let server = Self { child, addr };
        server.wait_until(|| server.get("/readyz").0 == 200, "ready");
        server
    }

    /// One HTTP/1.1 request on a fresh connection; returns status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.request_text(method, path, body);
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// [`Server::request`] with the body as text.
    pub fn request_text(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let (status, _, body) = self.request_with(method, path, body, &[]);
        (status, body)
    }

    /// One request with `headers` added; returns the status, the response head (status line
    /// and headers, lowercased) and the body.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).expect("connect");
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send the request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (status, head.to_ascii_lowercase(), body.to_string())
    }

    /// `GET path`, the body as text (e.g. /metrics).
    pub fn get_text(&self, path: &str) -> String {
        let (status, body) = self.request_text("GET", path, "");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, "")
    }

    /// Polls `ok` every 20 ms for up to 60 s (tests share two cores with training runs).
    pub fn wait_until(&self, mut ok: impl FnMut() -> bool, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "not {what} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("wait for recd serve");
        assert!(exit.success(), "recd serve exited with {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
