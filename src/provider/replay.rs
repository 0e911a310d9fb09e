//! `replay:DIR`: answers from recorded responses, one file per case, sample and attempt.
//!
//! Layout: `DIR/<suite>/<case-id>/<sample>-<attempt>.md`, both numbers from 0: `0-0.md` is the
//! first sample's first answer, `0-1.md` its first repair. The file holds the model's raw text.

use super::{Generation, GenerationMetrics, Provider, ProviderError, Request};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug)]
pub struct ReplayProvider {
    root: PathBuf,
}

impl ReplayProvider {
    pub fn open(root: &Path) -> Result<ReplayProvider, ProviderError> {
        if !root.is_dir() {
            return Err(ProviderError::Unavailable(format!(
                "replay folder {} does not exist",
                root.display()
            )));
        }
        Ok(ReplayProvider {
            root: root.to_owned(),
        })
    }

    pub fn recording_path(&self, request: &Request) -> PathBuf {
        self.root
            .join(request.suite)
            .join(&request.case.id)
            .join(format!("{}-{}.md", request.sample, request.attempt))
    }
}

impl Provider for ReplayProvider {
    fn generate(
        &self,
        request: &Request,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, ProviderError> {
        let started = Instant::now();
        let path = self.recording_path(request);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            // Without a recorded repair, the recorded attempts are all there is.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && request.attempt > 0 => {
                return Err(ProviderError::Exhausted)
            }
            Err(error) => {
                return Err(ProviderError::Request(format!(
                    "no recorded answer at {}: {error}",
                    path.display()
                )))
            }
        };
        on_token(&text);
        Ok(Generation {
            text,
            metrics: GenerationMetrics::offline(started.elapsed()),
        })
    }
}
