//! `replay:DIR`: answers from recorded responses, one file per case, sample and attempt.
//!
//! Layout: `DIR/<suite>/<case-id>/<sample>-<attempt>.md`, both numbers from 0: `0-0.md` is the
//! first sample's first answer, `0-1.md` its first repair. The file holds the model's raw text.

use super::{AttemptKey, Generation, GenerationEnd, GenerationMetrics, ProviderError, Request};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug)]
pub struct ReplayProvider {
    root: PathBuf,
}

impl ReplayProvider {
    pub fn open(root: &Path) -> Result<ReplayProvider, ProviderError> {
        if !root.is_dir() {
            return Err(ProviderError::Unusable {
                reason: format!("replay folder {} does not exist", root.display()),
                retries: Default::default(),
            });
        }
        Ok(ReplayProvider {
            root: root.to_owned(),
        })
    }

    pub fn recording_path(&self, key: &AttemptKey) -> PathBuf {
        self.root
            .join(&key.suite)
            .join(&key.case)
            .join(format!("{}-{}.md", key.sample, key.attempt))
    }

    pub(super) fn generate(&self, request: &Request) -> Result<Generation, ProviderError> {
        let started = Instant::now();
        let path = self.recording_path(&request.key);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            // Without a recorded repair, the recorded attempts are all there is.
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound && request.key.attempt > 0 =>
            {
                return Err(ProviderError::Exhausted)
            }
            Err(error) => {
                return Err(ProviderError::Failed {
                    reason: format!("no recorded answer at {}: {error}", path.display()),
                    timed_out: false,
                    retries: Default::default(),
                })
            }
        };
        Ok(Generation {
            text,
            thinking: String::new(),
            end: GenerationEnd::Finished,
            metrics: GenerationMetrics::offline(started.elapsed()),
        })
    }
}
