//! Models × cases × samples through generation, the stages and the repair loop.
//!
//! Work goes in rounds: every open attempt of every model is generated, then all of them are
//! scored as one batch; the failures that have repairs left get their diagnostics back and
//! form the next round. Emits events; never prints.

use crate::pipeline::extract::{self, Flag};
use crate::pipeline::{self, StageOutcome, Submission};
use crate::provider::{
    AttemptKey, GenerationMetrics, Message, ModelSpec, Provider, ProviderError, Request, Role,
    Sampling,
};
use crate::sandbox::Sandbox;
use crate::score;
use crate::suite::{Case, Mode, Stage, Suite};
use std::time::{Duration, Instant};

/// Something worth showing while a run goes on.
#[derive(Debug, Clone)]
pub enum Event {
    /// A round starts with this many attempts to generate and score.
    RoundStarted {
        round: u32,
        attempts: usize,
    },
    Generated {
        model: String,
        case: String,
    },
    /// A stage starts on this many attempts of the round.
    StageStarted {
        stage: Stage,
        attempts: usize,
    },
    /// The round's batch of attempts went through the stages.
    RoundScored {
        round: u32,
        attempts: usize,
        passed: usize,
    },
}

/// One model's answer to one case, and how it fared.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub answer: String,
    pub code: String,
    pub flags: Vec<Flag>,
    pub metrics: GenerationMetrics,
    pub stages: Vec<StageOutcome>,
    pub score: f64,
    pub passed: bool,
}

/// Every attempt of one model at one case and sample.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub suite: usize,
    pub case: usize,
    pub sample: u32,
    pub attempts: Vec<Attempt>,
    /// Set when the provider failed this request; the run went on without it.
    pub provider_error: Option<String>,
}

impl CaseRun {
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    pub fn repairs(&self) -> u32 {
        self.attempts.len().saturating_sub(1) as u32
    }
}

#[derive(Debug, Clone)]
pub struct ModelRun {
    pub model: ModelSpec,
    pub cases: Vec<CaseRun>,
    pub elapsed: Duration,
}

/// A model with the provider that serves it.
pub struct Contestant {
    pub model: ModelSpec,
    pub provider: Provider,
}

impl std::fmt::Debug for Contestant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contestant")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct Plan<'a> {
    pub suites: &'a [Suite],
    pub samples: u32,
    pub weights: score::Weights,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("model {model} cannot be used: {reason}")]
    ProviderUnavailable { model: String, reason: String },
    #[error(transparent)]
    Scoring(#[from] anyhow::Error),
}

/// One open (model, case, sample) and its conversation so far.
struct Open {
    contestant: usize,
    run: CaseRun,
    messages: Vec<Message>,
    done: bool,
}

pub fn run(
    sandbox: &Sandbox,
    plan: &Plan,
    contestants: &[Contestant],
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Vec<ModelRun>, RunError> {
    let mut open = Vec::new();
    for (contestant, _) in contestants.iter().enumerate() {
        for (suite_index, suite) in plan.suites.iter().enumerate() {
            for (case_index, case) in suite.cases.iter().enumerate() {
                for sample in 0..plan.samples {
                    open.push(Open {
                        contestant,
                        run: CaseRun {
                            suite: suite_index,
                            case: case_index,
                            sample,
                            attempts: Vec::new(),
                            provider_error: None,
                        },
                        messages: first_messages(case),
                        done: false,
                    });
                }
            }
        }
    }

    let mut model_time = vec![Duration::ZERO; contestants.len()];
    for round in 0.. {
        let active: Vec<usize> = (0..open.len()).filter(|&index| !open[index].done).collect();
        if active.is_empty() {
            break;
        }
        on_event(Event::RoundStarted {
            round,
            attempts: active.len(),
        });
        let mut generated = Vec::new();
        for &index in &active {
            let item = &mut open[index];
            let suite = &plan.suites[item.run.suite];
            let case = &suite.cases[item.run.case];
            let contestant = &contestants[item.contestant];
            let request = Request {
                key: AttemptKey {
                    suite: suite.name.clone(),
                    case: case.id.clone(),
                    sample: item.run.sample,
                    attempt: round,
                },
                mode: case.settings.mode,
                messages: item.messages.clone(),
                sampling: Sampling {
                    temperature: case.settings.temperature,
                    max_tokens: case.settings.max_tokens,
                    seed: case.settings.seed,
                },
            };
            let generation_started = Instant::now();
            let generation = futures_executor(contestant.provider.generate(&request, &|_| {}));
            match generation {
                Ok(generation) => {
                    model_time[item.contestant] += generation_started.elapsed();
                    let extracted =
                        extract::extract(case.settings.mode, &case.prompt, &generation.text);
                    generated.push((index, generation, extracted));
                }
                Err(ProviderError::Unusable { reason, .. }) => {
                    return Err(RunError::ProviderUnavailable {
                        model: contestant.model.to_string(),
                        reason,
                    })
                }
                Err(ProviderError::Failed { reason, .. }) => {
                    item.run.provider_error = Some(reason);
                    item.done = true;
                }
                Err(ProviderError::Exhausted) => item.done = true,
            }
            on_event(Event::Generated {
                model: contestant.model.to_string(),
                case: case.id.clone(),
            });
        }

        let scoring_started = Instant::now();
        let submissions: Vec<Submission> = generated
            .iter()
            .map(|(index, _, extracted)| Submission {
                code: &extracted.code,
                case: case_of(plan, &open[*index].run),
            })
            .collect();
        let outcomes = pipeline::score(sandbox, &submissions, &|stage, attempts| {
            on_event(Event::StageStarted { stage, attempts })
        })?;
        let scoring_time = scoring_started.elapsed();
        drop(submissions);

        let mut passed = 0;
        let n_scored = generated.len();
        for ((index, generation, extracted), stages) in generated.into_iter().zip(outcomes) {
            let case = case_of(plan, &open[index].run);
            let attempt = Attempt {
                score: score::attempt_score(&plan.weights, &case.settings.stages, &stages),
                passed: score::attempt_passed(&case.settings.stages, &stages),
                answer: generation.text,
                code: extracted.code,
                flags: extracted.flags,
                metrics: generation.metrics,
                stages,
            };
            let item = &mut open[index];
            model_time[item.contestant] += scoring_time / n_scored.max(1) as u32;
            passed += usize::from(attempt.passed);
            let repairs_left = (item.run.attempts.len() as u32) < case.settings.repairs
                && contestants[item.contestant].provider.repairs();
            // Base models in completion mode cannot take feedback, so they get no repairs.
            if attempt.passed || !repairs_left || case.settings.mode == Mode::Completion {
                item.done = true;
            } else {
                item.messages.extend(repair_messages(&attempt));
            }
            item.run.attempts.push(attempt);
        }
        on_event(Event::RoundScored {
            round,
            attempts: n_scored,
            passed,
        });
    }

    let mut runs: Vec<ModelRun> = contestants
        .iter()
        .zip(&model_time)
        .map(|(contestant, elapsed)| ModelRun {
            model: contestant.model.clone(),
            cases: Vec::new(),
            elapsed: *elapsed,
        })
        .collect();
    for item in open {
        runs[item.contestant].cases.push(item.run);
    }
    Ok(runs)
}

fn case_of<'a>(plan: &'a Plan, run: &CaseRun) -> &'a Case {
    &plan.suites[run.suite].cases[run.case]
}

fn first_messages(case: &Case) -> Vec<Message> {
    let mut messages = Vec::new();
    if case.settings.mode == Mode::Chat {
        if let Some(system) = &case.settings.system {
            messages.push(Message {
                role: Role::System,
                content: system.clone(),
            });
        }
    }
    messages.push(Message {
        role: Role::User,
        content: case.prompt.clone(),
    });
    messages
}

/// The failed answer and what the failing stage said, as the next turn of the conversation.
fn repair_messages(attempt: &Attempt) -> [Message; 2] {
    let failed = attempt.stages.iter().find(|outcome| !outcome.passed);
    let feedback = match failed {
        Some(outcome) => format!(
            "Your code failed the {} stage:\n\n```text\n{}\n```\n\nFix it and answer with the complete corrected code in one ```rust block.",
            outcome.stage, outcome.diagnostics
        ),
        None => "Your answer held no usable code. Answer with the complete code in one ```rust block.".to_owned(),
    };
    [
        Message {
            role: Role::Assistant,
            content: attempt.answer.clone(),
        },
        Message {
            role: Role::User,
            content: feedback,
        },
    ]
}

fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}
