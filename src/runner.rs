//! Models × cases × samples: concurrent generation, batched scoring, the repair loop.
//!
//! Every (model, case, sample) is a conversation. Its attempts are generated concurrently on a
//! tokio runtime, within each profile's concurrency limit and request spacing, while the calling
//! thread scores what has been generated in batches through the pipeline and sends failures back
//! as repairs. A model served on this machine never generates while a batch is being scored:
//! scoring takes the CPU exclusively, so our own builds never slow its measured speed. Every
//! scored attempt is announced by an event carrying it. Emits events; never prints.

use crate::partition::Partition;
use crate::pipeline::extract::{self, Flag};
use crate::pipeline::{self, feedback, StageOutcome, Submission};
use crate::provider::{
    AttemptKey, Generation, GenerationEnd, GenerationMetrics, Message, ModelSpec, Prepared,
    Provider, ProviderError, ProviderEvent, Request, RequestLimits, Retries, Role, Sampling,
};
use crate::sandbox::{interruption, Sandbox};
use crate::score;
use crate::suite::{Case, Mode, Stage, Suite};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{RwLock, Semaphore};

/// A batch is scored once this many answers wait, even while others are still generating.
const BATCH_TARGET: usize = 40;
/// ... or once the oldest waiting answer has waited this long.
const BATCH_MAX_WAIT: Duration = Duration::from_secs(5);
/// How often the scoring thread looks up while waiting for answers.
const POLL: Duration = Duration::from_millis(100);

/// Something worth showing, or keeping, while a run goes on.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A model is about to be asked this many first answers.
    ModelStarted {
        model: &'a ModelSpec,
        conversations: usize,
    },
    /// A model was checked and loaded.
    ModelPrepared {
        model: &'a ModelSpec,
        prepared: &'a Prepared,
    },
    /// A request was sent to the model.
    RequestSent {
        model: &'a ModelSpec,
        key: &'a AttemptKey,
    },
    /// A request waits before being retried.
    Retrying {
        model: &'a ModelSpec,
        key: &'a AttemptKey,
        wait: Duration,
    },
    /// An answer arrived (or the request failed) and waits to be scored.
    Generated {
        model: &'a ModelSpec,
        key: &'a AttemptKey,
    },
    /// A stage starts on this many attempts of a batch.
    StageStarted { stage: Stage, attempts: usize },
    /// An attempt went through the stages: the unit a journal or cache persists.
    AttemptScored {
        model: &'a ModelSpec,
        attempt: &'a Attempt,
    },
    /// A conversation ended without a scored attempt: the provider failed it.
    ConversationFailed {
        model: &'a ModelSpec,
        key: &'a AttemptKey,
        reason: &'a str,
    },
    /// A model became unusable: its remaining work is dropped, the other models go on.
    ModelStopped {
        model: &'a ModelSpec,
        reason: &'a str,
    },
}

/// One model's answer to one case, and how it fared.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub key: AttemptKey,
    /// The repair request that asked for this answer (the failing stage's diagnostics as sent);
    /// None for the first answer.
    pub feedback: Option<String>,
    pub answer: String,
    pub thinking: String,
    pub code: String,
    pub flags: Vec<Flag>,
    pub end: GenerationEnd,
    pub metrics: GenerationMetrics,
    pub stages: Vec<StageOutcome>,
    pub score: f64,
    pub passed: bool,
}

impl Attempt {
    /// A failed attempt whose generation did not finish on its own (a budget or context window
    /// too small): the run's fault, not the model's.
    pub fn is_invalid(&self) -> bool {
        !self.passed && !self.end.is_valid()
    }
}

/// Why a conversation has no (further) scored attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderFailure {
    pub reason: String,
    pub timed_out: bool,
    /// The model was stopped before this conversation was asked (or finished).
    pub model_stopped: bool,
    pub retries: Retries,
}

/// Why a conversation whose last answer failed asked for no further repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairStop {
    /// The case's repairs were all used, or it allows none.
    OutOfRepairs,
    /// Feedback cannot help here: completion mode (base models take none), a provider that
    /// takes none, an answer cut short by the run's limits, or a model stopped meanwhile.
    NotRepairable,
    /// The answer's code was that of an earlier attempt (this one): asking again would loop.
    SameCode { attempt: u32 },
    /// The same stage failed with the same diagnostics as in the attempt before.
    SameError,
}

/// Every attempt of one model at one case and sample.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub suite: usize,
    pub case: usize,
    pub sample: u32,
    pub attempts: Vec<Attempt>,
    /// Set when the provider failed this conversation; the run went on without it.
    pub provider_error: Option<ProviderFailure>,
    /// Why the last answer, having failed, got no repair; None when it passed (or none came).
    pub repair_stop: Option<RepairStop>,
}

impl CaseRun {
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    pub fn repairs(&self) -> u32 {
        self.attempts.len().saturating_sub(1) as u32
    }

    pub fn passed(&self) -> bool {
        self.last().is_some_and(|attempt| attempt.passed)
    }

    /// Invalid for reasons of the run, not the model: the provider failed the request, or the
    /// last answer was cut short by a budget or context window.
    pub fn is_invalid(&self) -> bool {
        self.provider_error.is_some() || self.last().is_some_and(Attempt::is_invalid)
    }
}

#[derive(Debug, Clone)]
pub struct ModelRun {
    pub model: ModelSpec,
    pub cases: Vec<CaseRun>,
    /// From the model's first request to its last scored attempt.
    pub elapsed: Duration,
    /// Model load time, measured apart before any timed request.
    pub load_time: Option<Duration>,
    /// Why the model stopped early, when it did.
    pub stopped: Option<String>,
}

/// A model with the provider that serves it.
#[derive(Debug)]
pub struct Contestant {
    pub model: ModelSpec,
    pub provider: Provider,
}

#[derive(Debug)]
pub struct Plan<'a> {
    pub suites: &'a [Suite],
    pub weights: score::Weights,
    /// Only this share of the conversations is run; None runs them all.
    pub partition: Option<Partition>,
}

/// Why a run ended before every conversation did.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scoring(#[from] anyhow::Error),
}

/// One conversation and where it stands.
struct Conversation {
    contestant: usize,
    run: CaseRun,
    messages: Vec<Message>,
    /// Generated, waiting to be scored.
    generated: Option<(Generation, Instant)>,
    done: bool,
}

/// A request for the generation side.
struct Job {
    conversation: usize,
    contestant: usize,
    request: Request,
}

/// What the generation side sends back.
struct Answered {
    conversation: usize,
    result: Result<Generation, ProviderError>,
}

pub type EventSink<'s> = &'s (dyn Fn(Event) + Sync);

pub fn run(
    sandbox: &Sandbox,
    plan: &Plan,
    contestants: &[Contestant],
    on_event: EventSink,
) -> Result<Vec<ModelRun>, RunError> {
    let mut conversations = Vec::new();
    // Every conversation's place in the canonical order (model, suite, case, sample), counted
    // whether or not this share runs it, so the shares of a partition are disjoint and whole.
    let mut position = 0;
    for (contestant, _) in contestants.iter().enumerate() {
        for (suite_index, suite) in plan.suites.iter().enumerate() {
            for (case_index, case) in suite.cases.iter().enumerate() {
                for sample in 0..case.settings.samples {
                    let in_share = plan.partition.is_none_or(|share| share.contains(position));
                    position += 1;
                    if !in_share {
                        continue;
                    }
                    conversations.push(Conversation {
                        contestant,
                        run: CaseRun {
                            suite: suite_index,
                            case: case_index,
                            sample,
                            attempts: Vec::new(),
                            provider_error: None,
                            repair_stop: None,
                        },
                        messages: first_messages(case),
                        generated: None,
                        done: false,
                    });
                }
            }
        }
    }
    let stopped: Vec<AtomicBool> = contestants.iter().map(|_| AtomicBool::new(false)).collect();
    let cpu = RwLock::new(());
    let (job_sender, job_receiver) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let (answer_sender, answer_receiver) = mpsc::channel::<Answered>();
    let (prepared_sender, prepared_receiver) = mpsc::channel();
    // Dropped with the coordinator: the generation side then drops whatever is in flight.
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();

    std::thread::scope(|scope| {
        let generation = GenerationSide {
            contestants,
            stopped: &stopped,
            cpu: &cpu,
            on_event,
        };
        scope.spawn(move || {
            generation.serve(job_receiver, answer_sender, prepared_sender, stop_receiver)
        });
        let mut coordinator = Coordinator {
            sandbox,
            plan,
            contestants,
            on_event,
            conversations,
            stopped: &stopped,
            stop_reasons: vec![None; contestants.len()],
            load_times: vec![None; contestants.len()],
            started: vec![None; contestants.len()],
            finished: vec![None; contestants.len()],
            jobs: job_sender,
            _stop: stop_sender,
            in_flight: 0,
            cpu: &cpu,
        };
        // The job sender is dropped with the coordinator, which ends the generation side.
        coordinator.run(&prepared_receiver, &answer_receiver)
    })
}

/// The generation side: prepares every model, then answers jobs concurrently.
struct GenerationSide<'a> {
    contestants: &'a [Contestant],
    stopped: &'a [AtomicBool],
    cpu: &'a RwLock<()>,
    on_event: EventSink<'a>,
}

impl GenerationSide<'_> {
    fn serve(
        self,
        mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
        answers: mpsc::Sender<Answered>,
        prepared: mpsc::Sender<(usize, Result<Prepared, ProviderError>)>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                for contestant in 0..self.contestants.len() {
                    let _ = prepared.send((
                        contestant,
                        Err(ProviderError::Unusable {
                            reason: format!("cannot start the HTTP runtime: {error}"),
                            retries: Retries::default(),
                        }),
                    ));
                }
                return;
            }
        };
        // One semaphore and one request clock per profile: models of one server share them.
        let mut gates: HashMap<&str, Arc<Gate>> = HashMap::new();
        let gate_of: Vec<Arc<Gate>> = self
            .contestants
            .iter()
            .map(|contestant| {
                gates
                    .entry(contestant.model.provider.as_str())
                    .or_insert_with(|| Arc::new(Gate::new(contestant.provider.limits())))
                    .clone()
            })
            .collect();
        runtime.block_on(async {
            let mut preparing: FuturesUnordered<_> =
                self.contestants
                    .iter()
                    .enumerate()
                    .map(|(index, contestant)| async move {
                        (index, contestant.provider.prepare().await)
                    })
                    .collect();
            loop {
                tokio::select! {
                    result = preparing.next() => match result {
                        Some(result) => {
                            let _ = prepared.send(result);
                        }
                        None => break,
                    },
                    _ = &mut stop => return,
                }
            }
            drop(preparing);

            let mut running = FuturesUnordered::new();
            let mut open = true;
            loop {
                tokio::select! {
                    job = jobs.recv(), if open => match job {
                        Some(job) => {
                            let gate = gate_of[job.contestant].clone();
                            running.push(self.answer(job, gate));
                        }
                        None => open = false,
                    },
                    Some(answered) = running.next(), if !running.is_empty() => {
                        if answers.send(answered).is_err() {
                            return;
                        }
                    }
                    _ = &mut stop => return,
                }
            }
        });
    }

    async fn answer(&self, job: Job, gate: Arc<Gate>) -> Answered {
        let contestant = &self.contestants[job.contestant];
        let model = &contestant.model;
        let result = async {
            let _permit = gate.permits.acquire().await;
            gate.wait_turn().await;
            if self.stopped[job.contestant].load(Ordering::Relaxed) {
                return Err(ProviderError::Unusable {
                    reason: "the model was stopped".to_owned(),
                    retries: Retries::default(),
                });
            }
            // A model on this machine shares the CPU with our builds: it generates only while
            // no batch is being scored, so its speed is measured on a quiet machine.
            let _cpu = if contestant.provider.is_local() {
                Some(self.cpu.read().await)
            } else {
                None
            };
            (self.on_event)(Event::RequestSent {
                model,
                key: &job.request.key,
            });
            let key = &job.request.key;
            let on_provider_event = |event: ProviderEvent| {
                if let ProviderEvent::Retrying { wait, .. } = event {
                    (self.on_event)(Event::Retrying { model, key, wait });
                }
            };
            contestant
                .provider
                .generate(&job.request, &on_provider_event)
                .await
        }
        .await;
        (self.on_event)(Event::Generated {
            model,
            key: &job.request.key,
        });
        Answered {
            conversation: job.conversation,
            result,
        }
    }
}

/// A profile's concurrency limit and request spacing.
struct Gate {
    permits: Semaphore,
    delay: Duration,
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Gate {
    fn new(limits: RequestLimits) -> Gate {
        Gate {
            permits: Semaphore::new(limits.concurrency.max(1)),
            delay: limits.delay,
            next_start: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits until `delay` has passed since the previous request of this profile started.
    async fn wait_turn(&self) {
        if self.delay.is_zero() {
            return;
        }
        let start = {
            let mut next_start = self.next_start.lock().await;
            let start = (*next_start).max(tokio::time::Instant::now());
            *next_start = start + self.delay;
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// The scoring side: hands out jobs, scores answers in batches, decides on repairs.
struct Coordinator<'a> {
    sandbox: &'a Sandbox,
    plan: &'a Plan<'a>,
    contestants: &'a [Contestant],
    on_event: EventSink<'a>,
    conversations: Vec<Conversation>,
    stopped: &'a [AtomicBool],
    stop_reasons: Vec<Option<String>>,
    load_times: Vec<Option<Duration>>,
    started: Vec<Option<Instant>>,
    finished: Vec<Option<Instant>>,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    _stop: tokio::sync::oneshot::Sender<()>,
    in_flight: usize,
    cpu: &'a RwLock<()>,
}

impl Coordinator<'_> {
    fn run(
        &mut self,
        prepared: &mpsc::Receiver<(usize, Result<Prepared, ProviderError>)>,
        answers: &mpsc::Receiver<Answered>,
    ) -> Result<Vec<ModelRun>, RunError> {
        let mut unprepared = self.contestants.len();
        while unprepared > 0 {
            if interruption().is_some() {
                return Ok(self.finish());
            }
            let (contestant, result) = match prepared.recv_timeout(POLL) {
                Ok(prepared) => prepared,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            unprepared -= 1;
            let model = &self.contestants[contestant].model;
            match result {
                Ok(prepared) => {
                    (self.on_event)(Event::ModelPrepared {
                        model,
                        prepared: &prepared,
                    });
                    self.load_times[contestant] = prepared.load_time;
                    self.start_model(contestant);
                }
                Err(error) => self.stop_model(contestant, &error.to_string()),
            }
        }

        loop {
            // Ctrl-C: stop asking, keep what was scored; `finish` leaves out the rest.
            if interruption().is_some() {
                break;
            }
            let waiting: Vec<usize> = (0..self.conversations.len())
                .filter(|&index| self.conversations[index].generated.is_some())
                .collect();
            if self.in_flight == 0 && waiting.is_empty() {
                break;
            }
            if !waiting.is_empty() && self.batch_is_due(&waiting) {
                match self.score(&waiting) {
                    Ok(()) => continue,
                    Err(_) if interruption().is_some() => break,
                    Err(error) => return Err(error),
                }
            }
            match answers.recv_timeout(POLL) {
                Ok(answered) => self.receive(answered),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RunError::Scoring(anyhow::anyhow!(
                        "the generation side of the run ended early"
                    )))
                }
            }
            // Take every answer that is already there before deciding on a batch.
            while let Ok(answered) = answers.try_recv() {
                self.receive(answered);
            }
        }
        Ok(self.finish())
    }

    fn start_model(&mut self, contestant: usize) {
        let model = &self.contestants[contestant].model;
        let indices: Vec<usize> = (0..self.conversations.len())
            .filter(|&index| self.conversations[index].contestant == contestant)
            .collect();
        (self.on_event)(Event::ModelStarted {
            model,
            conversations: indices.len(),
        });
        self.started[contestant] = Some(Instant::now());
        for index in indices {
            self.ask(index);
        }
    }

    /// Sends the conversation's next request to the generation side.
    fn ask(&mut self, index: usize) {
        let conversation = &self.conversations[index];
        let suite = &self.plan.suites[conversation.run.suite];
        let case = &suite.cases[conversation.run.case];
        let request = Request {
            key: AttemptKey {
                suite: suite.name.clone(),
                case: case.id.clone(),
                sample: conversation.run.sample,
                attempt: conversation.run.attempts.len() as u32,
            },
            mode: case.settings.mode,
            messages: conversation.messages.clone(),
            sampling: Sampling {
                temperature: case.settings.temperature,
                max_tokens: case.settings.max_tokens,
                seed: sample_seed(case.settings.seed, conversation.run.sample),
            },
        };
        let job = Job {
            conversation: index,
            contestant: conversation.contestant,
            request,
        };
        if self.jobs.send(job).is_ok() {
            self.in_flight += 1;
        } else {
            self.fail(
                index,
                "the generation side of the run ended early",
                false,
                Retries::default(),
            );
        }
    }

    fn receive(&mut self, answered: Answered) {
        self.in_flight -= 1;
        let index = answered.conversation;
        let contestant = self.conversations[index].contestant;
        match answered.result {
            Ok(generation) => {
                self.conversations[index].generated = Some((generation, Instant::now()));
            }
            Err(ProviderError::Unusable { reason, retries }) => {
                self.stop_model(contestant, &reason);
                self.fail(index, &reason, false, retries);
                self.conversations[index]
                    .run
                    .provider_error
                    .as_mut()
                    .expect("just set")
                    .model_stopped = true;
            }
            Err(ProviderError::Failed {
                reason,
                timed_out,
                retries,
            }) => self.fail(index, &reason, timed_out, retries),
            Err(ProviderError::Exhausted) => self.end(index),
        }
    }

    /// Whether to score now: nothing else is coming, enough is waiting, or it waited enough.
    fn batch_is_due(&self, waiting: &[usize]) -> bool {
        let oldest = waiting
            .iter()
            .filter_map(|&index| self.conversations[index].generated.as_ref())
            .map(|(_, at)| at.elapsed())
            .max()
            .unwrap_or_default();
        self.in_flight == 0 || waiting.len() >= BATCH_TARGET || oldest >= BATCH_MAX_WAIT
    }

    fn score(&mut self, waiting: &[usize]) -> Result<(), RunError> {
        let mut batch = Vec::with_capacity(waiting.len());
        for &index in waiting {
            let conversation = &mut self.conversations[index];
            let (generation, _) = conversation.generated.take().expect("waiting");
            let case = case_of(self.plan, &conversation.run);
            let extracted = extract::extract(case.settings.mode, &case.prompt, &generation.text);
            batch.push((index, generation, extracted));
        }
        let outcomes = {
            // Local models pause while our builds load the CPU.
            let _cpu = self.cpu.blocking_write();
            let submissions: Vec<Submission> = batch
                .iter()
                .map(|(index, _, extracted)| Submission {
                    code: &extracted.code,
                    case: case_of(self.plan, &self.conversations[*index].run),
                })
                .collect();
            let on_event = self.on_event;
            pipeline::score(self.sandbox, &submissions, &|stage, attempts| {
                on_event(Event::StageStarted { stage, attempts })
            })?
        };
        for ((index, generation, extracted), stages) in batch.into_iter().zip(outcomes) {
            let conversation = &self.conversations[index];
            let case = case_of(self.plan, &conversation.run);
            let suite = &self.plan.suites[conversation.run.suite];
            let attempt = Attempt {
                key: AttemptKey {
                    suite: suite.name.clone(),
                    case: case.id.clone(),
                    sample: conversation.run.sample,
                    attempt: conversation.run.attempts.len() as u32,
                },
                feedback: (!conversation.run.attempts.is_empty())
                    .then(|| conversation.messages.last().map(|m| m.content.clone()))
                    .flatten(),
                score: score::attempt_score(&self.plan.weights, &case.settings.stages, &stages),
                passed: score::attempt_passed(&case.settings.stages, &stages),
                answer: generation.text,
                thinking: generation.thinking,
                code: extracted.code,
                flags: extracted.flags,
                end: generation.end,
                metrics: generation.metrics,
                stages,
            };
            let contestant = conversation.contestant;
            (self.on_event)(Event::AttemptScored {
                model: &self.contestants[contestant].model,
                attempt: &attempt,
            });
            // Base models in completion mode cannot take feedback, so they get no repairs; an
            // answer cut short by the run's limits gets none either: the fault is not the model's.
            let repairable = self.contestants[contestant].provider.repairs()
                && case.settings.mode == Mode::Chat
                && !attempt.is_invalid()
                && !self.stopped[contestant].load(Ordering::Relaxed);
            let stop = (!attempt.passed)
                .then(|| {
                    repair_stop(
                        &conversation.run.attempts,
                        &attempt,
                        repairable,
                        case.settings.repairs,
                    )
                })
                .flatten();
            let conversation = &mut self.conversations[index];
            let repair = !attempt.passed && stop.is_none();
            if repair {
                conversation.messages.extend(repair_messages(&attempt));
            }
            conversation.run.repair_stop = stop;
            conversation.run.attempts.push(attempt);
            if repair {
                self.ask(index);
            } else {
                self.end(index);
            }
        }
        Ok(())
    }

    fn fail(&mut self, index: usize, reason: &str, timed_out: bool, retries: Retries) {
        let conversation = &mut self.conversations[index];
        conversation.run.provider_error = Some(ProviderFailure {
            reason: reason.to_owned(),
            timed_out,
            model_stopped: false,
            retries,
        });
        let model = &self.contestants[conversation.contestant].model;
        let key = AttemptKey {
            suite: self.plan.suites[conversation.run.suite].name.clone(),
            case: case_of(self.plan, &conversation.run).id.clone(),
            sample: conversation.run.sample,
            attempt: conversation.run.attempts.len() as u32,
        };
        (self.on_event)(Event::ConversationFailed {
            model,
            key: &key,
            reason,
        });
        self.end(index);
    }

    fn end(&mut self, index: usize) {
        let conversation = &mut self.conversations[index];
        conversation.done = true;
        self.finished[conversation.contestant] = Some(Instant::now());
    }

    /// Marks the model unusable: its queued requests are dropped by the generation side, and
    /// conversations that never got an answer record why.
    fn stop_model(&mut self, contestant: usize, reason: &str) {
        if self.stopped[contestant].swap(true, Ordering::Relaxed) {
            return;
        }
        self.stop_reasons[contestant] = Some(reason.to_owned());
        (self.on_event)(Event::ModelStopped {
            model: &self.contestants[contestant].model,
            reason,
        });
    }

    fn finish(&mut self) -> Vec<ModelRun> {
        let mut runs: Vec<ModelRun> = self
            .contestants
            .iter()
            .enumerate()
            .map(|(index, contestant)| ModelRun {
                model: contestant.model.clone(),
                cases: Vec::new(),
                elapsed: match (self.started[index], self.finished[index]) {
                    (Some(started), Some(finished)) => finished.saturating_duration_since(started),
                    _ => Duration::ZERO,
                },
                load_time: self.load_times[index],
                stopped: self.stop_reasons[index].clone(),
            })
            .collect();
        let interrupted = interruption().is_some();
        for conversation in std::mem::take(&mut self.conversations) {
            let mut run = conversation.run;
            if interrupted && !conversation.done && run.attempts.is_empty() {
                // Never finished before the interrupt: not a result of the model's.
                continue;
            }
            if !conversation.done && run.provider_error.is_none() && !interrupted {
                // Never asked: the model was stopped first.
                run.provider_error = Some(ProviderFailure {
                    reason: self.stop_reasons[conversation.contestant]
                        .clone()
                        .unwrap_or_else(|| "not asked".to_owned()),
                    timed_out: false,
                    model_stopped: true,
                    retries: Retries::default(),
                });
            }
            runs[conversation.contestant].cases.push(run);
        }
        runs
    }
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

/// The seed sample `sample` sends: a case's pinned seed plus the sample's index, so samples
/// differ from each other yet every run draws the same ones; without a pinned seed none is
/// sent and the server picks its own.
fn sample_seed(pinned: Option<u64>, sample: u32) -> Option<u64> {
    pinned.map(|seed| seed.wrapping_add(u64::from(sample)))
}

/// Why a failed `attempt`, coming after `earlier` ones, gets no repair; None when it gets one.
fn repair_stop(
    earlier: &[Attempt],
    attempt: &Attempt,
    repairable: bool,
    repairs: u32,
) -> Option<RepairStop> {
    if !repairable {
        return Some(RepairStop::NotRepairable);
    }
    if earlier.len() as u32 >= repairs {
        return Some(RepairStop::OutOfRepairs);
    }
    // Whitespace aside: a reindented copy of a failed answer fails the same way.
    let same_code = |other: &Attempt| {
        other
            .code
            .split_whitespace()
            .eq(attempt.code.split_whitespace())
    };
    if let Some(repeated) = earlier.iter().find(|other| same_code(other)) {
        return Some(RepairStop::SameCode {
            attempt: repeated.key.attempt,
        });
    }
    let previous = earlier.last()?;
    (feedback::failure_signature(&previous.stages) == feedback::failure_signature(&attempt.stages))
        .then_some(RepairStop::SameError)
}

/// The failed answer and what the failing stage said, as the next turn of the conversation.
fn repair_messages(attempt: &Attempt) -> [Message; 2] {
    [
        Message {
            role: Role::Assistant,
            content: attempt.answer.clone(),
        },
        Message {
            role: Role::User,
            content: feedback::repair_request(&attempt.stages),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StageDetail;

    fn failed_compile(attempt: u32, code: &str, error: &str) -> Attempt {
        Attempt {
            key: AttemptKey {
                suite: "s".to_owned(),
                case: "c".to_owned(),
                sample: 0,
                attempt,
            },
            feedback: None,
            answer: format!("```rust\n{code}\n```"),
            thinking: String::new(),
            code: code.to_owned(),
            flags: Vec::new(),
            end: GenerationEnd::Finished,
            metrics: GenerationMetrics::offline(Duration::ZERO),
            stages: vec![StageOutcome {
                stage: Stage::Compile,
                passed: false,
                elapsed: Duration::ZERO,
                detail: StageDetail::Compile {
                    error_codes: vec!["E0382".to_owned()],
                    warnings: 0,
                },
                diagnostics: error.to_owned(),
            }],
            score: 0.0,
            passed: false,
        }
    }

    const MOVED: &str = "error[E0382]: use of moved value: `s`\n --> src/lib.rs:3:12";

    #[test]
    fn a_first_failure_with_repairs_left_is_repaired() {
        let first = failed_compile(0, "fn f() { a }", MOVED);
        assert_eq!(repair_stop(&[], &first, true, 2), None);
    }

    #[test]
    fn the_same_code_as_an_earlier_attempt_stops_the_repairs_and_names_it() {
        let first = failed_compile(0, "fn f() {\n    a\n}", MOVED);
        let second = failed_compile(1, "fn f() { b }", "error[E0425]: cannot find value `b`");
        // Reindented, the first answer again.
        let third = failed_compile(2, "fn f() { a }", MOVED);
        assert_eq!(
            repair_stop(&[first, second], &third, true, 5),
            Some(RepairStop::SameCode { attempt: 0 })
        );
    }

    #[test]
    fn the_same_error_twice_in_a_row_stops_the_repairs() {
        let first = failed_compile(0, "fn f() { a }", MOVED);
        let moved_down = MOVED.replace(":3:12", ":4:12");
        let second = failed_compile(1, "fn f() {\n    let x = 1;\n    a\n}", &moved_down);
        assert_eq!(
            repair_stop(&[first], &second, true, 5),
            Some(RepairStop::SameError)
        );
    }

    #[test]
    fn a_different_error_keeps_the_repairs_going_until_they_are_used_up() {
        let first = failed_compile(0, "fn f() { a }", MOVED);
        let second = failed_compile(1, "fn f() { b }", "error[E0425]: cannot find value `b`");
        assert_eq!(
            repair_stop(std::slice::from_ref(&first), &second, true, 5),
            None
        );
        assert_eq!(
            repair_stop(&[first], &second, true, 1),
            Some(RepairStop::OutOfRepairs)
        );
    }

    #[test]
    fn an_answer_that_cannot_take_feedback_is_not_repaired() {
        let first = failed_compile(0, "fn f() { a }", MOVED);
        assert_eq!(
            repair_stop(&[], &first, false, 2),
            Some(RepairStop::NotRepairable)
        );
    }

    #[test]
    fn samples_of_a_pinned_seed_get_distinct_reproducible_seeds_and_no_pin_sends_none() {
        let seeds: Vec<Option<u64>> = (0..3).map(|sample| sample_seed(Some(7), sample)).collect();
        assert_eq!(seeds, [Some(7), Some(8), Some(9)]);
        assert_eq!(sample_seed(Some(u64::MAX), 1), Some(0));
        assert_eq!(sample_seed(None, 4), None);
    }

    #[test]
    fn a_repair_sends_the_previous_answer_then_the_shaped_request() {
        let first = failed_compile(0, "fn f() { a }", MOVED);
        let [answer, request] = repair_messages(&first);
        assert_eq!(
            (answer.role, answer.content.as_str()),
            (Role::Assistant, first.answer.as_str())
        );
        assert_eq!(request.role, Role::User);
        assert_eq!(request.content, feedback::repair_request(&first.stages));
    }
}
