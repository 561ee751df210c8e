//! `POST /flatten` between the HTTP thread and the main loop. The main loop
//! owns the book and the ledger, so the HTTP thread only hands it a request
//! and waits for the answer; the loop looks for requests on every turn
//! (at least every [`IDLE_WAIT`](crate::roles::rings::IDLE_WAIT)).
//!
//! A request carries a deadline: one the loop did not reach in time (it may
//! still be waiting for the signal ring) is answered 503 by the HTTP side and
//! dropped by the loop, never carried out late. The loop carries a request
//! out with [`carry_out`](super::flatten::carry_out).

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use serde::Serialize;

use aegis_contract::api::{FlattenRefusal, FlattenReply};
use aegis_runtime::JsonReply;

use aegis_contract::api::FLATTEN_WAIT;

/// One `POST /flatten` waiting for the main loop.
pub struct Request {
    deadline: Instant,
    answer: Sender<JsonReply>,
}

/// The HTTP side: sends requests to the loop.
pub struct Desk {
    requests: Sender<Request>,
}

/// The loop side: takes the requests.
pub struct Inbox {
    requests: Receiver<Request>,
}

/// A connected desk and inbox.
pub fn channel() -> (Desk, Inbox) {
    let (requests, inbox) = mpsc::channel();
    (Desk { requests }, Inbox { requests: inbox })
}

/// A JSON reply with `code` and `body`.
pub fn reply(code: u16, body: &impl Serialize) -> JsonReply {
    let body = serde_json::to_value(body)
        .unwrap_or_else(|e| serde_json::json!({"reason": format!("unserializable reply: {e}")}));
    JsonReply { code, body }
}

/// A refusal with `code` and `reason`.
pub fn refuse(code: u16, reason: impl Into<String>) -> JsonReply {
    reply(
        code,
        &FlattenRefusal {
            reason: reason.into(),
        },
    )
}

/// A success.
pub fn done(reply_body: &FlattenReply) -> JsonReply {
    reply(200, reply_body)
}

impl Desk {
    /// Asks the loop to flatten and waits up to [`FLATTEN_WAIT`] for its answer.
    pub fn ask(&self) -> JsonReply {
        let (answer, answered) = mpsc::channel();
        let request = Request {
            deadline: Instant::now() + FLATTEN_WAIT,
            answer,
        };
        if self.requests.send(request).is_err() {
            return refuse(503, "the orchestrator's main loop has stopped");
        }
        match answered.recv_timeout(FLATTEN_WAIT) {
            Ok(reply) => reply,
            Err(_) => refuse(
                503,
                format!(
                    "the orchestrator's main loop did not answer within {FLATTEN_WAIT:?} \
                     (it may still be waiting for the signal ring)"
                ),
            ),
        }
    }
}

impl Inbox {
    /// Answers every waiting request whose asker still waits with what
    /// `flatten` returns; stops at the first error of `flatten` (after
    /// answering it with `on_error`'s reply) and returns that error.
    pub fn serve<E>(
        &self,
        mut flatten: impl FnMut() -> Result<JsonReply, E>,
        on_error: impl Fn(&E) -> JsonReply,
    ) -> Result<(), E> {
        for request in self.requests.try_iter() {
            if Instant::now() >= request.deadline {
                continue;
            }
            match flatten() {
                Ok(reply) => {
                    let _ = request.answer.send(reply);
                }
                Err(e) => {
                    let _ = request.answer.send(on_error(&e));
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}
