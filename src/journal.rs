//! The run's journal: every answer written down as it arrives, so an interrupted run resumes.
//!
//! A journal is one JSON-lines file under `target/llm-bench/journal/`: a header with the run's
//! fingerprint (the suites and their hashes, the models, the settings that change results),
//! then one line per answer, appended and handed to the kernel before the next one, so a run
//! killed with SIGKILL loses at most the answers still being generated. A torn last line is
//! cut off and ignored on resume. `--resume` picks the newest journal whose fingerprint matches
//! and gives its answers again without asking; a run that finishes removes the journals of its
//! fingerprint.

use crate::cli::Settings;
use crate::provider::{AnswerLog, Answered, EarlierAnswer, RequestHash, StoredGeneration};
use crate::suite::Suite;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bumped whenever the journal's lines change shape, so old journals are not resumed.
const JOURNAL_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} the run journal {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_owned();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

/// What makes two runs the same run: equal fingerprints resume each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The suites (name and content hash), the models, and the settings that change results:
    /// samples, weights, the case overrides given on the command line or in the config, and the
    /// partition. Profile settings that change answers are part of each answer's request hash,
    /// so a changed profile asks again even when resumed.
    pub fn of(settings: &Settings, suites: &[Suite]) -> Fingerprint {
        #[derive(Serialize)]
        struct Material {
            format: u32,
            tool: &'static str,
            suites: Vec<(String, String)>,
            models: Vec<String>,
            weights: String,
            overrides: String,
            partition: String,
        }
        let material = Material {
            format: JOURNAL_FORMAT,
            tool: env!("CARGO_PKG_VERSION"),
            suites: suites
                .iter()
                .map(|suite| (suite.name.clone(), suite.hash.clone()))
                .collect(),
            models: settings.models.iter().map(ToString::to_string).collect(),
            weights: format!("{:?}", settings.weights),
            overrides: format!("{:?}", settings.overrides),
            partition: format!("{:?}", settings.partition),
        };
        let bytes = serde_json::to_vec(&material).unwrap_or_default();
        Fingerprint(format!("{:x}", Sha256::digest(&bytes)))
    }

    fn short(&self) -> &str {
        self.0.get(..16).unwrap_or(&self.0)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    journal: u32,
    fingerprint: Fingerprint,
    started: String,
}

/// One answer, as it arrived.
#[derive(Serialize, Deserialize)]
struct Entry {
    model: String,
    suite: String,
    case: String,
    sample: u32,
    attempt: u32,
    hash: RequestHash,
    /// The answer came from the response cache, not from the model.
    cached: bool,
    generation: StoredGeneration,
}

/// An open journal, appended to as answers arrive.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    fingerprint: Fingerprint,
    file: Mutex<File>,
    write_failure: Mutex<Option<String>>,
}

/// What `--resume` found: the journal to go on with and the answers it holds.
#[derive(Debug)]
pub struct Resumed {
    pub journal: Journal,
    pub answers: HashMap<RequestHash, EarlierAnswer>,
    /// Lines that could not be read (a torn last line after SIGKILL): their answers are asked
    /// again.
    pub unreadable: usize,
}

impl Journal {
    /// Starts a new journal in `dir` for a run with this fingerprint.
    pub fn start(dir: &Path, fingerprint: &Fingerprint) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(io_error("create the folder of", dir))?;
        let now = chrono::Utc::now();
        let name = format!(
            "{}-{}-{}.jsonl",
            fingerprint.short(),
            now.format("%Y%m%dT%H%M%S%.9fZ"),
            std::process::id()
        );
        let path = dir.join(name);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io_error("create", &path))?;
        let header = Header {
            journal: JOURNAL_FORMAT,
            fingerprint: fingerprint.clone(),
            started: now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        let mut line = serde_json::to_string(&header).unwrap_or_default();
        line.push('\n');
        file.write_all(line.as_bytes())
            .map_err(io_error("write", &path))?;
        Ok(Journal {
            dir: dir.to_owned(),
            path,
            fingerprint: fingerprint.clone(),
            file: Mutex::new(file),
            write_failure: Mutex::new(None),
        })
    }

    /// The newest unfinished journal in `dir` with this fingerprint, opened to go on writing,
    /// with its answers; None when there is none.
    pub fn resume(dir: &Path, fingerprint: &Fingerprint) -> Result<Option<Resumed>, JournalError> {
        let Some(path) = newest_matching(dir, fingerprint) else {
            return Ok(None);
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        cut_torn_tail(&mut file).map_err(io_error("repair", &path))?;
        file.seek(SeekFrom::Start(0))
            .map_err(io_error("read", &path))?;
        let mut answers = HashMap::new();
        let mut unreadable = 0;
        // The header was checked when the journal was picked.
        for line in BufReader::new(&file).lines().skip(1) {
            let line = line.map_err(io_error("read", &path))?;
            match serde_json::from_str::<Entry>(&line) {
                Ok(entry) => {
                    answers.insert(
                        entry.hash,
                        EarlierAnswer {
                            generation: entry.generation.into(),
                            cached: entry.cached,
                        },
                    );
                }
                Err(_) => unreadable += 1,
            }
        }
        Ok(Some(Resumed {
            journal: Journal {
                dir: dir.to_owned(),
                path,
                fingerprint: fingerprint.clone(),
                file: Mutex::new(file),
                write_failure: Mutex::new(None),
            },
            answers,
            unreadable,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first failure to append an answer, if any: the run goes on, but a resume would ask
    /// for that answer again.
    pub fn write_failure(&self) -> Option<String> {
        self.write_failure
            .lock()
            .ok()
            .and_then(|failure| failure.clone())
    }

    /// The run finished: its journal, and any older one of the same run left unresumed, are
    /// removed.
    pub fn finish(&self) -> Result<(), JournalError> {
        for path in journals(&self.dir) {
            if header_of(&path).is_some_and(|header| header.fingerprint == self.fingerprint) {
                std::fs::remove_file(&path).map_err(io_error("remove", &path))?;
            }
        }
        Ok(())
    }
}

impl AnswerLog for Journal {
    fn record(&self, answered: &Answered<'_>) {
        let entry = Entry {
            model: answered.model.to_string(),
            suite: answered.key.suite.clone(),
            case: answered.key.case.clone(),
            sample: answered.key.sample,
            attempt: answered.key.attempt,
            hash: answered.hash.clone(),
            cached: answered.cached,
            generation: answered.generation.into(),
        };
        let Ok(mut line) = serde_json::to_string(&entry) else {
            return;
        };
        line.push('\n');
        // One write per line on a file opened for appending: a kill leaves at most one torn
        // line, at the end.
        let written = match self.file.lock() {
            Ok(mut file) => file.write_all(line.as_bytes()),
            Err(_) => Ok(()),
        };
        if let Err(error) = written {
            if let Ok(mut failure) = self.write_failure.lock() {
                failure.get_or_insert_with(|| {
                    format!(
                        "cannot append to the run journal {}: {error}",
                        self.path.display()
                    )
                });
            }
        }
    }
}

/// The journal files in `dir`, by name.
fn journals(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

fn header_of(path: &Path) -> Option<Header> {
    let file = File::open(path).ok()?;
    let mut first = String::new();
    BufReader::new(file).read_line(&mut first).ok()?;
    serde_json::from_str::<Header>(&first)
        .ok()
        .filter(|header| header.journal == JOURNAL_FORMAT)
}

/// The journal of this fingerprint that started last.
fn newest_matching(dir: &Path, fingerprint: &Fingerprint) -> Option<PathBuf> {
    journals(dir)
        .into_iter()
        .filter_map(|path| {
            let header = header_of(&path)?;
            (header.fingerprint == *fingerprint).then_some((header.started, path))
        })
        .max()
        .map(|(_, path)| path)
}

/// Cuts a last line that a kill left unfinished, so that the next answer starts a line of its
/// own.
fn cut_torn_tail(file: &mut File) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let complete = bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    if complete < bytes.len() {
        file.set_len(complete as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{AttemptKey, Generation, GenerationEnd, GenerationMetrics, ModelSpec};
    use std::time::Duration;

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint(format!("{:x}", Sha256::digest(text.as_bytes())))
    }

    fn request_hash(text: &str) -> RequestHash {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap()
    }

    fn record(journal: &Journal, hash: &str, text: &str) {
        let model = ModelSpec::parse("ollama:m").unwrap();
        let key = AttemptKey {
            suite: "s".into(),
            case: hash.into(),
            sample: 0,
            attempt: 0,
        };
        let generation = Generation {
            text: text.into(),
            thinking: String::new(),
            end: GenerationEnd::Finished,
            metrics: GenerationMetrics::offline(Duration::from_millis(3)),
        };
        journal.record(&Answered {
            model: &model,
            key: &key,
            hash: &request_hash(hash),
            cached: false,
            generation: &generation,
        });
    }

    #[test]
    fn a_journal_gives_back_every_answer_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let run = fingerprint("run");
        let journal = Journal::start(dir.path(), &run).unwrap();
        record(&journal, "a", "first");
        record(&journal, "b", "second");
        drop(journal);
        let resumed = Journal::resume(dir.path(), &run).unwrap().unwrap();
        assert_eq!(resumed.answers.len(), 2);
        assert_eq!(
            resumed.answers[&request_hash("b")].generation.text,
            "second"
        );
        assert_eq!(resumed.unreadable, 0);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_before_the_next_answer() {
        let dir = tempfile::tempdir().unwrap();
        let run = fingerprint("run");
        let journal = Journal::start(dir.path(), &run).unwrap();
        record(&journal, "a", "first");
        let path = journal.path().to_owned();
        drop(journal);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"model\":\"ollama:m\",\"suite\":\"s\",\"ca")
            .unwrap();
        drop(file);

        let resumed = Journal::resume(dir.path(), &run).unwrap().unwrap();
        assert_eq!(resumed.answers.len(), 1);
        record(&resumed.journal, "b", "second");
        drop(resumed);
        let again = Journal::resume(dir.path(), &run).unwrap().unwrap();
        assert_eq!(again.answers.len(), 2);
        assert_eq!(again.unreadable, 0);
    }

    #[test]
    fn only_a_journal_of_the_same_run_is_resumed_and_a_finished_run_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let run = fingerprint("run");
        let other = fingerprint("other");
        let journal = Journal::start(dir.path(), &other).unwrap();
        record(&journal, "a", "first");
        drop(journal);
        assert!(Journal::resume(dir.path(), &run).unwrap().is_none());

        let first = Journal::start(dir.path(), &run).unwrap();
        drop(first);
        let second = Journal::start(dir.path(), &run).unwrap();
        let newest = second.path().to_owned();
        record(&second, "b", "second");
        drop(second);
        let resumed = Journal::resume(dir.path(), &run).unwrap().unwrap();
        assert_eq!(resumed.journal.path(), newest);
        resumed.journal.finish().unwrap();
        assert!(Journal::resume(dir.path(), &run).unwrap().is_none());
        // The other run's journal is left alone.
        assert!(Journal::resume(dir.path(), &other).unwrap().is_some());
    }
}
