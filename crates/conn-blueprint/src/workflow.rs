//! Composite calls across connectors: fan-out, then-steps, one deadline.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conn_core::{Connector, Context, Error, Request, Response};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Why a step has no response.
#[derive(Debug)]
pub enum StepError {
    /// The call failed (the error says how, transient or not, attempts, status).
    Call(Error),
    /// The step did not run: the deadline had passed, or its `then` function
    /// declined (an earlier result it needs is missing).
    Skipped(String),
    /// The task running the step panicked.
    Panicked,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Call(e) => write!(f, "call failed: {e}"),
            StepError::Skipped(reason) => write!(f, "skipped: {reason}"),
            StepError::Panicked => f.write_str("the step panicked"),
        }
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StepError::Call(e) => Some(e),
            _ => None,
        }
    }
}

/// One step's result.
#[derive(Debug)]
pub struct StepOutcome {
    /// The step's name.
    pub name: String,
    /// The connector it used.
    pub connector: String,
    /// Its response, or why there is none.
    pub result: Result<Response, StepError>,
}

/// The results of every step, in the order the steps were added.
#[derive(Debug)]
pub struct WorkflowReport {
    /// The correlation id every call carried.
    pub correlation_id: String,
    /// One outcome per step, in input order.
    pub steps: Vec<StepOutcome>,
}

impl WorkflowReport {
    /// The outcome of the step named `name`.
    pub fn step(&self, name: &str) -> Option<&StepOutcome> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The response of the step named `name`, if it succeeded.
    pub fn response(&self, name: &str) -> Option<&Response> {
        self.step(name).and_then(|s| s.result.as_ref().ok())
    }

    /// The steps that did not succeed.
    pub fn failed(&self) -> Vec<&StepOutcome> {
        self.steps.iter().filter(|s| s.result.is_err()).collect()
    }

    /// Whether every step succeeded.
    pub fn is_success(&self) -> bool {
        self.steps.iter().all(|s| s.result.is_ok())
    }
}

impl fmt::Display for WorkflowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "workflow {}:", self.correlation_id)?;
        for step in &self.steps {
            match &step.result {
                Ok(response) => writeln!(
                    f,
                    "  {} ({}): ok {}",
                    step.name,
                    step.connector,
                    response.status()
                )?,
                Err(e) => writeln!(f, "  {} ({}): {e}", step.name, step.connector)?,
            }
        }
        Ok(())
    }
}

type ThenFn = Box<dyn for<'a> FnOnce(&Earlier<'a>) -> Result<Request, String> + Send>;

enum Kind {
    Call(Box<Request>),
    Then(ThenFn),
}

struct Step {
    name: String,
    connector: Connector,
    kind: Kind,
}

/// A composite call across connectors.
///
/// Every [`call`](Self::call) step runs concurrently (at most
/// [`concurrency`](Self::concurrency) at once); then every
/// [`then`](Self::then) step runs in order, given the outcomes so far, if
/// the deadline has not passed. All calls share one correlation id and one
/// deadline. A failed step never hides the others' results.
pub struct Workflow {
    steps: Vec<Step>,
    concurrency: usize,
    timeout: Option<Duration>,
    correlation_id: Option<String>,
    tenant: Option<String>,
}

impl Default for Workflow {
    fn default() -> Self {
        Workflow::new()
    }
}

impl Workflow {
    /// An empty workflow: concurrency 8, no deadline of its own.
    pub fn new() -> Workflow {
        Workflow {
            steps: Vec::new(),
            concurrency: 8,
            timeout: None,
            correlation_id: None,
            tenant: None,
        }
    }

    /// At most `limit` calls at once (at least 1).
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.concurrency = limit.max(1);
        self
    }

    /// One deadline for the whole workflow, `timeout` from `run`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The correlation id every call carries (default: generated).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// The tenant every call runs for.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// A step run concurrently with the other `call` steps.
    pub fn call(mut self, name: impl Into<String>, connector: &Connector, request: Request) -> Self {
        self.steps.push(Step {
            name: name.into(),
            connector: connector.clone(),
            kind: Kind::Call(Box::new(request)),
        });
        self
    }

    /// A step run after the `call` steps (and earlier `then` steps): `make`
    /// sees their outcomes and returns the request, or `Err(reason)` to skip.
    pub fn then<F>(mut self, name: impl Into<String>, connector: &Connector, make: F) -> Self
    where
        F: for<'a> FnOnce(&Earlier<'a>) -> Result<Request, String> + Send + 'static,
    {
        self.steps.push(Step {
            name: name.into(),
            connector: connector.clone(),
            kind: Kind::Then(Box::new(make)),
        });
        self
    }

    /// Runs every step; never fails as a whole: see each step's outcome.
    pub async fn run(self) -> WorkflowReport {
        let mut base = Context::new();
        let correlation_id: Arc<str> = match self.correlation_id {
            Some(id) => id.into(),
            None => base.ensure_correlation_id(),
        };
        base = base.correlation_id(correlation_id.clone());
        if let Some(tenant) = self.tenant {
            base = base.tenant(tenant);
        }
        let deadline = self.timeout.and_then(|t| Instant::now().checked_add(t));
        if let Some(deadline) = deadline {
            base = base.deadline(deadline);
        }

        let mut outcomes: Vec<Option<StepOutcome>> = Vec::new();
        let mut thens = Vec::new();
        let semaphore = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = JoinSet::new();
        let mut task_index = std::collections::HashMap::new();
        for (index, step) in self.steps.into_iter().enumerate() {
            outcomes.push(None);
            match step.kind {
                Kind::Call(request) => {
                    let semaphore = semaphore.clone();
                    let context = base.clone();
                    let connector = step.connector.clone();
                    let handle = tasks.spawn(async move {
                        let _permit = semaphore.acquire_owned().await;
                        (index, connector.call(*request, context).await)
                    });
                    task_index.insert(handle.id(), (index, step.name, step.connector.name().to_owned()));
                }
                Kind::Then(make) => thens.push((index, step.name, step.connector, make)),
            }
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, (index, result))) => {
                    if let Some((_, name, connector)) = task_index.remove(&id) {
                        outcomes[index] = Some(StepOutcome {
                            name,
                            connector,
                            result: result.map_err(StepError::Call),
                        });
                    }
                }
                Err(e) => {
                    if let Some((index, name, connector)) = task_index.remove(&e.id()) {
                        outcomes[index] = Some(StepOutcome {
                            name,
                            connector,
                            result: Err(StepError::Panicked),
                        });
                    }
                }
            }
        }

        for (index, name, connector, make) in thens {
            let result = if deadline.is_some_and(|d| Instant::now() >= d) {
                Err(StepError::Skipped("the workflow deadline had passed".into()))
            } else {
                match make(&Earlier(&outcomes)) {
                    Ok(request) => connector
                        .call(request, base.clone())
                        .await
                        .map_err(StepError::Call),
                    Err(reason) => Err(StepError::Skipped(reason)),
                }
            };
            outcomes[index] = Some(StepOutcome {
                name,
                connector: connector.name().to_owned(),
                result,
            });
        }

        WorkflowReport {
            correlation_id: correlation_id.to_string(),
            steps: outcomes.into_iter().flatten().collect(),
        }
    }
}

/// The outcomes of the steps finished before a `then` step.
pub struct Earlier<'a>(&'a [Option<StepOutcome>]);

impl Earlier<'_> {
    /// The outcome of the finished step named `name`.
    pub fn step(&self, name: &str) -> Option<&StepOutcome> {
        self.iter().find(|s| s.name == name)
    }

    /// The response of the step named `name`, if it finished and succeeded.
    pub fn response(&self, name: &str) -> Option<&Response> {
        self.step(name).and_then(|s| s.result.as_ref().ok())
    }

    /// The finished steps, in input order.
    pub fn iter(&self) -> impl Iterator<Item = &StepOutcome> {
        self.0.iter().flatten()
    }
}
