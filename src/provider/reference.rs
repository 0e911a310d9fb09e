//! `reference`: answers every case with its reference, as a perfect model would.

use super::{Generation, GenerationMetrics, Provider, ProviderError, Request};
use crate::suite::Mode;
use std::time::Instant;

#[derive(Debug)]
pub struct ReferenceProvider;

impl Provider for ReferenceProvider {
    fn repairs(&self) -> bool {
        false
    }

    fn generate(
        &self,
        request: &Request,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, ProviderError> {
        let started = Instant::now();
        let reference = &request.case.reference;
        // Answer in the shape a real model would, so extraction is exercised the same way.
        let text = match request.mode {
            Mode::Chat => format!("```rust\n{}\n```\n", reference.trim_end()),
            Mode::Completion => reference.clone(),
        };
        on_token(&text);
        Ok(Generation {
            text,
            metrics: GenerationMetrics::offline(started.elapsed()),
        })
    }
}
