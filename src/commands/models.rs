//! `cargo llm-bench models [PROVIDER…]`: what each provider offers, as the provider describes it.

use super::Outcome;
use crate::cli::{ModelsSettings, OutputFormat};
use crate::error::{provider_unavailable, ExitKind};
use crate::provider::{self, ModelInfo};
use crate::report;
use serde::Serialize;

/// One provider's answer, for `--format json`.
#[derive(Debug, Serialize)]
struct Listing {
    provider: String,
    models: Vec<ModelInfo>,
}

pub fn models(settings: &ModelsSettings) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut listings = Vec::new();
    let mut failures = Vec::new();
    for name in &settings.providers {
        let listed = provider::connect_provider(name, &settings.profiles)
            .and_then(|provider| runtime.block_on(provider.list_models()));
        match listed {
            Ok(models) => listings.push(Listing {
                provider: name.clone(),
                models,
            }),
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    match settings.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&listings)?),
        OutputFormat::Table => {
            for listing in &listings {
                println!(
                    "{}",
                    report::render_model_list(
                        &listing.provider,
                        &listing.models,
                        crate::ui::stdout_width()
                    )
                );
            }
        }
    }
    if failures.is_empty() {
        return Ok(Outcome(ExitKind::Success));
    }
    if listings.is_empty() {
        return Err(provider_unavailable(
            anyhow::anyhow!("{}", failures.join("\n")),
            None,
        ));
    }
    for failure in failures {
        eprintln!("error: {failure}");
    }
    Ok(Outcome(ExitKind::ProviderUnavailable))
}
