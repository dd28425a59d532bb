//! The webhook's decision log seam: every image decision of a `/validate` review is handed to a
//! [`DecisionSink`] before the review is answered. `vouch admission serve --decision-log FILE`
//! implements it with vouch-policy's decision records, one durable JSON line per decision, which
//! `vouch audit decisions` reports on. A failed write denies the review (fail closed) and is
//! counted in `vouch_admission_decision_log_failures_total`.

use crate::decider::{BoxError, Decision, DecisionContext};

/// One image's decision in one review.
#[derive(Clone, Debug)]
pub struct LoggedDecision {
    /// The AdmissionReview request uid.
    pub uid: String,
    /// The admitted object (namespace, kind, name) and the decision time.
    pub context: DecisionContext,
    /// The image by digest when known, else as written.
    pub image: String,
    /// The decision.
    pub decision: Decision,
}

/// Where the webhook records its decisions.
pub trait DecisionSink: Send + Sync + 'static {
    /// Record the decisions of one review durably (called on a blocking thread; the review is
    /// answered once this returns). An error denies the review (fail closed), with the error's
    /// message (which should name the file and the I/O error) in the denial.
    fn record(&self, decisions: &[LoggedDecision]) -> Result<(), BoxError>;
}
