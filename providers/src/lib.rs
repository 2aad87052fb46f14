//! LLM provider wire formats. Each adapter turns an OpenAI Chat Completions request (already checked
//! by the policies) into one provider's HTTP request, and that provider's answer back into an
//! OpenAI `chat.completion` with `usage`. What a provider cannot express is refused with a clear
//! error rather than dropped. No server, no database and no configuration of the services here.

mod answer;
mod anthropic;
mod azure;
mod bedrock;
pub mod breaker;
mod chat;
mod error;
mod gemini;
mod kind;
mod ollama;
mod openai;
mod outgoing;
pub mod route;
pub mod sse;
mod translate;

pub use error::{ProviderError, TranslateError};
pub use kind::{ProviderKind, UnknownKind};
pub use translate::{
    build_request, parse_answer, Completion, Credentials, OutgoingRequest, Target, Usage,
};
